//! The session frames at the edge's door: the stored conversation for its
//! owner only, a long poll woken by an agent's reply, and a poller far
//! behind catching up window by window.

use axum::http::{Method, StatusCode};
use kefu_core::wire::{self, Frame, SessionRequest, SessionResponse, TurnResponse};
use kefu_core::{ConversationId, Locale, Role, TenantId, VisitorId};

use serde_json::json;

use crate::edge::{EDGE_KEY, harness, nonce, send, send_turn, signed_request, turn_request};

fn session_request(
    tenant: &str,
    conv: &str,
    visitor: &str,
    since: Option<u64>,
    wait_ms: u32,
) -> Vec<u8> {
    SessionRequest {
        since,
        wait_ms,
        ..SessionRequest::fetch(
            TenantId::new(tenant).unwrap(),
            ConversationId::new(conv).unwrap(),
            VisitorId::new(visitor).unwrap(),
        )
    }
    .encode()
    .unwrap()
}

#[tokio::test]
async fn a_session_is_the_stored_conversation_and_answers_only_its_owner() {
    let h = harness().await;
    h.tenant("acme").await;
    h.tenant("other").await;
    let (_, body) = send_turn(&h, turn_request(None, "cm-1", "hello?", Locale::En), 1).await;
    let conv = TurnResponse::decode(&body).unwrap().conversation;
    let conv = conv.as_str();

    let (st, body) = send(
        &h,
        wire::paths::SESSION,
        session_request("acme", conv, "visitor-1", None, 0),
        2,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let s = SessionResponse::decode(&body)
        .unwrap()
        .session
        .expect("the session");
    assert_eq!(
        (s.tenant().as_str(), s.conversation().as_str()),
        ("acme", conv)
    );
    assert_eq!(s.next_seq(), 3);
    let turns: Vec<(u64, Role)> = s.turns().iter().map(|t| (t.seq, t.role)).collect();
    assert_eq!(turns, [(1, Role::Visitor), (2, Role::Bot)]);
    assert_eq!(s.turns()[0].text, "hello?");
    assert_eq!(s.fallbacks_in_row, 1);

    // Another visitor, another tenant, an unknown tenant: no such session.
    for (i, (t, v)) in [
        ("acme", "visitor-2"),
        ("other", "visitor-1"),
        ("ghost", "visitor-1"),
    ]
    .into_iter()
    .enumerate()
    {
        let n = 3 + u8::try_from(i).unwrap();
        let (st, body) = send(
            &h,
            wire::paths::SESSION,
            session_request(t, conv, v, None, 0),
            n,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            SessionResponse::decode(&body).unwrap().session,
            None,
            "{t}/{v}"
        );
    }
    // wait_ms above the bound is a malformed frame.
    let mut bad = SessionRequest::fetch(
        TenantId::new("acme").unwrap(),
        ConversationId::new(conv).unwrap(),
        VisitorId::new("visitor-1").unwrap(),
    );
    bad.wait_ms = wire::MAX_SESSION_WAIT_MS + 1;
    let bytes = rmp_like_encode(&bad);
    let (st, _) = send(&h, wire::paths::SESSION, bytes, 9).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

/// `Frame::encode` refuses an out-of-bounds frame; the bare codec (what a
/// buggy or hostile edge could send) does not.
fn rmp_like_encode(r: &SessionRequest) -> Vec<u8> {
    kefu_core::codec::encode(r).unwrap()
}

#[tokio::test]
async fn a_long_poll_is_woken_by_an_agent_reply_and_times_out_without_one() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let (_, body) = send_turn(&h, turn_request(None, "cm-1", "hello?", Locale::En), 1).await;
    let conv = TurnResponse::decode(&body)
        .unwrap()
        .conversation
        .as_str()
        .to_owned();

    // Nothing after seq 2: a short wait ends empty-handed with the session.
    let (st, body) = send(
        &h,
        wire::paths::SESSION,
        session_request("acme", &conv, "visitor-1", Some(2), 200),
        2,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let s = SessionResponse::decode(&body).unwrap().session.unwrap();
    assert_eq!(s.next_seq(), 3);

    // A waiting poll, then an agent reply through the tenant API.
    let poll = {
        let h_router = h.router.clone();
        let body = session_request("acme", &conv, "visitor-1", Some(2), 20_000);
        let now = kefu_regional::store::now_ms();
        let req = signed_request(
            Method::POST,
            wire::paths::SESSION,
            body,
            nonce(3),
            now,
            EDGE_KEY,
        );
        tokio::spawn(async move { tower::ServiceExt::oneshot(h_router, req).await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!poll.is_finished(), "the poll waits while nothing is new");
    let r = h
        .call(
            Method::POST,
            &format!("/v1/conversations/{conv}/messages"),
            Some(&key),
            Some(json!({"role": "agent", "text": "An agent here.", "source": "agent"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), poll)
        .await
        .expect("the agent reply woke the poll")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let s = SessionResponse::decode(&bytes).unwrap().session.unwrap();
    let last = s.turns().back().unwrap();
    assert_eq!(
        (last.seq, last.role, last.text.as_str()),
        (3, Role::Agent, "An agent here.")
    );
}

#[tokio::test]
async fn a_poller_far_behind_catches_up_window_by_window_without_a_gap() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let (_, body) = send_turn(&h, turn_request(None, "cm-1", "hello?", Locale::En), 1).await;
    let conv = TurnResponse::decode(&body)
        .unwrap()
        .conversation
        .as_str()
        .to_owned();
    // 50 agent messages while the widget was away (more than a window).
    for i in 0..50 {
        let r = h
            .call(
                Method::POST,
                &format!("/v1/conversations/{conv}/messages"),
                Some(&key),
                Some(json!({"role": "agent", "text": format!("note {i}"), "source": "agent"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    // Polling from seq 2, each answer continues where the last ended.
    let (mut since, mut seen, mut n): (u64, Vec<u64>, u8) = (2, Vec::new(), 10);
    loop {
        let (st, body) = send(
            &h,
            wire::paths::SESSION,
            session_request("acme", &conv, "visitor-1", Some(since), 0),
            n,
        )
        .await;
        n += 1;
        assert_eq!(st, StatusCode::OK);
        let s = SessionResponse::decode(&body).unwrap().session.unwrap();
        let new: Vec<u64> = s
            .turns()
            .iter()
            .map(|t| t.seq)
            .filter(|&q| q > since)
            .collect();
        if new.is_empty() {
            break;
        }
        assert_eq!(new[0], since + 1, "a gap after {since}: {new:?}");
        seen.extend(&new);
        since = *new.last().unwrap();
        assert!(n < 30, "catching up does not end");
    }
    assert_eq!(seen, (3..=52).collect::<Vec<u64>>());
}
