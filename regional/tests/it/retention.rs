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
