//! A person's rights over their conversations: a copy of all of them, and
//! erasure — deleting one conversation, or every conversation of one
//! visitor, removes the messages and the place in the handoff queue,
//! answers what was removed, stays inside the tenant, and is audited
//! without keeping the visitor's id.

use axum::http::{Method, StatusCode};
use redb::ReadableDatabase;
use serde_json::json;

use crate::common::Harness;
use crate::console::{agent, as_agent, login};
use kefu_regional::audit;

async fn conversation_of(h: &Harness, key: &str, visitor: &str, texts: &[&str]) -> String {
    let r = h
        .call(
            Method::POST,
            "/v1/conversations",
            Some(key),
            Some(json!({"visitor_id": visitor})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let conv = r.body["id"].as_str().unwrap().to_owned();
    for t in texts {
        assert_eq!(h.say(key, &conv, t, None).await.status, StatusCode::CREATED);
    }
    conv
}

async fn status_of(h: &Harness, key: &str, conv: &str) -> StatusCode {
    h.call(
        Method::GET,
        &format!("/v1/conversations/{conv}"),
        Some(key),
        None,
    )
    .await
    .status
}

fn audit_objects(h: &Harness, tenant: &str) -> Vec<(String, String)> {
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    audit::entries(&txn, tenant, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.action, e.entry.object))
        .collect()
}

#[tokio::test]
async fn a_conversation_is_deleted_with_its_place_in_the_queue_and_only_by_its_tenant() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let other = h.tenant("bravo").await;
    let keep = conversation_of(&h, &key, "v-keep", &["我想查订单"]).await;
    let gone = conversation_of(&h, &key, "v-gone", &["我的手机号是13812345678", "请转人工"]).await;
    // Waiting for a person: an agent sees it in the queue.
    let r = h
        .call(
            Method::PUT,
            &format!("/v1/conversations/{gone}/state"),
            Some(&key),
            Some(json!({"state": "queued_for_human"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        agent(&h, &key, "amy", "Amy", json!({})).await,
        StatusCode::CREATED
    );
    let amy = login(&h, "acme", "amy").await;
    let queue = as_agent(&h, &amy, Method::GET, "/console/v1/queue", None).await;
    assert!(queue.body.to_string().contains(&gone), "{:?}", queue.body);

    // Another tenant's key cannot delete it: it answers like a missing one.
    let path = format!("/v1/conversations/{gone}");
    let r = h.call(Method::DELETE, &path, Some(&other), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
    assert_eq!(status_of(&h, &key, &gone).await, StatusCode::OK);

    let r = h.call(Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"conversations": 1, "messages": 2}));
    assert_eq!(status_of(&h, &key, &gone).await, StatusCode::NOT_FOUND);
    let queue = as_agent(&h, &amy, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(!queue.body.to_string().contains(&gone), "{:?}", queue.body);
    let opened = as_agent(
        &h,
        &amy,
        Method::GET,
        &format!("/console/v1/conversations/{gone}"),
        None,
    )
    .await;
    assert_eq!(opened.status, StatusCode::NOT_FOUND);
    // Again: nothing left to delete.
    let r = h.call(Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The other conversation is untouched, and the chain still verifies.
    assert_eq!(status_of(&h, &key, &keep).await, StatusCode::OK);
    let v = h
        .call(Method::GET, "/v1/audit/verify", Some(&key), None)
        .await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    assert_eq!(v.body["ok"], true, "{:?}", v.body);
    assert!(
        audit_objects(&h, "acme")
            .iter()
            .any(|(a, o)| a == "conversation.delete" && o == &format!("conversation:{gone}")),
        "the deletion is audited"
    );
}

#[tokio::test]
async fn a_visitor_gets_a_copy_of_every_conversation_of_theirs_and_nothing_else() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let other = h.tenant("bravo").await;
    let a1 = conversation_of(
        &h,
        &key,
        "customer-42",
        &["退款什么时候到账", "订单号 A123"],
    )
    .await;
    let a2 = conversation_of(&h, &key, "customer-42", &["where is my parcel"]).await;
    conversation_of(&h, &key, "customer-7", &["someone else's question"]).await;
    conversation_of(&h, &other, "customer-42", &["another shop's customer"]).await;
    let path = "/v1/visitors/customer-42/conversations";
    let r = h.call(Method::GET, path, Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["visitor_id"], "customer-42");
    let convs = r.body["conversations"].as_array().unwrap();
    let mut got: Vec<(String, Vec<String>)> = convs
        .iter()
        .map(|c| {
            let texts = c["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["text"].as_str().unwrap().to_owned())
                .collect();
            (c["conversation"]["id"].as_str().unwrap().to_owned(), texts)
        })
        .collect();
    got.sort();
    let mut want = vec![
        (
            a1.clone(),
            vec!["退款什么时候到账".to_owned(), "订单号 A123".to_owned()],
        ),
        (a2.clone(), vec!["where is my parcel".to_owned()]),
    ];
    want.sort();
    assert_eq!(got, want);
    let log = audit_objects(&h, "acme");
    assert!(
        log.iter()
            .any(|(a, o)| a == "visitor.export" && o.starts_with("visitor:sm3:")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|(_, o)| o.contains("customer-42")),
        "{log:?}"
    );
    // After erasure there is nothing left to give.
    h.call(Method::DELETE, "/v1/visitors/customer-42", Some(&key), None)
        .await;
    let r = h.call(Method::GET, path, Some(&key), None).await;
    assert_eq!(
        r.body,
        json!({"visitor_id": "customer-42", "conversations": []})
    );
    // The audit ties the copy and the erasure to one person by digest; the
    // same id at another tenant is another digest.
    let digests = |tenant: &str, action: &str| -> Vec<String> {
        audit_objects(&h, tenant)
            .into_iter()
            .filter(|(a, _)| a == action)
            .map(|(_, o)| o)
            .collect()
    };
    let exported = digests("acme", "visitor.export");
    let erased = digests("acme", "visitor.erase");
    assert_eq!((exported.len(), erased.len()), (2, 1));
    assert!(
        exported.iter().all(|o| *o == erased[0]),
        "{exported:?} {erased:?}"
    );
    h.call(Method::GET, path, Some(&other), None).await;
    let theirs = digests("bravo", "visitor.export");
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0], erased[0]);
    // The digest is keyed by the tenant's index key: whoever holds it gets
    // the same digest from the id, and the id alone (any other key) does not.
    use kefu_regional::store::{erase::visitor_digest, keys, tables};
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    let key = keys::load(
        &txn.open_table(tables::DATA_KEYS).unwrap(),
        store.master().unwrap(),
        "acme",
        keys::INDEX_KEY_VERSION,
    )
    .unwrap();
    let with_key = format!("visitor:sm3:{}", visitor_digest(&key, "customer-42"));
    assert_eq!(erased[0], with_key);
    let other_key = kefu_regional::crypto::Key::from_bytes([9; 16]);
    let guessed = format!("visitor:sm3:{}", visitor_digest(&other_key, "customer-42"));
    assert_ne!(erased[0], guessed);
}

#[tokio::test]
async fn erasing_a_visitor_removes_every_conversation_of_theirs_and_nothing_else() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let other = h.tenant("bravo").await;
    let a1 = conversation_of(
        &h,
        &key,
        "customer-42",
        &["退款什么时候到账", "订单号 A123"],
    )
    .await;
    let a2 = conversation_of(&h, &key, "customer-42", &["where is my parcel"]).await;
    let b = conversation_of(&h, &key, "customer-7", &["hello"]).await;
    // The same visitor id at another tenant is another person.
    let o = conversation_of(&h, &other, "customer-42", &["你好"]).await;

    let r = h
        .call(Method::DELETE, "/v1/visitors/customer-42", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"conversations": 2, "messages": 3}));
    for c in [&a1, &a2] {
        assert_eq!(status_of(&h, &key, c).await, StatusCode::NOT_FOUND);
    }
    assert_eq!(status_of(&h, &key, &b).await, StatusCode::OK);
    assert_eq!(status_of(&h, &other, &o).await, StatusCode::OK);
    let list = h
        .call(Method::GET, "/v1/conversations", Some(&key), None)
        .await;
    assert_eq!(list.body["conversations"].as_array().unwrap().len(), 1);

    // Asked again: nothing left, and that is an answer, not an error.
    let r = h
        .call(Method::DELETE, "/v1/visitors/customer-42", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"conversations": 0, "messages": 0}));

    // Audited twice, never with the visitor's id.
    let log = audit_objects(&h, "acme");
    let erasures: Vec<&String> = log
        .iter()
        .filter(|(a, _)| a == "visitor.erase")
        .map(|(_, o)| o)
        .collect();
    assert_eq!(erasures.len(), 2, "{log:?}");
    assert!(
        erasures.iter().all(|o| o.starts_with("visitor:sm3:")),
        "{erasures:?}"
    );
    assert!(
        !log.iter().any(|(_, o)| o.contains("customer-42")),
        "the erased visitor's id is in the audit log: {log:?}"
    );

    // A visitor id that cannot exist is a clear 400.
    let long = "x".repeat(300);
    let r = h
        .call(
            Method::DELETE,
            &format!("/v1/visitors/{long}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "bad_request");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("visitor_id")
    );
}

