//! The audit log as the service writes it: every sensitive action leaves an
//! entry in the same transaction, the chain verifies, tampering is reported,
//! and attempts to change the log are themselves recorded.

use axum::http::{Method, StatusCode};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::json;

use crate::common::{Harness, OPERATOR};
use kefu_regional::audit::{self, Outcome};

fn actions(h: &Harness, tenant: &str) -> Vec<(String, String, Outcome)> {
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    audit::entries(&txn, tenant, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.action, e.entry.actor, e.entry.outcome))
        .collect()
}

fn has(list: &[(String, String, Outcome)], action: &str, actor: &str) -> bool {
    list.iter().any(|(a, who, _)| a == action && who == actor)
}

#[tokio::test]
async fn sensitive_actions_are_audited_in_their_tenants_chain() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    h.say(&key, &conv, "hello", None).await;
    h.call(
        Method::GET,
        &format!("/v1/conversations/{conv}"),
        Some(&key),
        None,
    )
    .await;
    h.call(
        Method::PUT,
        &format!("/v1/conversations/{conv}/state"),
        Some(&key),
        Some(json!({"state": "queued_for_human"})),
    )
    .await;
    h.call(
        Method::PUT,
        &format!("/v1/conversations/{conv}/state"),
        Some(&key),
        Some(json!({"state": "closed"})),
    )
    .await;
    h.call(
        Method::POST,
        "/admin/v1/tenants/acme/data-key",
        Some(OPERATOR),
        None,
    )
    .await;
    h.call(
        Method::POST,
        "/admin/v1/tenants/acme/api-key",
        Some(OPERATOR),
        None,
    )
    .await;
    h.call(
        Method::PATCH,
        "/admin/v1/tenants/acme/settings",
        Some(OPERATOR),
        Some(json!({"retention_days": 3})),
    )
    .await;
    let storage = h.app.as_ref().unwrap().storage().clone();
    storage
        .purge_expired(365, kefu_regional::store::now_ms() + 4 * 86_400_000)
        .await
        .unwrap();

    let log = actions(&h, "acme");
    let tenant_actor = "tenant:acme";
    for (action, actor) in [
        ("tenant.create", "operator"),
        ("conversation.read", tenant_actor),
        ("conversation.handoff", tenant_actor),
        ("conversation.close", tenant_actor),
        ("tenant.rotate_data_key", "operator"),
        ("tenant.rotate_api_key", "operator"),
        ("tenant.update_settings", "operator"),
        ("retention.purge", "system"),
    ] {
        assert!(
            has(&log, action, actor),
            "no {action} by {actor} in {log:?}"
        );
    }
    // Appends and polling are not audited one by one; the chain stays small.
    assert!(!log.iter().any(|(a, _, _)| a.starts_with("message")));

    h.call(
        Method::DELETE,
        "/admin/v1/tenants/acme",
        Some(OPERATOR),
        None,
    )
    .await;
    assert!(
        has(&actions(&h, "acme"), "tenant.delete", "operator"),
        "the deletion is recorded in the tenant's kept chain"
    );
}

