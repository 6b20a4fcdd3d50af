//! The edge's door: signed MessagePack frames in, labelled answers out,
//! replays refused, reports stored exactly once.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use kefu_core::wire::{
    self, EdgeReport, Frame, HandoffState, Health, ReportedTurn, SessionRequest, TenantConfig,
    TenantConfigRequest, TurnRequest, TurnResponse,
};
use kefu_core::{ConversationId, KbVersion, Locale, Source, TenantId, VisitorId};
use serde_json::json;

use crate::common::{Harness, Resp};

pub(crate) const EDGE_KEY: &str = "edge-shared-signing-key-0123456789";

pub(crate) async fn harness() -> Harness {
    Harness::with_config(
        "[limits]\nfailed_auth_per_minute = 100000\n",
        &[("KEFU_EDGE_KEY", EDGE_KEY)],
    )
    .await
}

pub(crate) fn nonce(n: u8) -> [u8; 16] {
    [n; 16]
}

pub(crate) fn turn_request(
    conv: Option<&str>,
    client_msg_id: &str,
    text: &str,
    locale: Locale,
) -> Vec<u8> {
    TurnRequest {
        v: wire::WIRE_VERSION,
        tenant: TenantId::new("acme").unwrap(),
        conversation: conv.map(|c| ConversationId::new(c).unwrap()),
        visitor: VisitorId::new("visitor-1").unwrap(),
        client_msg_id: client_msg_id.into(),
        text: text.into(),
        locale,
        edge_seq: None,
        edge_kb: None,
        at_ms: kefu_regional::store::now_ms(),
    }
    .encode()
    .unwrap()
}

/// A frame request to `path`, signed with `key` at `ts_ms` with `nonce`.
pub(crate) fn signed_request(
    method: Method,
    path: &str,
    body: Vec<u8>,
    nonce: [u8; 16],
    ts_ms: u64,
    key: &str,
) -> Request<Body> {
    let sig = wire::sign(key.as_bytes(), ts_ms, &nonce, path, &body)
        .unwrap()
        .to_header();
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/msgpack")
        .header(wire::SIGNATURE_HEADER, sig)
        .body(Body::from(body))
        .unwrap()
}

