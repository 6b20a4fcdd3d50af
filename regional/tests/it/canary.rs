//! No plaintext at rest or in logs: canary strings written through the API
//! appear in no file under the data dir and in no log line.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Harness, OPERATOR, captured_logs};

const ASCII: &str = "CANARYzq7ASCIIplaintext";
const CHINESE: &str = "金丝雀测试明文九七三";
const VISITOR: &str = "visitorCANARYvq81";
const CLIENT_ID: &str = "clientidCANARYk5";
const SECRET: &str = "identitysecretCANARYw3x9";

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[tokio::test]
async fn canaries_never_reach_disk_or_logs() {
    let mut h = Harness::new().await;
    let key = h.tenant("acme").await;
    h.call(
        Method::PATCH,
        "/admin/v1/tenants/acme/settings",
        Some(OPERATOR),
        Some(json!({"identity_secret": SECRET})),
    )
    .await;
    let r = h
        .call(
            Method::POST,
            "/v1/conversations",
            Some(&key),
            Some(json!({"visitor_id": VISITOR})),
        )
        .await;
    let conv = r.body["id"].as_str().unwrap().to_owned();
    for (i, text) in [ASCII, CHINESE, &format!("{ASCII} {CHINESE}")]
        .iter()
        .enumerate()
    {
        let body = json!({"role": "visitor", "text": text, "client_msg_id": format!("{CLIENT_ID}{i}"),
            "source": "llm", "citations": [{"id": format!("kb-{ASCII}"), "title": format!("{CHINESE} {ASCII}"), "url": format!("https://kb.example/{ASCII}"), "snippet": CHINESE}]});
        let r = h
            .call(
                Method::POST,
                &format!("/v1/conversations/{conv}/messages"),
                Some(&key),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    // Read it all back (so the read paths log too) and rotate the data key.
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    assert!(
        t.body.to_string().contains(CHINESE),
        "the canary must round-trip through the API"
    );
    h.call(
        Method::POST,
        "/admin/v1/tenants/acme/data-key",
        Some(OPERATOR),
        None,
    )
    .await;
    h.say(&key, &conv, CHINESE, None).await;
    h.call(
        Method::GET,
        &format!("/v1/conversations/{conv}/messages?since=0"),
        Some(&key),
        None,
    )
    .await;
    h.restart().await;
    h.call(Method::GET, "/v1/conversations", Some(&key), None)
        .await;
    h.stop().await;

    // Positive control: the tenant's display name is stored in clear, so a
    // grep that cannot find it is not reading the data.
    let db = std::fs::read(h.data_dir().join("kefu.redb")).unwrap();
    assert!(
        db.windows(11).any(|w| w == b"Tenant acme"),
        "the grep does not see stored bytes"
    );

    let needles = [ASCII, CHINESE, VISITOR, CLIENT_ID, SECRET];
    let files = files_under(&h.data_dir());
    assert!(files.iter().any(|f| f.ends_with("kefu.redb")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} found in {}",
                f.display()
            );
        }
    }
    let logs = captured_logs().lock().unwrap().clone();
    assert!(!logs.is_empty(), "no logs were captured");
    for n in needles.iter().chain([&key.as_str()]) {
        assert!(
            !logs.windows(n.len()).any(|w| w == n.as_bytes()),
            "{n} found in the logs"
        );
    }
}