#[tokio::test]
async fn after_erasure_the_visitor_who_writes_again_starts_afresh() {
    let (h, public) = crate::inproc::harness().await;
    let key = h.tenant("acme").await;
    let wk = crate::inproc::widget_key(&h).await;
    let a = crate::handoff::say(&public, &wk, None, "hello, my phone is 13812345678", "e1").await;
    let old = a["conversation_id"].as_str().unwrap().to_owned();
    crate::handoff::say(&public, &wk, Some(&old), "and my order is A123", "e2").await;
    let r = h
        .call(Method::DELETE, "/v1/visitors/visitor-1", Some(&key), None)
        .await;
    assert_eq!(
        r.body,
        json!({"conversations": 1, "messages": 4}),
        "{:?}",
        r.body
    );

    // A reload asks the edge for the conversation: it is gone there too
    // (the edge held a copy; it drops it rather than show it).
    for _ in 0..2 {
        let req = axum::http::Request::get(format!(
            "/v1/conversations/{old}/messages?widget_key={wk}&visitor_id=visitor-1"
        ))
        .body(axum::body::Body::empty())
        .unwrap();
        let replay = crate::inproc::public_call(&public, req).await;
        assert_eq!(replay.status, StatusCode::GONE, "{:?}", replay.body);
        assert_eq!(replay.body["error"]["code"], "conversation_erased");
        assert!(!replay.body.to_string().contains("13812345678"));
    }

    // The widget still names the old conversation: the visitor is answered
    // (not told "we received your message"), in a new conversation.
    let n = crate::handoff::say(&public, &wk, Some(&old), "are you there?", "e3").await;
    let new = n["conversation_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old, "{n:?}");
    assert_ne!(n["source"], "ack", "{n:?}");
    assert_eq!(n["seq"], 2, "{n:?}");
    assert_eq!(status_of(&h, &key, &old).await, StatusCode::NOT_FOUND);
    let texts = h.texts(&key, &new).await;
    assert_eq!(texts[0], "are you there?");
    assert!(
        !texts.iter().any(|t| t.contains("13812345678")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn an_edges_late_report_does_not_bring_an_erased_conversation_back() {
    use kefu_core::wire::{EdgeReport, Frame, ReportedTurn, paths};
    use kefu_core::{ConversationId, KbVersion, Source, TenantId, VisitorId};

    let h = crate::edge::harness().await;
    let key = h.tenant("acme").await;
    let conv = conversation_of(&h, &key, "v-late", &["first question"]).await;
    let turn = |cmid: &str, at_ms: u64| ReportedTurn {
        tenant: TenantId::new("acme").unwrap(),
        conversation: ConversationId::new(conv.clone()).unwrap(),
        visitor: VisitorId::new("v-late").unwrap(),
        client_msg_id: cmid.into(),
        question: "a cached question".into(),
        answer: "a cached answer".into(),
        source: Source::Cache,
        citations: vec![],
        kb_version: KbVersion(1),
        at_ms,
    };
    let report = |cmid: &str, n: u8, at_ms: u64| {
        let mut rep = EdgeReport::new();
        rep.turns.push(turn(cmid, at_ms));
        let body = rep.encode().unwrap();
        let h = &h;
        async move {
            let now = kefu_regional::store::now_ms();
            let edge_key = crate::edge::EDGE_KEY;
            crate::edge::signed(h, Method::POST, paths::REPORT, body, [n; 16], now, edge_key).await
        }
    };
    // Before erasure a report lands in the conversation.
    let (st, body) = report("late-1", 1, kefu_regional::store::now_ms()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["applied"],
        1
    );
    // A turn the edge answered before the erasure, still on its way.
    let answered = kefu_regional::store::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let path = format!("/v1/conversations/{conv}");
    assert_eq!(
        h.call(Method::DELETE, &path, Some(&key), None).await.status,
        StatusCode::OK
    );
    // After the erasure it is dropped, and the answer says so.
    let (st, body) = report("late-2", 2, answered).await;
    assert_eq!(st, StatusCode::OK);
    let out: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        out,
        json!({"applied": 0, "duplicates": 0, "unknown_tenant": 0, "erased": 1, "successor": 0})
    );
    assert_eq!(status_of(&h, &key, &conv).await, StatusCode::NOT_FOUND);
    // A tenant deleted and made again under the same id starts clean.
    assert_eq!(h.delete_tenant("acme").await.status, StatusCode::OK);
    h.tenant("acme").await;
    let (st, body) = report("late-3", 3, kefu_regional::store::now_ms()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["applied"],
        1
    );
}

#[tokio::test]
async fn a_cached_answer_given_in_an_erased_conversation_is_kept_not_dropped() {
    let (h, public) = crate::inproc::harness().await;
    let key = h.tenant("acme").await;
    let wk = crate::inproc::widget_key(&h).await;
    let faq = json!([{"id": "refund", "question": "How do I get a refund?",
        "answer": "Open My Orders, choose the order and tap Request refund."}]);
    h.publish_kb(&key, &[("/v1/kb/faqs", faq)]).await;
    let a = crate::handoff::say(&public, &wk, None, "How do I get a refund?", "c1").await;
    assert_eq!(a["source"], "faq", "{a:?}");
    let old = a["conversation_id"].as_str().unwrap().to_owned();
    let r = h
        .call(Method::DELETE, "/v1/visitors/visitor-1", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // No reload in between: the widget writes again in the old conversation
    // and the edge, which still holds its copy, answers from its cache
    // twice (and the widget retries the second message once).
    let mut said = Vec::new();
    for (text, id) in [
        ("how do i get a refund", "c2"),
        ("How do I get a refund", "c3"),
        ("How do I get a refund", "c3"),
    ] {
        let n = crate::handoff::say(&public, &wk, Some(&old), text, id).await;
        assert_eq!(n["source"], "cache", "{n:?}");
        said.push(n);
    }
    assert_eq!(status_of(&h, &key, &old).await, StatusCode::NOT_FOUND);
    // What the visitor saw after the erasure is kept, once, in one
    // conversation of theirs; nothing from before it is.
    let r = h
        .call(
            Method::GET,
            "/v1/visitors/visitor-1/conversations",
            Some(&key),
            None,
        )
        .await;
    let convs = r.body["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1, "{:?}", r.body);
    assert_ne!(convs[0]["conversation"]["id"], old.as_str());
    let texts: Vec<&str> = convs[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let answer = said[0]["answer"].as_str().unwrap();
    assert_eq!(
        texts,
        [
            "how do i get a refund",
            answer,
            "How do I get a refund",
            answer
        ]
    );
    // The tenant's deletion takes the successor link with it.
    assert_eq!(h.delete_tenant("acme").await.status, StatusCode::OK);
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    let links = txn
        .open_table(kefu_regional::store::erase::SUCCESSORS)
        .unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&links).unwrap(), 0);
    // And the visitor index (the successor was visitor-1's).
    let index = txn
        .open_table(kefu_regional::store::visitors::INDEX)
        .unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&index).unwrap(), 0);
}

/// What the visitor index lists for `visitor` at `tenant`, sorted.
fn indexed(h: &Harness, tenant: &str, visitor: &str) -> Vec<String> {
    use kefu_regional::store::visitors;
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let txn = store.db().begin_read().unwrap();
    let mut ids = visitors::lookup(&txn, store.master().unwrap(), tenant, visitor).unwrap();
    ids.sort();
    ids
}

fn exported(body: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_visitor_index_follows_conversations_and_erasure_reads_it() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let mut mine = vec![
        conversation_of(&h, &key, "customer-42", &["one"]).await,
        conversation_of(&h, &key, "customer-42", &["two"]).await,
    ];
    mine.sort();
    let theirs = conversation_of(&h, &key, "customer-7", &["other"]).await;
    assert_eq!(indexed(&h, "acme", "customer-42"), mine);
    assert_eq!(
        indexed(&h, "acme", "customer-7"),
        std::slice::from_ref(&theirs)
    );
    // The index is what is read: a conversation missing from it is not
    // found (a scan would find it).
    let store = h.app.as_ref().unwrap().storage().store().clone();
    let gone = mine[0].clone();
    tokio::task::spawn_blocking(move || {
        store.write_now(|ctx| {
            kefu_regional::store::visitors::remove(ctx, "acme", "customer-42", &gone)
        })
    })
    .await
    .unwrap()
    .unwrap();
    let path = "/v1/visitors/customer-42/conversations";
    let r = h.call(Method::GET, path, Some(&key), None).await;
    assert_eq!(exported(&r.body), [mine[1].clone()]);
    // Deleting a conversation takes its row with it.
    let r = h
        .call(
            Method::DELETE,
            &format!("/v1/conversations/{theirs}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(indexed(&h, "acme", "customer-7").is_empty());
}

#[tokio::test]
async fn a_tenant_from_before_the_visitor_index_is_indexed_at_start() {
    use kefu_regional::store::visitors;

    let mut h = Harness::new().await;
    let key = h.tenant("acme").await;
    let mut mine = vec![
        conversation_of(&h, &key, "customer-42", &["one"]).await,
        conversation_of(&h, &key, "customer-42", &["two"]).await,
    ];
    mine.sort();
    conversation_of(&h, &key, "customer-7", &["other"]).await;
    // As a data dir from before the index: no rows, no mark.
    let store = h.app.as_ref().unwrap().storage().store().clone();
    tokio::task::spawn_blocking(move || {
        store.write_now(|ctx| visitors::remove_tenant(ctx, "acme"))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(indexed(&h, "acme", "customer-42").is_empty());
    // Meanwhile a scan finds them.
    let path = "/v1/visitors/customer-42/conversations";
    let r = h.call(Method::GET, path, Some(&key), None).await;
    assert_eq!(exported(&r.body), mine);

    h.restart().await;
    let ready = |h: &Harness| {
        let store = h.app.as_ref().unwrap().storage().store().clone();
        let txn = store.db().begin_read().unwrap();
        visitors::is_ready(&txn, "acme").unwrap()
    };
    crate::common::until("the visitor index's build", || ready(&h)).await;
    assert_eq!(indexed(&h, "acme", "customer-42"), mine);
    let r = h.call(Method::GET, path, Some(&key), None).await;
    assert_eq!(exported(&r.body), mine);
    let r = h
        .call(Method::DELETE, "/v1/visitors/customer-42", Some(&key), None)
        .await;
    assert_eq!(r.body, json!({"conversations": 2, "messages": 2}));
    assert!(indexed(&h, "acme", "customer-42").is_empty());
}
