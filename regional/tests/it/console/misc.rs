//! Canned replies, the console page's CSP, tenant keywords, model summaries.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::handoff::say;
use crate::inproc::{harness, widget_key};

#[tokio::test]
async fn canned_replies_are_tenant_managed_and_searchable_in_the_console() {
    let (h, _public) = harness().await;
    let key = h.tenant("acme").await;
    agent(&h, &key, "alice", "Alice", json!({})).await;
    for (id, title, text) in [
        ("greet", "Greeting", "您好，很高兴为您服务！"),
        (
            "refund",
            "Refund timeline",
            "Refunds reach your card in 3-5 working days.",
        ),
    ] {
        let r = h
            .call(
                Method::POST,
                "/v1/canned-replies",
                Some(&key),
                Some(json!({"id": id, "title": title, "text": text})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let bad = h
        .call(
            Method::POST,
            "/v1/canned-replies",
            Some(&key),
            Some(json!({"id": "x", "title": "", "text": "t"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let alice = login(&h, "acme", "alice").await;
    let found = as_agent(
        &h,
        &alice,
        Method::GET,
        "/console/v1/canned-replies?q=REFUND",
        None,
    )
    .await;
    let ids: Vec<&str> = found.body["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["refund"]);
    let zh = as_agent(
        &h,
        &alice,
        Method::GET,
        "/console/v1/canned-replies?q=%E6%9C%8D%E5%8A%A1",
        None,
    )
    .await;
    assert_eq!(zh.body["replies"][0]["id"], "greet");
    assert_eq!(
        h.call(Method::DELETE, "/v1/canned-replies/greet", Some(&key), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let all = as_agent(&h, &alice, Method::GET, "/console/v1/canned-replies", None).await;
    assert_eq!(all.body["replies"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_console_page_is_served_with_a_strict_content_security_policy() {
    let h = Harness::new().await;
    let r = h.call(Method::GET, "/console", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let js = h.call(Method::GET, "/console/app.js", None, None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        !js.body.as_str().unwrap().contains("innerHTML"),
        "the console must not render HTML"
    );
}

#[tokio::test]
async fn a_tenants_own_keywords_send_a_visitor_to_a_person_and_other_tenants_are_unaffected() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let other = h.tenant("other").await;
    let wk = widget_key(&h).await;
    put_settings(
        &h,
        &key,
        json!({"routing": {"tenant_keywords": ["会员卡", "gift card"]}}),
    )
    .await;
    let got = h
        .call(Method::GET, "/v1/handoff/settings", Some(&key), None)
        .await;
    assert_eq!(got.body["routing"]["tenant_keywords"][1], "gift card");
    assert_eq!(
        h.call(Method::GET, "/v1/handoff/settings", Some(&other), None)
            .await
            .body["routing"]["tenant_keywords"],
        json!([])
    );
    // Invalid rules are refused with the reason.
    let bad = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"routing": {"offer_threshold": 90, "handoff_threshold": 50}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("offer_threshold"),
        "{:?}",
        bad.body
    );

    let r = say(&public, &wk, None, "我的会员卡积分好像不对", "k1").await;
    assert_eq!(r["handoff"], true, "{r:?}");
    let conv = r["conversation_id"].as_str().unwrap();
    h.call(
        Method::POST,
        "/v1/agents",
        Some(&key),
        Some(json!({"id": "alice", "name": "Alice", "password": PASSWORD})),
    )
    .await;
    let alice = login(&h, "acme", "alice").await;
    let q = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(q.body["waiting"][0]["conversation_id"], conv);
    assert_eq!(
        q.body["waiting"][0]["handoff"]["reasons"],
        json!(["tenant_keyword"])
    );
    // An ordinary question still gets the AI.
    let n = say(&public, &wk, None, "what are your opening hours", "k2").await;
    assert_eq!(n["handoff"], false, "{n:?}");
}

#[tokio::test]
async fn with_a_model_configured_the_agent_reads_the_models_summary() {
    let summary =
        "The visitor wants to know if water damage is covered; the assistant said it is not.";
    let (fake, h, public, key) = crate::llm::system_with(
        "fake",
        kefu_fake_openai::Script {
            reply: Some(summary.into()),
            token_gap: std::time::Duration::from_millis(1),
            ..kefu_fake_openai::Script::default()
        },
        "",
    )
    .await;
    let wk = widget_key(&h).await;
    let a = say(&public, &wk, None, "转人工", "s1").await;
    let conv = a["conversation_id"].as_str().unwrap().to_owned();
    agent(&h, &key, "alice", "Alice", json!({})).await;
    let alice = login(&h, "acme", "alice").await;
    let before = fake.requests();
    let open = on_conv(&h, &alice, &conv, "").await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(
        (
            open.body["summary"].as_str(),
            open.body["summary_source"].as_str()
        ),
        (Some(summary), Some("model")),
        "{:?}",
        open.body
    );
    assert_eq!(fake.requests(), before + 1);
    // Live updates (since > 0) do not ask the model again.
    let more = as_agent(
        &h,
        &alice,
        Method::GET,
        &format!("/console/v1/conversations/{conv}?since=1"),
        None,
    )
    .await;
    assert_eq!(more.body["summary_source"], "extractive");
    assert_eq!(fake.requests(), before + 1);
}

#[tokio::test]
async fn behind_https_the_console_cookie_is_secure() {
    let (h, _) = harness().await;
    let key = h.tenant("acme").await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    let login = |proto: Option<&'static str>| {
        let mut b = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/console/v1/login")
            .header("content-type", "application/json");
        if let Some(p) = proto {
            b = b.header("x-forwarded-proto", p);
        }
        b.body(axum::body::Body::from(
            json!({"tenant": "acme", "agent_id": "alice", "password": PASSWORD}).to_string(),
        ))
        .unwrap()
    };
    let tls = h.send(login(Some("https"))).await;
    assert_eq!(tls.status, StatusCode::OK);
    let set = tls.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    // Plain http (the demo): no Secure, or the browser would drop it.
    let plain = h.send(login(None)).await;
    let set = plain.headers["set-cookie"].to_str().unwrap();
    assert!(!set.contains("Secure"), "{set}");
}
