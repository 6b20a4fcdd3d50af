//! The human side end to end through the real routers: a visitor asks for a
//! person in the widget API, agents sign in to the console API, accept
//! (one wins a race), reply, transfer, hand back; the queue timeout asks the
//! visitor to leave a message; agents cannot reach other tenants or the
//! tenant and operator APIs; every agent read and state change is audited.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::common::{Harness, OPERATOR, Resp};
use crate::handoff::say;
use crate::inproc::{harness, widget_key};

const PASSWORD: &str = "correct horse battery";

async fn agent(h: &Harness, key: &str, id: &str, name: &str, extra: Value) -> StatusCode {
    let mut body = json!({"id": id, "name": name, "password": PASSWORD});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = h
        .call(Method::POST, "/v1/agents", Some(key), Some(body))
        .await;
    assert!(
        r.body.get("password_hash").is_none() && !r.body.to_string().contains("argon2"),
        "the hash must never be shown: {:?}",
        r.body
    );
    r.status
}

/// Signs in; returns the cookie header value.
async fn login(h: &Harness, tenant: &str, id: &str) -> String {
    let r = h
        .call(
            Method::POST,
            "/console/v1/login",
            None,
            Some(json!({"tenant": tenant, "agent_id": id, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let set = r.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn as_agent(
    h: &Harness,
    cookie: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", cookie);
    let req = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            b.body(Body::from(v.to_string())).unwrap()
        }
        None => b.body(Body::empty()).unwrap(),
    };
    h.send(req).await
}

async fn transcript(h: &Harness, key: &str, conv: &str) -> Vec<Value> {
    let r = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body["messages"].as_array().unwrap().clone()
}

async fn audit_entries(h: &Harness, key: &str) -> u64 {
    let r = h
        .call(Method::GET, "/v1/audit/verify", Some(key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["entries"]
        .as_u64()
        .expect("entries in the verify report")
}

async fn faq(h: &Harness, key: &str) {
    let faq = json!([{"id": "faq-track", "question": "How do I track my order?", "answer": "Open My Orders to see the tracking number."}]);
    assert!(
        h.call(Method::POST, "/v1/kb/faqs", Some(key), Some(faq))
            .await
            .status
            .is_success()
    );
    assert!(
        h.call(Method::POST, "/v1/kb/publish", Some(key), None)
            .await
            .status
            .is_success()
    );
}

#[tokio::test]
async fn a_visitor_reaches_an_agent_is_transferred_and_returns_to_the_ai_with_nothing_lost() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    faq(&h, &key).await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        agent(&h, &key, "bob", "Bob", json!({})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        agent(&h, &key, "alice", "Alice 2", json!({})).await,
        StatusCode::CONFLICT
    );

    let a = say(&public, &wk, None, "how do I track my order", "v1").await;
    let conv = a["conversation_id"].as_str().unwrap().to_owned();
    let q = say(&public, &wk, Some(&conv), "转人工", "v2").await;
    assert_eq!(q["handoff"], true, "{q:?}");
    // The visitor is told their place in the queue.
    assert!(
        q["answer"].as_str().unwrap().contains("您前面还有 0 位"),
        "{q:?}"
    );

    let alice = login(&h, "acme", "alice").await;
    let bob = login(&h, "acme", "bob").await;
    let queue = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        queue.body["waiting"][0]["conversation_id"],
        conv.as_str(),
        "{:?}",
        queue.body
    );
    assert_eq!(
        queue.body["waiting"][0]["handoff"]["reasons"][0],
        "explicit_request"
    );

    // Opening it is audited, and the agent sees why and a summary.
    let before = audit_entries(&h, &key).await;
    let open = as_agent(
        &h,
        &alice,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
    assert_eq!(open.status, StatusCode::OK, "{:?}", open.body);
    assert!(
        open.body["summary"]
            .as_str()
            .unwrap()
            .contains("how do I track my order")
    );
    assert_eq!(
        audit_entries(&h, &key).await,
        before + 1,
        "the read was audited"
    );

    // Both accept at once: exactly one wins.
    let path = format!("/console/v1/conversations/{conv}/accept");
    let (ra, rb) = tokio::join!(
        as_agent(&h, &alice, Method::POST, &path, None),
        as_agent(&h, &bob, Method::POST, &path, None)
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{:?} {:?}",
        ra.body,
        rb.body
    );
    let (winner, loser) = if ra.status == StatusCode::OK {
        (&alice, &bob)
    } else {
        (&bob, &alice)
    };
    // The loser can no longer even read it.
    let peek = as_agent(
        &h,
        loser,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);

    // Both ways: the visitor's message reaches the agent, the agent's the visitor.
    let v = say(
        &public,
        &wk,
        Some(&conv),
        "我的订单号是 A123，还没发货",
        "v3",
    )
    .await;
    assert_ne!(v["source"], "faq");
    let msg = json!({"text": "您好，我来查一下订单 A123。", "client_msg_id": "a-1"});
    let sent = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(msg.clone()),
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    let again = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(msg),
    )
    .await;
    assert_eq!(
        (again.status, again.body["seq"].clone()),
        (StatusCode::OK, sent.body["seq"].clone())
    );
    let seen = as_agent(
        &h,
        winner,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
    let texts: Vec<&str> = seen.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"我的订单号是 A123，还没发货"), "{texts:?}");

    // The loser cannot speak in it.
    let intrude = as_agent(
        &h,
        loser,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(intrude.status, StatusCode::CONFLICT);

    // Transfer to the other agent, who hands back to the AI.
    let other = if winner == &alice { "bob" } else { "alice" };
    let t = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/transfer"),
        Some(json!({"agent_id": other})),
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let hb = as_agent(
        &h,
        loser,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/handback"),
        None,
    )
    .await;
    assert_eq!(hb.status, StatusCode::NO_CONTENT, "{:?}", hb.body);

    // The AI answers again, and the old reason does not send it back.
    // (Worded anew: the edge would answer the first wording from its cache.)
    let n = say(&public, &wk, Some(&conv), "How can I track my order?", "v4").await;
    assert_eq!(
        (n["source"].as_str(), n["handoff"].as_bool()),
        (Some("faq"), Some(false)),
        "{n:?}"
    );
    assert_eq!(n["conversation_id"], conv.as_str());

    // The stored transcript: every message once, in order, nothing lost.
    let all = transcript(&h, &key, &conv).await;
    let seqs: Vec<u64> = all.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let visitor: Vec<&str> = all
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        visitor,
        [
            "how do I track my order",
            "转人工",
            "我的订单号是 A123，还没发货",
            "How can I track my order?"
        ]
    );
    let agents: Vec<&Value> = all.iter().filter(|m| m["role"] == "agent").collect();
    assert_eq!(agents.len(), 1, "the agent's retry was stored once");
    let system: Vec<&str> = all
        .iter()
        .filter(|m| m["role"] == "system")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        system.iter().any(|t| t.contains("已接入")),
        "the visitor was told an agent joined: {system:?}"
    );
    assert!(
        system.iter().any(|t| t.contains("转接")),
        "told of the transfer: {system:?}"
    );
    assert!(
        system.iter().any(|t| t.contains("客服已离开")),
        "told the agent left: {system:?}"
    );
    // Nothing is left in the queue.
    let q = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        q.body["waiting"].as_array().unwrap().len() + q.body["mine"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn a_visitor_nobody_takes_in_time_is_asked_to_leave_a_message_and_agents_see_it() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let s = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"queue_timeout_secs": 1})),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    let q = say(&public, &wk, None, "I want to talk to a human", "t1").await;
    let conv = q["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(q["handoff"], true);
    // The service's queue sweeper runs every second.
    let storage = h.app.as_ref().unwrap().storage().clone();
    let mut asked = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let _ = storage.sweep_queue().await.unwrap();
        let t = transcript(&h, &key, &conv).await;
        if t.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("leave your phone or e-mail")
        {
            asked = true;
            break;
        }
    }
    assert!(asked, "the visitor was not asked to leave a message");
    let left = say(
        &public,
        &wk,
        Some(&conv),
        "Please call me on 13800138000 about my refund",
        "t2",
    )
    .await;
    assert!(
        left["answer"]
            .as_str()
            .unwrap()
            .contains("your message is recorded"),
        "{left:?}"
    );
    let alice = login(&h, "acme", "alice").await;
    let queue = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        queue.body["waiting"].as_array().unwrap().len(),
        0,
        "{:?}",
        queue.body
    );
    let item = &queue.body["left_messages"][0];
    assert_eq!(item["conversation_id"], conv.as_str());
    assert_eq!(
        item["handoff"]["left_messages"].as_array().unwrap().len(),
        1
    );
    // An agent can still pick it up and answer.
    let acc = as_agent(
        &h,
        &alice,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/accept"),
        None,
    )
    .await;
    assert_eq!(acc.status, StatusCode::OK);
}

