//! Retention: the sweeper removes conversations idle longer than the
//! tenant's retention period, and only those.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Harness, OPERATOR};

const DAY_MS: u64 = 86_400_000;

#[tokio::test]
async fn purge_removes_only_expired_conversations_per_tenant_setting() {
    let h = Harness::new().await;
    let short = h.tenant("short").await;
    let long = h.tenant("long").await;
    let r = h
        .call(
            Method::PATCH,
            "/admin/v1/tenants/short/settings",
            Some(OPERATOR),
            Some(json!({"retention_days": 7})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let s_conv = h.conversation(&short).await;
    let l_conv = h.conversation(&long).await;
    h.say(&short, &s_conv, "old news", Some("x")).await;
    h.say(&long, &l_conv, "old news", None).await;
    let storage = h.app.as_ref().unwrap().storage().clone();
    let now = kefu_regional::store::now_ms();

    // Six days on: nothing is due.
    assert_eq!(
        storage.purge_expired(365, now + 6 * DAY_MS).await.unwrap(),
        (0, 0)
    );
    // Eight days on: "short" (7 days) is purged; "long" (service default 365) stays.
    assert_eq!(
        storage.purge_expired(365, now + 8 * DAY_MS).await.unwrap(),
        (1, 1)
    );
    let gone = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{s_conv}"),
            Some(&short),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let kept = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{l_conv}"),
            Some(&long),
            None,
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK);
    // The purged conversation's idempotency rows went with it: the id is free again.
    let fresh = h.conversation(&short).await;
    assert_eq!(
        h.say(&short, &fresh, "new", Some("x")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_purge_larger_than_one_batch_removes_all_and_audits_each_batch() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let n = kefu_regional::store::PURGE_BATCH + 44;
    for i in 0..n {
        let c = h.conversation(&key).await;
        h.say(&key, &c, &format!("message {i}"), None).await;
    }
    let storage = h.app.as_ref().unwrap().storage().clone();
    let later = kefu_regional::store::now_ms() + 366 * DAY_MS;
    assert_eq!(
        storage.purge_expired(365, later).await.unwrap(),
        (n as u64, n as u64)
    );
    let r = h
        .call(Method::GET, "/v1/conversations", Some(&key), None)
        .await;
    assert_eq!(r.body["conversations"], json!([]), "{:?}", r.body);
    let audit = h
        .call(Method::GET, "/v1/audit/entries?limit=100", Some(&key), None)
        .await;
    let purges: Vec<String> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "retention.purge")
        .map(|e| e["object"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        purges,
        [
            format!(
                "{} conversations, {0} messages older than 365 days",
                kefu_regional::store::PURGE_BATCH
            ),
            "44 conversations, 44 messages older than 365 days".to_owned()
        ]
    );
}
