//! Agents reach only their own tenant's conversations and none of the
//! tenant or operator routes.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::handoff::say;
use crate::inproc::harness;

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
async fn a_restart_keeps_agents_signed_in_and_signed_out_ones_out() {
    let mut h = Harness::new().await;
    let a_key = h.tenant("alpha").await;
    let b_key = h.tenant("bravo").await;
    for (key, id) in [
        (&a_key, "amy"),
        (&a_key, "al"),
        (&a_key, "ann"),
        (&b_key, "ben"),
    ] {
        assert_eq!(agent(&h, key, id, id, json!({})).await, StatusCode::CREATED);
    }
    let amy = login(&h, "alpha", "amy").await;
    let al = login(&h, "alpha", "al").await;
    let ann = login(&h, "alpha", "ann").await;
    let ben = login(&h, "bravo", "ben").await;
    // Al signs out, Ann is deleted, bravo is deleted: all before the restart.
    as_agent(&h, &al, Method::POST, "/console/v1/logout", None).await;
    let d = h
        .call(Method::DELETE, "/v1/agents/ann", Some(&a_key), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    let d = h
        .call(
            Method::DELETE,
            "/admin/v1/tenants/bravo",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);

    h.restart().await;

    // Amy's console goes on with the cookie it had.
    let me = as_agent(&h, &amy, Method::GET, "/console/v1/me", None).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["agent_id"], "amy");
    assert_eq!(me.body["tenant"], "alpha");
    let q = as_agent(&h, &amy, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(q.status, StatusCode::OK);
    // The others stay out.
    for (who, cookie) in [("al", &al), ("ann", &ann), ("ben", &ben)] {
        let r = as_agent(&h, cookie, Method::GET, "/console/v1/me", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}: {:?}", r.body);
    }
    // Signing out after the restart holds after the next one too.
    as_agent(&h, &amy, Method::POST, "/console/v1/logout", None).await;
    h.restart().await;
    let r = as_agent(&h, &amy, Method::GET, "/console/v1/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The store never holds a token, only its hash.
    h.stop().await;
    let raw = std::fs::read(h.data_dir().join("kefu.redb")).unwrap();
    let token = amy.split_once('=').unwrap().1.as_bytes();
    assert!(
        !raw.windows(token.len()).any(|w| w == token),
        "a session token is in the database file"
    );
}
