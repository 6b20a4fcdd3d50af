//! Tenant isolation: every route that takes an id, called with tenant A's
//! key and tenant B's ids, succeeds zero times and answers exactly like a
//! missing object. The table must list every such route: the test fails when
//! the router grows one without a row here.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::Harness;
use kefu_regional::http::openapi::ApiDoc;
use kefu_regional::http::routes;
use utoipa::OpenApi;

/// (method, path template, body) for every route whose path takes an id.
fn id_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/admin/v1/tenants/{tenant_id}", None),
        (Method::DELETE, "/admin/v1/tenants/{tenant_id}", None),
        (Method::POST, "/admin/v1/tenants/{tenant_id}/api-key", None),
        (Method::POST, "/admin/v1/tenants/{tenant_id}/data-key", None),
        (Method::GET, "/admin/v1/tenants/{tenant_id}/settings", None),
        (
            Method::PATCH,
            "/admin/v1/tenants/{tenant_id}/settings",
            Some(json!({"retention_days": 1})),
        ),
        (Method::GET, "/v1/conversations/{conversation_id}", None),
        (
            Method::POST,
            "/v1/conversations/{conversation_id}/messages",
            Some(json!({"role": "visitor", "text": "intruder"})),
        ),
        (
            Method::GET,
            "/v1/conversations/{conversation_id}/messages",
            None,
        ),
        (
            Method::PUT,
            "/v1/conversations/{conversation_id}/state",
            Some(json!({"state": "closed"})),
        ),
        (Method::DELETE, "/v1/conversations/{conversation_id}", None),
        // Erasing a visitor is not a lookup: another tenant's visitor, like
        // one nobody has, erases nothing (200, zeros). The loop checks that.
        (Method::DELETE, "/v1/visitors/{visitor_id}", None),
        (Method::GET, "/v1/visitors/{visitor_id}/conversations", None),
        (
            Method::PUT,
            "/v1/kb/faqs/{faq_id}",
            Some(json!({"question": "intruder?", "answer": "intruder"})),
        ),
        (Method::DELETE, "/v1/kb/faqs/{faq_id}", None),
        (Method::DELETE, "/v1/kb/documents/{document_id}", None),
        (Method::GET, "/v1/kb/jobs/{job_id}", None),
        (Method::DELETE, "/v1/agents/{agent_id}", None),
        (Method::DELETE, "/v1/canned-replies/{reply_id}", None),
        // Console routes take an agent's session cookie, never a tenant
        // key: the loop below expects 401. Agents across tenants are
        // tested in console.rs.
        (
            Method::GET,
            "/console/v1/conversations/{conversation_id}",
            None,
        ),
        (
            Method::POST,
            "/console/v1/conversations/{conversation_id}/accept",
            None,
        ),
        (
            Method::POST,
            "/console/v1/conversations/{conversation_id}/messages",
            Some(json!({"text": "intruder"})),
        ),
        (
            Method::POST,
            "/console/v1/conversations/{conversation_id}/transfer",
            Some(json!({"group": "x"})),
        ),
        (
            Method::POST,
            "/console/v1/conversations/{conversation_id}/handback",
            None,
        ),
        (
            Method::POST,
            "/console/v1/conversations/{conversation_id}/close",
            None,
        ),
    ]
}

#[test]
fn the_table_covers_every_route_with_an_id() {
    let router: BTreeSet<(String, String)> = routes::table()
        .iter()
        .filter(|r| r.path.contains('{'))
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let table: BTreeSet<(String, String)> = id_routes()
        .iter()
        .map(|(m, p, _)| (m.to_string(), (*p).to_owned()))
        .collect();
    assert_eq!(
        router, table,
        "a route that takes an id has no row in the cross-tenant table"
    );
}

#[test]
fn the_route_table_and_the_openapi_document_agree() {
    let router: BTreeSet<(String, String)> = routes::table()
        .iter()
        .map(|r| (r.method.to_string().to_lowercase(), r.path.to_owned()))
        .collect();
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    assert_eq!(router, documented, "routes and /openapi.json disagree");
}