#[tokio::test]
async fn failed_authentication_is_audited_with_an_unknown_actor() {
    let h = Harness::new().await;
    h.tenant("acme").await;
    h.call(
        Method::GET,
        "/v1/conversations",
        Some("kefu_sk_wrong"),
        None,
    )
    .await;
    h.call(
        Method::GET,
        "/admin/v1/tenants",
        Some("not-the-operator-token"),
        None,
    )
    .await;
    let log = actions(&h, "_service");
    assert!(
        log.iter().any(|(a, who, o)| a == "tenant.authenticate"
            && who == "unknown"
            && *o == Outcome::Denied),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|(a, _, o)| a == "operator.authenticate" && *o == Outcome::Denied),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_refused_action_leaves_no_entry() {
    let h = Harness::new().await;
    h.tenant("acme").await;
    let again = h
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(OPERATOR),
            Some(json!({"id": "acme", "name": "Again"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let creates = actions(&h, "acme")
        .iter()
        .filter(|(a, _, _)| a == "tenant.create")
        .count();
    assert_eq!(creates, 1);
}

#[tokio::test]
async fn verify_reports_ok_then_the_first_tampered_entry() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    for _ in 0..3 {
        h.call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    }
    let r = h
        .call(Method::GET, "/v1/audit/verify", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["entries"].as_u64()),
        (Some(true), Some(4)),
        "{:?}",
        r.body
    );
    let cp = h
        .call(Method::GET, "/v1/audit/checkpoint", Some(&key), None)
        .await;
    assert_eq!(cp.body["count"], 4);
    assert_eq!(cp.body["head_hash"], r.body["head_hash"]);

    // Flip one byte of entry 2 directly in the database file's table.
    const ENTRIES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("audit_entries");
    let store = h.app.as_ref().unwrap().storage().store().clone();
    store
        .write_now(|ctx| {
            let mut t = ctx.txn.open_table(ENTRIES)?;
            let mut v = t.get(("acme", 2))?.unwrap().value().to_vec();
            let last = v.len() - 1;
            v[last] ^= 1;
            t.insert(("acme", 2), v.as_slice())?;
            Ok(())
        })
        .unwrap();
    let r = h
        .call(Method::GET, "/v1/audit/verify", Some(&key), None)
        .await;
    assert_eq!(r.body["ok"], false, "{:?}", r.body);
    assert_eq!(r.body["first_bad"], 2, "{:?}", r.body);
    // Another tenant's chain is unaffected.
    let other = h.tenant("bravo").await;
    assert_eq!(
        h.call(Method::GET, "/v1/audit/verify", Some(&other), None)
            .await
            .body["ok"],
        true
    );
}

#[tokio::test]
async fn attempts_to_change_the_log_are_refused_and_recorded() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    for method in [Method::DELETE, Method::PUT, Method::POST, Method::PATCH] {
        let r = h
            .call(
                method.clone(),
                "/v1/audit/verify",
                Some(&key),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let attempts = actions(&h, "acme")
        .iter()
        .filter(|(a, _, o)| a == "audit.tamper_attempt" && *o == Outcome::Denied)
        .count();
    assert_eq!(attempts, 4);
}

#[tokio::test]
async fn shutdown_writes_a_checkpoint_that_matches_the_chain() {
    let mut h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    h.call(
        Method::GET,
        &format!("/v1/conversations/{conv}"),
        Some(&key),
        None,
    )
    .await;
    h.stop().await;
    let file = audit::CheckpointFile::open(h.data_dir().join("audit-checkpoints.jsonl")).unwrap();
    let cp = file
        .latest("acme")
        .unwrap()
        .expect("no checkpoint for acme");
    assert_eq!(cp.count, 2);
    h.restart().await;
    let r = h
        .call(Method::GET, "/v1/audit/verify", Some(&key), None)
        .await;
    assert_eq!(r.body["ok"], true);
    assert_eq!(r.body["checkpoint"]["count"], 2, "{:?}", r.body);
}

#[tokio::test]
async fn a_tenant_reads_its_own_audit_chain_page_by_page_and_only_its_own() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let other = h.tenant("bravo").await;
    let conv = h.conversation(&key).await;
    h.say(&key, &conv, "secret order A123", None).await;
    for _ in 0..3 {
        h.call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    }
    // Bravo's activity stays in bravo's chain.
    let theirs = h.conversation(&other).await;
    h.call(
        Method::GET,
        &format!("/v1/conversations/{theirs}"),
        Some(&other),
        None,
    )
    .await;

    let all = h
        .call(
            Method::GET,
            "/v1/audit/entries?limit=1000",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let entries = all.body["entries"].as_array().unwrap().clone();
    assert_eq!(all.body["next_from"], serde_json::Value::Null);
    let indexes: Vec<u64> = entries
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..entries.len() as u64).collect::<Vec<_>>());
    let reads = entries
        .iter()
        .filter(|e| e["action"] == "conversation.read" && e["object"] == conv.as_str())
        .count();
    assert_eq!(reads, 3, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["outcome"] == "ok" && e["hash"].as_str().unwrap().len() == 64)
    );
    let text = all.body.to_string();
    assert!(
        !text.contains(&theirs),
        "bravo's conversation in acme's chain"
    );
    assert!(
        !text.contains("secret order"),
        "message text in the audit chain"
    );
    // The last entry's hash is the chain's head, as the checkpoint says.
    let cp = h
        .call(Method::GET, "/v1/audit/checkpoint", Some(&key), None)
        .await;
    assert_eq!(cp.body["count"], entries.len() as u64);
    assert_eq!(cp.body["head_hash"], entries.last().unwrap()["hash"]);

    // Page by page, the same entries.
    let mut paged = Vec::new();
    let mut from = Some(0u64);
    while let Some(f) = from {
        let p = h
            .call(
                Method::GET,
                &format!("/v1/audit/entries?from={f}&limit=2"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(p.status, StatusCode::OK);
        paged.extend(p.body["entries"].as_array().unwrap().iter().cloned());
        from = p.body["next_from"].as_u64();
    }
    assert_eq!(paged, entries);
    // Bad paging is a clear 400; writing to the chain is refused (and audited).
    for q in ["limit=0", "limit=1001", "from=-1", "page=2"] {
        let r = h
            .call(
                Method::GET,
                &format!("/v1/audit/entries?{q}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "bad_request", "{q}");
    }
    let del = h
        .call(Method::DELETE, "/v1/audit/entries", Some(&key), None)
        .await;
    assert_eq!(del.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(has(
        &actions(&h, "acme"),
        "audit.tamper_attempt",
        "tenant:acme"
    ));
}