#[tokio::test]
async fn outside_business_hours_a_handoff_becomes_leave_a_message() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    // Open one minute a week, never now (unless it is Monday 00:00 UTC+14).
    let s = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"business_hours": {"utc_offset_minutes": 840, "days": [1], "open": "00:00", "close": "00:01"}})),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let bad = h
        .call(Method::PUT, "/v1/handoff/settings", Some(&key), Some(json!({"business_hours": {"utc_offset_minutes": 0, "days": [9], "open": "09:00", "close": "18:00"}})))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("days")
    );
    let q = say(&public, &wk, None, "转人工", "b1").await;
    assert!(
        q["answer"].as_str().unwrap().contains("留下您的联系方式"),
        "{q:?}"
    );
}

#[tokio::test]
async fn automatic_assignment_gives_the_least_busy_online_agent_within_their_limit() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let s = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"assignment": "least_busy"})),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK);
    agent(&h, &key, "alice", "Alice", json!({"max_concurrent": 1})).await;
    agent(&h, &key, "bob", "Bob", json!({"max_concurrent": 1})).await;
    agent(&h, &key, "carol", "Carol", json!({"max_concurrent": 5})).await;
    let mut convs = Vec::new();
    for i in 0..3 {
        let q = say(&public, &wk, None, "人工客服", &format!("aa{i}")).await;
        convs.push(q["conversation_id"].as_str().unwrap().to_owned());
    }
    let storage = h.app.as_ref().unwrap().storage().clone();
    let console = std::sync::Arc::new(kefu_regional::console::Console::default());
    // Nobody online: nothing assigned.
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        0
    );
    let _a = console.present("acme", "alice");
    let _b = console.present("acme", "bob");
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        2
    );
    // Both are at their limit of one: the third waits.
    let alice = login(&h, "acme", "alice").await;
    let q = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(q.body["mine"].as_array().unwrap().len(), 1, "{:?}", q.body);
    assert_eq!(q.body["waiting"].as_array().unwrap().len(), 1);
    let _c = console.present("acme", "carol");
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        1
    );
    for c in &convs {
        let t = transcript(&h, &key, c).await;
        assert!(
            t.iter()
                .any(|m| m["role"] == "system" && m["text"].as_str().unwrap().contains("已接入"))
        );
    }
}

