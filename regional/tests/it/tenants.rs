//! Tenants and authentication: creation, keys, rotation, settings, deletion.

use axum::http::{Method, StatusCode};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde_json::json;

use crate::common::{Harness, OPERATOR};
use kefu_regional::store::tables;

#[tokio::test]
async fn create_returns_keys_once_and_stores_only_a_hash() {
    let h = Harness::new().await;
    let r = h
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(OPERATOR),
            Some(json!({"id": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("kefu_sk_") && key.len() == 8 + 64);
    assert!(
        r.body["widget_key"]
            .as_str()
            .unwrap()
            .starts_with("kefu_pk_")
    );
    // The key works, and is not in the listing or anywhere on disk.
    assert_eq!(
        h.call(Method::GET, "/v1/conversations", Some(&key), None)
            .await
            .status,
        StatusCode::OK
    );
    let list = h
        .call(Method::GET, "/admin/v1/tenants", Some(OPERATOR), None)
        .await;
    assert_eq!(list.body["tenants"][0]["id"], "acme");
    assert!(!list.body.to_string().contains(&key[8..]));
    let db = std::fs::read(h.data_dir().join("kefu.redb")).unwrap();
    assert!(
        !db.windows(32).any(|w| w == &key.as_bytes()[8..40]),
        "the API key is stored in clear"
    );
    // A second create with the same id conflicts.
    let again = h
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(OPERATOR),
            Some(json!({"id": "acme", "name": "Other"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn invalid_tenant_ids_are_refused() {
    let h = Harness::new().await;
    for id in [
        "",
        "_service",
        ".hidden",
        "a/b",
        "a b",
        "租户",
        &"x".repeat(65),
    ] {
        let r = h
            .call(
                Method::POST,
                "/admin/v1/tenants",
                Some(OPERATOR),
                Some(json!({"id": id, "name": "n"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "id {id:?}: {:?}", r.body);
    }
}

#[tokio::test]
async fn operator_routes_need_the_operator_token() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    for auth in [None, Some("wrong-token-wrong-token"), Some(key.as_str())] {
        let r = h.call(Method::GET, "/admin/v1/tenants", auth, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.body["error"]["code"], "unauthorized");
    }
    // Without a configured token the operator API is off: 403.
    let off = Harness::with_config("", &[("KEFU_OPERATOR_TOKEN", "")]).await;
    let r = off
        .call(Method::GET, "/admin/v1/tenants", Some(OPERATOR), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tenant_routes_need_a_valid_api_key() {
    let h = Harness::new().await;
    h.tenant("acme").await;
    for auth in [
        None,
        Some("kefu_sk_0000"),
        Some(OPERATOR),
        Some(&*format!("kefu_sk_{}", "0".repeat(64))),
    ] {
        let r = h.call(Method::GET, "/v1/conversations", auth, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
}

#[tokio::test]
async fn rotating_the_api_key_retires_the_old_one() {
    let h = Harness::new().await;
    let old = h.tenant("acme").await;
    let r = h
        .call(
            Method::POST,
            "/admin/v1/tenants/acme/api-key",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let new = r.body["api_key"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        h.call(Method::GET, "/v1/conversations", Some(&old), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call(Method::GET, "/v1/conversations", Some(new), None)
            .await
            .status,
        StatusCode::OK
    );
    let missing = h
        .call(
            Method::POST,
            "/admin/v1/tenants/nobody/api-key",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn data_key_rotation_keeps_old_records_readable_and_seals_new_ones_with_the_new_version() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    assert_eq!(
        h.say(&key, &conv, "before rotation", None).await.status,
        StatusCode::CREATED
    );
    let r = h
        .call(
            Method::POST,
            "/admin/v1/tenants/acme/data-key",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(r.body["data_key_version"], 2);
    assert_eq!(
        h.say(&key, &conv, "after rotation", None).await.status,
        StatusCode::CREATED
    );
    let texts = h.texts(&key, &conv).await;
    assert_eq!(texts, ["before rotation", "after rotation"]);
    // On disk: message 1 under version 1, message 2 under version 2.
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    let msgs = txn.open_table(tables::MESSAGES).unwrap();
    for (seq, want) in [(1u64, 1u32), (2, 2)] {
        let sealed = msgs.get(("acme", conv.as_str(), seq)).unwrap().unwrap();
        assert_eq!(
            kefu_regional::crypto::sealed_key_version(sealed.value()).unwrap(),
            want
        );
    }
}

#[tokio::test]
async fn settings_round_trip_and_validation() {
    let h = Harness::new().await;
    h.tenant("acme").await;
    let r = h
        .call(
            Method::GET,
            "/admin/v1/tenants/acme/settings",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(
        r.body,
        json!({"allowed_origins": [], "require_signed_identity": false, "retention_days": null, "semantic_cache_allowed": true, "similar_answers": false})
    );
    let patch = json!({"allowed_origins": ["https://shop.example"], "retention_days": 30, "semantic_cache_allowed": false,
        "require_signed_identity": true, "identity_secret": "a-very-secret-identity-key"});
    let r = h
        .call(
            Method::PATCH,
            "/admin/v1/tenants/acme/settings",
            Some(OPERATOR),
            Some(patch),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["identity_secret_set"], true);
    assert!(
        !r.body.to_string().contains("a-very-secret"),
        "the identity secret is echoed"
    );
    let r = h
        .call(
            Method::GET,
            "/admin/v1/tenants/acme/settings",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(r.body["allowed_origins"][0], "https://shop.example");
    assert_eq!(r.body["retention_days"], 30);
    for bad in [
        json!({"allowed_origins": ["ftp://x"]}),
        json!({"retention_days": 0}),
        json!({"identity_secret": "short"}),
        json!({"colour": "red"}),
    ] {
        let r = h
            .call(
                Method::PATCH,
                "/admin/v1/tenants/acme/settings",
                Some(OPERATOR),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn deleting_a_tenant_shreds_its_keys_and_rows() {
    let h = Harness::new().await;
    let a = h.tenant("acme").await;
    let b = h.tenant("bravo").await;
    let ca = h.conversation(&a).await;
    let cb = h.conversation(&b).await;
    for i in 0..5 {
        h.say(&a, &ca, &format!("a{i}"), Some(&format!("m{i}")))
            .await;
        h.say(&b, &cb, &format!("b{i}"), None).await;
    }
    let r = h
        .call(
            Method::DELETE,
            "/admin/v1/tenants/acme",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"conversations": 1, "messages": 5, "keys_destroyed": 2})
    );
    assert_eq!(
        h.call(Method::GET, "/v1/conversations", Some(&a), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call(Method::GET, "/admin/v1/tenants/acme", Some(OPERATOR), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Nothing of acme is left in any table; bravo is untouched.
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    let keys = txn.open_table(tables::DATA_KEYS).unwrap();
    assert!(
        keys.iter()
            .unwrap()
            .all(|r| r.unwrap().0.value().0 != "acme")
    );
    let msgs = txn.open_table(tables::MESSAGES).unwrap();
    assert!(
        msgs.iter()
            .unwrap()
            .all(|r| r.unwrap().0.value().0 != "acme")
    );
    assert_eq!(msgs.len().unwrap(), 5);
    let idx = txn.open_table(tables::IDEMPOTENCY).unwrap();
    assert!(
        idx.iter()
            .unwrap()
            .all(|r| r.unwrap().0.value().0 != "acme")
    );
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{cb}"),
            Some(&b),
            None,
        )
        .await;
    assert_eq!(t.body["messages"].as_array().unwrap().len(), 5);
}

async fn create_again(h: &Harness) -> crate::common::Resp {
    h.call(
        Method::POST,
        "/admin/v1/tenants",
        Some(OPERATOR),
        Some(json!({"id": "acme", "name": "Acme again"})),
    )
    .await
}

#[tokio::test]
async fn a_deletion_cut_short_by_a_stop_finishes_after_the_next_start() {
    use kefu_regional::store::tenants;

    let mut h = Harness::new().await;
    let a = h.tenant("acme").await;
    let b = h.tenant("bravo").await;
    for i in 0..3 {
        let c = h.conversation(&a).await;
        h.say(&a, &c, &format!("a{i}"), None).await;
    }
    let cb = h.conversation(&b).await;
    h.say(&b, &cb, "b0", None).await;
    // Only the deletion's first step, as when the process stops right after
    // it: keys and record gone, rows still there.
    let store = h.app.as_ref().unwrap().storage().store().clone();
    tokio::task::spawn_blocking(move || store.write_now(|ctx| tenants::delete(ctx, "acme")))
        .await
        .unwrap()
        .unwrap();
    let again = create_again(&h).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("being deleted"),
        "{:?}",
        again.body
    );

    h.restart().await;
    let acme_rows = |h: &Harness| {
        let store = h.app.as_ref().unwrap().storage().store().clone();
        let txn = store.db().begin_read().unwrap();
        let msgs = txn.open_table(tables::MESSAGES).unwrap();
        let n = msgs
            .iter()
            .unwrap()
            .filter(|r| r.as_ref().unwrap().0.value().0 == "acme")
            .count();
        (n, tenants::deleting(&txn).unwrap().len())
    };
    crate::common::until("the deletion's resumption", || acme_rows(&h) == (0, 0)).await;
    let again = create_again(&h).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(h.texts(&b, &cb).await, ["b0"]);
}

#[tokio::test]
async fn a_tenant_larger_than_one_batch_is_deleted_whole() {
    let h = Harness::new().await;
    let a = h.tenant("acme").await;
    let n = kefu_regional::store::PURGE_BATCH + 10;
    for i in 0..n {
        let c = h.conversation(&a).await;
        h.say(&a, &c, &format!("a{i}"), None).await;
    }
    let r = h.delete_tenant("acme").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"conversations": n, "messages": n, "keys_destroyed": 2})
    );
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    assert_eq!(txn.open_table(tables::MESSAGES).unwrap().len().unwrap(), 0);
    assert_eq!(
        txn.open_table(tables::CONVERSATIONS)
            .unwrap()
            .len()
            .unwrap(),
        0
    );
}
