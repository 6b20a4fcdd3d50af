//! The human side end to end through the real routers: a visitor asks for a
//! person in the widget API, agents sign in to the console API, accept
//! (one wins a race), reply, transfer, hand back; the queue timeout asks the
//! visitor to leave a message; agents cannot reach other tenants or the
//! tenant and operator APIs; every agent read and state change is audited.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::common::{Harness, OPERATOR, Resp};

pub const PASSWORD: &str = "correct horse battery";

pub async fn agent(h: &Harness, key: &str, id: &str, name: &str, extra: Value) -> StatusCode {
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
pub async fn login(h: &Harness, tenant: &str, id: &str) -> String {
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

pub async fn as_agent(
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

/// An agent's call on one conversation: `what` is `""` (open it, GET) or
/// an action path such as `"/accept"` (POST, no body).
pub async fn on_conv(h: &Harness, cookie: &str, conv: &str, what: &str) -> Resp {
    let method = if what.is_empty() {
        Method::GET
    } else {
        Method::POST
    };
    let path = format!("/console/v1/conversations/{conv}{what}");
    as_agent(h, cookie, method, &path, None).await
}

/// Replaces the tenant's handoff settings; they must be accepted.
pub async fn put_settings(h: &Harness, key: &str, body: Value) {
    let s = h
        .call(Method::PUT, "/v1/handoff/settings", Some(key), Some(body))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
}

pub async fn transcript(h: &Harness, key: &str, conv: &str) -> Vec<Value> {
    h.transcript(key, conv).await["messages"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn audit_entries(h: &Harness, key: &str) -> u64 {
    let r = h
        .call(Method::GET, "/v1/audit/verify", Some(key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["entries"]
        .as_u64()
        .expect("entries in the verify report")
}

pub async fn faq(h: &Harness, key: &str) {
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

mod authz;
mod flow;
mod misc;
mod queue;
mod record;