#[tokio::test]
async fn agents_reach_only_their_own_tenant_and_none_of_the_tenant_or_operator_routes() {
    let (h, public) = harness().await;
    let a_key = h.tenant("alpha").await;
    let b_key = h.tenant("bravo").await;
    agent(&h, &a_key, "amy", "Amy", json!({})).await;
    agent(&h, &b_key, "ben", "Ben", json!({})).await;
    // A conversation of bravo's in bravo's queue.
    let wk_b = h
        .call(Method::GET, "/admin/v1/tenants/bravo", Some(OPERATOR), None)
        .await
        .body["widget_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let q = say(&public, &wk_b, None, "转人工", "x1").await;
    let b_conv = q["conversation_id"].as_str().unwrap().to_owned();
    let amy = login(&h, "alpha", "amy").await;

    // Amy sees nothing of bravo's and every id route answers like a missing one.
    let queue = as_agent(&h, &amy, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(queue.body["waiting"].as_array().unwrap().len(), 0);
    for (m, suffix, body) in [
        (Method::GET, "", None),
        (Method::POST, "/accept", None),
        (Method::POST, "/messages", Some(json!({"text": "intruder"}))),
        (Method::POST, "/transfer", Some(json!({"group": "x"}))),
        (Method::POST, "/handback", None),
        (Method::POST, "/close", None),
    ] {
        let theirs = as_agent(
            &h,
            &amy,
            m.clone(),
            &format!("/console/v1/conversations/{b_conv}{suffix}"),
            body.clone(),
        )
        .await;
        let missing = as_agent(
            &h,
            &amy,
            m.clone(),
            &format!("/console/v1/conversations/c_000000000000000000000000{suffix}"),
            body,
        )
        .await;
        assert_eq!(
            theirs.status,
            StatusCode::NOT_FOUND,
            "{m} {suffix}: {:?}",
            theirs.body
        );
        assert_eq!(
            (theirs.status, theirs.body),
            (missing.status, missing.body),
            "{m} {suffix}"
        );
    }
    // Bravo's conversation is untouched.
    let t = transcript(&h, &b_key, &b_conv).await;
    assert!(t.iter().all(|m| m["text"] != "intruder"));

    // The agent cookie opens no tenant or operator route.
    for (m, path) in [
        (Method::GET, "/v1/conversations"),
        (Method::GET, "/v1/agents"),
        (Method::GET, "/v1/handoff/settings"),
        (Method::GET, "/v1/kb"),
        (Method::GET, "/admin/v1/tenants"),
    ] {
        let r = as_agent(&h, &amy, m.clone(), path, None).await;
        assert!(
            r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN,
            "{m} {path}: {}",
            r.status
        );
    }
    // A wrong password, an unknown agent and another tenant's agent all fail alike.
    for (t, a, p) in [
        ("alpha", "amy", "wrong password!"),
        ("alpha", "nobody", PASSWORD),
        ("alpha", "ben", PASSWORD),
    ] {
        let r = h
            .call(
                Method::POST,
                "/console/v1/login",
                None,
                Some(json!({"tenant": t, "agent_id": a, "password": p})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{t}/{a}");
        assert!(r.headers.get("set-cookie").is_none());
    }
    // No cookie, a forged one, a signed-out one: 401.
    let none = h.call(Method::GET, "/console/v1/queue", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["error"]["code"], "unauthorized");
    let forged = as_agent(
        &h,
        "kefu_agent=kefu_as_00",
        Method::GET,
        "/console/v1/queue",
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    as_agent(&h, &amy, Method::POST, "/console/v1/logout", None).await;
    let after = as_agent(&h, &amy, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // Deleting an agent ends their sessions.
    let ben = login(&h, "bravo", "ben").await;
    let d = h
        .call(Method::DELETE, "/v1/agents/ben", Some(&b_key), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    let gone = as_agent(&h, &ben, Method::GET, "/console/v1/me", None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
}

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
    let s = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"routing": {"tenant_keywords": ["会员卡", "gift card"]}})),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
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
    let open = as_agent(
        &h,
        &alice,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
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
async fn a_left_message_without_a_phone_or_email_gets_asked_for_one() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    h.call(
        Method::PUT,
        "/v1/handoff/settings",
        Some(&key),
        Some(json!({"queue_timeout_secs": 1})),
    )
    .await;
    let q = say(&public, &wk, None, "转人工", "o1").await;
    let conv = q["conversation_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let storage = h.app.as_ref().unwrap().storage().clone();
    assert_eq!(storage.sweep_queue().await.unwrap(), 1);
    let a = say(&public, &wk, Some(&conv), "退款一直没到账", "o2").await;
    assert!(
        a["answer"].as_str().unwrap().contains("手机号或邮箱"),
        "{a:?}"
    );
    let b = say(
        &public,
        &wk,
        Some(&conv),
        "我的邮箱是 lin@example.com",
        "o3",
    )
    .await;
    assert!(
        b["answer"].as_str().unwrap().contains("尽快联系您"),
        "{b:?}"
    );
}
