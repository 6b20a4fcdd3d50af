//! Online backup: `POST /admin/v1/backups` copies the data dir while the
//! service runs, and a service started on the copy has everything that was
//! there at that moment (and nothing written after).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Harness, OPERATOR};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_everything_up_to_it() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let faq = json!([{"id": "refund", "question": "How do I get a refund?",
        "answer": "Open My Orders, choose the order and tap Request refund."}]);
    h.publish_kb(&key, &[("/v1/kb/faqs", faq)]).await;
    let conv = h.conversation(&key).await;
    h.say(&key, &conv, "我的订单什么时候发货？", Some("m1"))
        .await;
    h.say(&key, &conv, "when will it ship?", Some("m2")).await;

    let r = h
        .call(Method::POST, "/admin/v1/backups", Some(OPERATOR), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let path = std::path::PathBuf::from(r.body["path"].as_str().unwrap());
    assert!(path.starts_with(h.data_dir().join("backups")), "{path:?}");
    assert_eq!(r.body["kb_files"], 1, "{:?}", r.body);
    assert!(r.body["rows"].as_u64().unwrap() > 10, "{:?}", r.body);
    // Nothing sealed is readable in it as text.
    let db = std::fs::read(path.join("kefu.redb")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("when will it ship"));
    // Written after the backup: not in it.
    h.say(&key, &conv, "after the backup", Some("m3")).await;

    // A service started on the copy, with the same master key.
    let mut restored = Harness::new().await;
    restored.stop().await;
    std::fs::remove_dir_all(restored.data_dir()).unwrap();
    copy_dir(&path, &restored.data_dir());
    restored.restart().await;
    assert_eq!(
        restored.texts(&key, &conv).await,
        ["我的订单什么时候发货？", "when will it ship?"]
    );
    let v = restored
        .call(Method::GET, "/v1/audit/verify", Some(&key), None)
        .await;
    assert_eq!(v.body["ok"], true, "{:?}", v.body);
    let s = restored
        .call(Method::GET, "/v1/kb/search?q=refund", Some(&key), None)
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    assert_eq!(s.body["hits"][0]["entry_id"], "refund", "{:?}", s.body);
    // The same message id again is recognised there: the idempotency rows
    // came along.
    let again = restored
        .say(&key, &conv, "when will it ship?", Some("m2"))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(restored.texts(&key, &conv).await.len(), 2);
}

#[tokio::test]
async fn backups_need_the_operator() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    for auth in [None, Some(key.as_str()), Some("not-the-operator-token")] {
        let r = h.call(Method::POST, "/admin/v1/backups", auth, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}: {:?}", r.body);
        assert!(r.body["error"]["code"].is_string());
    }
    assert!(!h.data_dir().join("backups").exists());
}