/// Sends a signed frame request; status and body.
pub(crate) async fn signed(
    h: &Harness,
    method: Method,
    path: &str,
    body: Vec<u8>,
    nonce: [u8; 16],
    ts_ms: u64,
    key: &str,
) -> (StatusCode, Vec<u8>) {
    let req = signed_request(method, path, body, nonce, ts_ms, key);
    let resp = tower::ServiceExt::oneshot(h.router.clone(), req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

pub(crate) async fn send_turn(h: &Harness, body: Vec<u8>, n: u8) -> (StatusCode, Vec<u8>) {
    signed(
        h,
        Method::POST,
        wire::paths::TURN,
        body,
        nonce(n),
        kefu_regional::store::now_ms(),
        EDGE_KEY,
    )
    .await
}

async fn transcript(h: &Harness, key: &str, conv: &str) -> Resp {
    h.call(
        Method::GET,
        &format!("/v1/conversations/{conv}/messages"),
        Some(key),
        None,
    )
    .await
}

#[tokio::test]
async fn a_forwarded_question_is_stored_and_answered_with_a_labelled_fallback() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let (st, body) = send_turn(&h, turn_request(None, "cm-1", "怎么退款？", Locale::Zh), 1).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let resp = TurnResponse::decode(&body).unwrap();
    assert_eq!(resp.source, Source::Fallback);
    assert!(resp.answer.contains("知识库尚未发布"), "{}", resp.answer);
    assert_eq!(
        (resp.seq, resp.handoff, resp.cacheable),
        (2, HandoffState::None, None)
    );
    let t = transcript(&h, &key, resp.conversation.as_str()).await;
    let msgs = t.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        (msgs[0]["role"].as_str(), msgs[0]["client_msg_id"].as_str()),
        (Some("visitor"), Some("cm-1"))
    );
    assert_eq!(
        (msgs[1]["role"].as_str(), msgs[1]["source"].as_str()),
        (Some("bot"), Some("fallback"))
    );

    // A retry of the same message (fresh signature) returns the same answer and writes nothing.
    let conv = resp.conversation.as_str().to_owned();
    let (st, body) = send_turn(
        &h,
        turn_request(Some(&conv), "cm-1", "怎么退款？", Locale::Zh),
        2,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let again = TurnResponse::decode(&body).unwrap();
    assert_eq!(
        (again.seq, again.answer.as_str()),
        (2, resp.answer.as_str())
    );
    assert_eq!(
        transcript(&h, &key, &conv).await.body["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The next message continues the conversation, in English this time.
    let (_, body) = send_turn(
        &h,
        turn_request(Some(&conv), "cm-2", "refund?", Locale::En),
        3,
    )
    .await;
    let next = TurnResponse::decode(&body).unwrap();
    assert_eq!((next.conversation.as_str(), next.seq), (conv.as_str(), 4));
    assert!(next.answer.starts_with("Sorry, no knowledge base"));
}

/// An edge that does not remember a first message (plain wasmtime: the
/// retry reaches another instance) sends the retry again without a
/// conversation: it gets the conversation the first try opened, and the
/// message is stored once.
#[tokio::test]
async fn a_first_message_retried_without_its_conversation_opens_no_second_one() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let (_, body) = send_turn(
        &h,
        turn_request(None, "cm-1", "where is my parcel", Locale::En),
        1,
    )
    .await;
    let first = TurnResponse::decode(&body).unwrap();
    let (st, body) = send_turn(
        &h,
        turn_request(None, "cm-1", "where is my parcel", Locale::En),
        2,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let again = TurnResponse::decode(&body).unwrap();
    assert_eq!(again.conversation, first.conversation);
    assert_eq!(
        (again.seq, again.answer.as_str()),
        (first.seq, first.answer.as_str())
    );
    let list = h
        .call(Method::GET, "/v1/conversations", Some(&key), None)
        .await;
    assert_eq!(
        list.body["conversations"].as_array().unwrap().len(),
        1,
        "{:?}",
        list.body
    );
    let t = transcript(&h, &key, first.conversation.as_str()).await;
    assert_eq!(t.body["messages"].as_array().unwrap().len(), 2);
    // Another message (another id) of the same visitor is its own turn.
    let (_, body) = send_turn(
        &h,
        turn_request(None, "cm-2", "and my refund?", Locale::En),
        3,
    )
    .await;
    let other = TurnResponse::decode(&body).unwrap();
    assert_ne!(other.conversation, first.conversation);
    // An hour on, the retention sweep forgets the first-message rows.
    let storage = h.app.as_ref().unwrap().storage().clone();
    let later = kefu_regional::store::now_ms() + 2 * 3_600_000;
    storage.purge_expired(365, later).await.unwrap();
    let store = storage.store().clone();
    let txn = redb::ReadableDatabase::begin_read(store.db()).unwrap();
    let rows = txn
        .open_table(kefu_regional::store::first_turns::FIRST_TURNS)
        .unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&rows).unwrap(), 0);
}

#[tokio::test]
async fn a_human_handled_conversation_gets_a_handoff_notice_not_a_bot_answer() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let (_, body) = send_turn(&h, turn_request(None, "a", "人工", Locale::Zh), 1).await;
    let conv = TurnResponse::decode(&body)
        .unwrap()
        .conversation
        .as_str()
        .to_owned();
    h.call(
        Method::PUT,
        &format!("/v1/conversations/{conv}/state"),
        Some(&key),
        Some(json!({"state": "with_agent"})),
    )
    .await;
    let (_, body) = send_turn(&h, turn_request(Some(&conv), "b", "在吗", Locale::Zh), 2).await;
    let r = TurnResponse::decode(&body).unwrap();
    assert_eq!(r.handoff, HandoffState::WithAgent);
    let t = transcript(&h, &key, &conv).await;
    assert_eq!(t.body["messages"][3]["role"], "system");
}