#[tokio::test]
async fn tenant_a_cannot_reach_tenant_b_objects() {
    let h = Harness::new().await;
    let a = h.tenant("alpha").await;
    let b = h.tenant("bravo").await;
    let b_conv = h.conversation(&b).await;
    h.say(&b, &b_conv, "bravo's secret", Some("b-1")).await;
    let b_visitor_conv = h
        .call(
            Method::POST,
            "/v1/conversations",
            Some(&b),
            Some(json!({"visitor_id": "visitor-b"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kb = |path: &'static str, body: Value| h.call(Method::POST, path, Some(&b), Some(body));
    assert!(
        kb(
            "/v1/kb/faqs",
            json!([{"id": "faq-b", "question": "bravo?", "answer": "bravo"}])
        )
        .await
        .status
        .is_success()
    );
    assert!(
        kb(
            "/v1/kb/documents",
            json!({"id": "doc-b", "title": "B", "text": "bravo text"})
        )
        .await
        .status
        .is_success()
    );
    let job = h
        .call(Method::POST, "/v1/kb/publish?async=true", Some(&b), None)
        .await;
    assert_eq!(job.status, StatusCode::ACCEPTED, "{:?}", job.body);
    let b_job = job.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call(
            Method::POST,
            "/v1/agents",
            Some(&b),
            Some(json!({"id": "agent-b", "name": "B", "password": "bravo password"}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert!(
        kb(
            "/v1/canned-replies",
            json!({"id": "reply-b", "title": "B", "text": "bravo"})
        )
        .await
        .status
        .is_success()
    );
    let before = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{b_conv}/messages"),
            Some(&b),
            None,
        )
        .await;
    // A's own conversation exists, so A is a working tenant.
    h.conversation(&a).await;

    let mut successes = Vec::new();
    for (method, template, body) in id_routes() {
        let theirs = template
            .replace("{tenant_id}", "bravo")
            .replace("{conversation_id}", &b_conv)
            .replace("{faq_id}", "faq-b")
            .replace("{document_id}", "doc-b")
            .replace("{job_id}", &b_job)
            .replace("{agent_id}", "agent-b")
            .replace("{reply_id}", "reply-b")
            .replace("{visitor_id}", "visitor-b");
        let missing = template
            .replace("{tenant_id}", "nobody")
            .replace("{conversation_id}", "c_000000000000000000000000")
            .replace("{faq_id}", "faq-nobody")
            .replace("{document_id}", "doc-nobody")
            .replace("{job_id}", "job_nobody")
            .replace("{agent_id}", "agent-nobody")
            .replace("{reply_id}", "reply-nobody")
            .replace("{visitor_id}", "visitor-nobody");
        let got = h
            .call(method.clone(), &theirs, Some(&a), body.clone())
            .await;
        let absent = h
            .call(method.clone(), &missing, Some(&a), body.clone())
            .await;
        if template.contains("{visitor_id}") {
            // Another tenant's visitor is nobody here: nothing to erase,
            // nothing to show, exactly as for a visitor nobody has.
            let nothing = if method == Method::DELETE {
                json!({"conversations": 0, "messages": 0})
            } else {
                json!({"visitor_id": "visitor-b", "conversations": []})
            };
            assert_eq!(got.status, StatusCode::OK, "{method} {template}");
            assert_eq!(got.body, nothing, "{method} {template}");
            assert_eq!(absent.status, StatusCode::OK, "{method} {template}");
            continue;
        }
        if got.status.is_success() {
            successes.push(format!("{method} {template}"));
        }
        if template.starts_with("/admin/") || template.starts_with("/console/") {
            assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{method} {template}");
        } else {
            assert_eq!(got.status, StatusCode::NOT_FOUND, "{method} {template}");
        }
        assert_eq!(
            (got.status, &got.body),
            (absent.status, &absent.body),
            "{method} {template}: B's object answers unlike a missing one"
        );
    }
    assert!(
        successes.is_empty(),
        "cross-tenant successes: {successes:?}"
    );
    // And B's data is exactly as it was.
    let after = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{b_conv}/messages"),
            Some(&b),
            None,
        )
        .await;
    assert_eq!(before.body, after.body);
    assert_eq!(after.body["conversation"]["state"], "ai");
    let theirs = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{b_visitor_conv}"),
            Some(&b),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "B's visitor was erased by A");
}

#[tokio::test]
async fn listing_shows_only_the_callers_conversations() {
    // "acme" is a prefix of "acme2": the key ranges must not bleed.
    let h = Harness::new().await;
    let a = h.tenant("acme").await;
    let b = h.tenant("acme2").await;
    let mine = h.conversation(&a).await;
    for _ in 0..3 {
        h.conversation(&b).await;
    }
    let r = h
        .call(Method::GET, "/v1/conversations", Some(&a), None)
        .await;
    let ids: Vec<&str> = r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
}