#[tokio::test]
async fn signatures_timestamps_and_replays_are_checked() {
    let h = harness().await;
    h.tenant("acme").await;
    let now = kefu_regional::store::now_ms();
    let body = turn_request(None, "x", "hello", Locale::En);
    let path = wire::paths::TURN;
    assert_eq!(
        signed(
            &h,
            Method::POST,
            path,
            body.clone(),
            nonce(1),
            now,
            "another-key-0123456789abcdef"
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        signed(
            &h,
            Method::POST,
            path,
            body.clone(),
            nonce(2),
            now - 120_000,
            EDGE_KEY
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    // Signed for another path: refused.
    let sig = wire::sign(
        EDGE_KEY.as_bytes(),
        now,
        &nonce(3),
        wire::paths::REPORT,
        &body,
    )
    .unwrap()
    .to_header();
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/msgpack")
        .header(wire::SIGNATURE_HEADER, sig)
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
    // No signature at all.
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/msgpack")
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
    // Good, then the very same request again: a replay.
    assert_eq!(
        signed(
            &h,
            Method::POST,
            path,
            body.clone(),
            nonce(4),
            now,
            EDGE_KEY
        )
        .await
        .0,
        StatusCode::OK
    );
    let (st, bytes) = signed(&h, Method::POST, path, body, nonce(4), now, EDGE_KEY).await;
    assert_eq!(
        st,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

#[tokio::test]
async fn bad_frames_get_json_errors() {
    let h = harness().await;
    h.tenant("acme").await;
    let (st, body) = send_turn(&h, b"\x81\xa1v\x01 not a frame".to_vec(), 1).await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "bad_request");
    let req = Request::builder()
        .method(Method::POST)
        .uri(wire::paths::TURN)
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (st, _) = send_turn(&h, vec![0xc1; 20_000], 2).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    // A signed frame for a tenant that does not exist.
    let other = TurnRequest::decode(&turn_request(None, "z", "hi", Locale::En)).map(|mut r| {
        r.tenant = TenantId::new("nobody").unwrap();
        r.encode().unwrap()
    });
    assert_eq!(
        send_turn(&h, other.unwrap(), 3).await.0,
        StatusCode::NOT_FOUND
    );
    // Without a configured key the door is closed.
    let closed = Harness::new().await;
    assert_eq!(
        send_turn(&closed, turn_request(None, "x", "hi", Locale::En), 4)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn edge_reports_are_stored_exactly_once() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let conv = "c_edge00000000000000000001";
    let reported = |id: &str, q: &str, a: &str, source: Source| ReportedTurn {
        tenant: TenantId::new("acme").unwrap(),
        conversation: ConversationId::new(conv).unwrap(),
        visitor: VisitorId::new("v-9").unwrap(),
        client_msg_id: id.into(),
        question: q.into(),
        answer: a.into(),
        source,
        citations: vec![],
        kb_version: KbVersion(0),
        at_ms: kefu_regional::store::now_ms(),
    };
    let mut rep = EdgeReport::new();
    rep.turns
        .push(reported("e1", "营业时间？", "9:00-18:00", Source::Cache));
    rep.turns.push(reported(
        "e2",
        "hello?",
        "We got your message and will answer soon.",
        Source::Ack,
    ));
    let mut ghost = reported("e3", "x", "y", Source::Ack);
    ghost.tenant = TenantId::new("ghost").unwrap();
    rep.turns.push(ghost);
    let body = rep.encode().unwrap();
    let now = kefu_regional::store::now_ms();
    let (st, out) = signed(
        &h,
        Method::POST,
        wire::paths::REPORT,
        body.clone(),
        nonce(1),
        now,
        EDGE_KEY,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&out));
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        out,
        json!({"applied": 2, "duplicates": 0, "unknown_tenant": 1, "erased": 0, "successor": 0})
    );
    // The edge retries the same report (new signature): nothing new.
    let (_, out) = signed(
        &h,
        Method::POST,
        wire::paths::REPORT,
        body,
        nonce(2),
        now,
        EDGE_KEY,
    )
    .await;
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        out,
        json!({"applied": 0, "duplicates": 2, "unknown_tenant": 1, "erased": 0, "successor": 0})
    );
    let t = transcript(&h, &key, conv).await;
    let msgs = t.body["messages"].as_array().unwrap();
    let summary: Vec<(&str, Option<&str>)> = msgs
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["source"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("visitor", None),
            ("bot", Some("cache")),
            ("visitor", None),
            ("bot", Some("ack"))
        ]
    );
}

#[tokio::test]
async fn health_is_a_signed_frame() {
    let h = harness().await;
    let now = kefu_regional::store::now_ms();
    let (st, body) = signed(
        &h,
        Method::GET,
        wire::paths::HEALTH,
        Vec::new(),
        nonce(7),
        now,
        EDGE_KEY,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let health = Health::decode(&body).unwrap();
    assert!(health.ready);
    let (st, _) = signed(
        &h,
        Method::GET,
        wire::paths::HEALTH,
        Vec::new(),
        nonce(8),
        now,
        "wrong-key-0123456789abcdef",
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

async fn widget_key(h: &Harness, tenant: &str) -> String {
    let r = h
        .call(
            Method::GET,
            &format!("/admin/v1/tenants/{tenant}"),
            Some(crate::common::OPERATOR),
            None,
        )
        .await;
    r.body["widget_key"].as_str().unwrap().to_owned()
}

pub(crate) async fn send(h: &Harness, path: &str, body: Vec<u8>, n: u8) -> (StatusCode, Vec<u8>) {
    let now = kefu_regional::store::now_ms();
    signed(h, Method::POST, path, body, nonce(n), now, EDGE_KEY).await
}

/// The tenant config tells the edges which conversations were erased in
/// the last day (so they drop their copies), and the retention sweep
/// unlists them after that day.
#[tokio::test]
async fn the_tenant_config_lists_the_days_erasures() {
    let h = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h, "acme").await;
    let (_, body) = send_turn(&h, turn_request(None, "cm-1", "hello", Locale::En), 1).await;
    let gone = TurnResponse::decode(&body).unwrap().conversation;
    let (_, body) = send_turn(&h, turn_request(None, "cm-2", "hello again", Locale::En), 2).await;
    let kept = TurnResponse::decode(&body).unwrap().conversation;
    let config = |n: u8| {
        let h = &h;
        let wk = wk.clone();
        async move {
            let req = TenantConfigRequest::new(wk).encode().unwrap();
            let (st, body) = send(h, wire::paths::TENANT_CONFIG, req, n).await;
            assert_eq!(st, StatusCode::OK);
            TenantConfig::decode(&body).unwrap()
        }
    };
    assert!(config(3).await.erased.is_empty());
    let r = h
        .call(
            Method::DELETE,
            &format!("/v1/conversations/{gone}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(config(4).await.erased, std::slice::from_ref(&gone));
    assert_ne!(gone, kept);
    let storage = h.app.as_ref().unwrap().storage().clone();
    let day_on = kefu_regional::store::now_ms() + wire::ERASED_LISTED_MS + 60_000;
    storage.purge_expired(365, day_on).await.unwrap();
    assert!(config(5).await.erased.is_empty());
}

#[tokio::test]
async fn a_widget_key_resolves_to_its_tenants_config() {
    let h = harness().await;
    h.tenant("acme").await;
    let wk = widget_key(&h, "acme").await;
    let r = h
        .call(
            Method::PATCH,
            "/admin/v1/tenants/acme/settings",
            Some(crate::common::OPERATOR),
            Some(json!({
                "allowed_origins": ["https://shop.example"],
                "require_signed_identity": true,
                "identity_secret": "visitor-identity-secret-0123",
                "semantic_cache_allowed": false,
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let req = TenantConfigRequest::new(wk.clone()).encode().unwrap();
    let (st, body) = send(&h, wire::paths::TENANT_CONFIG, req, 1).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let c = TenantConfig::decode(&body).unwrap();
    assert_eq!(c.tenant.as_str(), "acme");
    assert_eq!(c.widget_key, wk);
    assert_eq!(c.allowed_origins, ["https://shop.example"]);
    assert!(c.require_signed_visitor);
    assert_eq!(
        c.visitor_key.as_deref(),
        Some(&b"visitor-identity-secret-0123"[..])
    );
    assert!(!c.cache_answers && !c.semantic_cache);

    // A key no tenant has: 404 with the JSON error shape.
    let req = TenantConfigRequest::new("kefu_pk_nobody").encode().unwrap();
    let (st, body) = send(&h, wire::paths::TENANT_CONFIG, req, 2).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_new_frames_are_signed_and_replay_guarded_like_turns() {
    let h = harness().await;
    h.tenant("acme").await;
    let wk = widget_key(&h, "acme").await;
    let req = TenantConfigRequest::new(wk).encode().unwrap();
    let now = kefu_regional::store::now_ms();
    let (st, _) = signed(
        &h,
        Method::POST,
        wire::paths::TENANT_CONFIG,
        req.clone(),
        nonce(1),
        now,
        "not-the-edge-key-0123456789",
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = signed(
        &h,
        Method::POST,
        wire::paths::TENANT_CONFIG,
        req.clone(),
        nonce(2),
        now,
        EDGE_KEY,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = signed(
        &h,
        Method::POST,
        wire::paths::TENANT_CONFIG,
        req,
        nonce(2),
        now,
        EDGE_KEY,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "the same nonce again is a replay");
    // A session frame signed for another path does not verify here.
    let s = SessionRequest::fetch(
        TenantId::new("acme").unwrap(),
        ConversationId::new("c_x").unwrap(),
        VisitorId::new("visitor-1").unwrap(),
    )
    .encode()
    .unwrap();
    let sig = wire::sign(EDGE_KEY.as_bytes(), now, &nonce(3), wire::paths::TURN, &s)
        .unwrap()
        .to_header();
    let req = Request::builder()
        .method(Method::POST)
        .uri(wire::paths::SESSION)
        .header("content-type", "application/msgpack")
        .header(wire::SIGNATURE_HEADER, sig)
        .body(Body::from(s))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
}
