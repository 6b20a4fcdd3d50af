//! Wire tests. Golden frames were produced once with
//! `rmp_serde::to_vec_named` (rmp-serde 1.3.1, independent of our encoder)
//! on the fixtures below and printed as hex. The known signature was computed
//! independently with Python 3.11's `hmac` and `hashlib.new("sm3")`
//! (OpenSSL 3) over the canonical string documented in `sign.rs`.

use super::*;
use crate::session::{Citation, ConversationState, MAX_TURN_TEXT_BYTES, Role, Session, Source};
use crate::{ConversationId, KbVersion, Locale, TenantId, VisitorId};
use alloc::string::{String, ToString};
use alloc::vec;
use hex_literal::hex;
use proptest::prelude::*;

const T0: u64 = 1_717_200_000_000;

fn tenant() -> TenantId {
    TenantId::new("acme-bank").unwrap()
}
fn conv() -> ConversationId {
    ConversationId::new("c-20240601-0001").unwrap()
}
fn visitor() -> VisitorId {
    VisitorId::new("v-42").unwrap()
}
fn cite() -> Citation {
    Citation {
        id: "kb-annual-fee".to_string(),
        title: "信用卡年费说明".to_string(),
        url: Some("https://help.example.com/card/fee".to_string()),
        snippet: Some("首年免年费".to_string()),
    }
}

fn request() -> TurnRequest {
    TurnRequest {
        v: WIRE_VERSION,
        tenant: tenant(),
        conversation: Some(conv()),
        visitor: visitor(),
        client_msg_id: "m-3".to_string(),
        text: "信用卡年费怎么收？".to_string(),
        locale: Locale::Zh,
        edge_seq: Some(2),
        edge_kb: Some(KbVersion(7)),
        at_ms: T0 + 120_000,
    }
}

fn response() -> TurnResponse {
    TurnResponse {
        v: WIRE_VERSION,
        conversation: conv(),
        seq: 4,
        answer: "信用卡首年免年费，次年刷卡满6次免年费。".to_string(),
        source: Source::Kb,
        citations: vec![cite()],
        cacheable: Some(Cacheability {
            ttl_ms: 3_600_000,
            kb_version: KbVersion(7),
        }),
        handoff: HandoffState::None,
        brownout: 1,
    }
}

fn health() -> Health {
    Health {
        v: WIRE_VERSION,
        brownout: 0,
        kb_version: KbVersion(7),
        ready: true,
    }
}

fn report() -> EdgeReport {
    EdgeReport {
        v: WIRE_VERSION,
        turns: vec![
            ReportedTurn {
                tenant: tenant(),
                conversation: conv(),
                visitor: visitor(),
                client_msg_id: "m-5".to_string(),
                question: "运费怎么算".to_string(),
                answer: "全场满99元包邮。".to_string(),
                source: Source::Cache,
                citations: vec![],
                kb_version: KbVersion(7),
                at_ms: T0 + 200_000,
            },
            ReportedTurn {
                tenant: tenant(),
                conversation: conv(),
                visitor: visitor(),
                client_msg_id: "m-6".to_string(),
                question: "我要退货".to_string(),
                answer: "已收到您的消息，客服恢复后会第一时间回复您。".to_string(),
                source: Source::Ack,
                citations: vec![],
                kb_version: KbVersion(0),
                at_ms: T0 + 260_000,
            },
        ],
    }
}

// Golden frames: see the module doc for provenance.
const GOLDEN_REQUEST: &[u8] = &hex!(
    "8aa17601a674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf632d32303234303630312d3030"
    "3031a776697369746f72a4762d3432ad636c69656e745f6d73675f6964a36d2d33a474657874bbe4bfa1e794a8e58da1"
    "e5b9b4e8b4b9e6808ee4b988e694b6efbc9fa66c6f63616c65a27a68a8656467655f73657102a7656467655f6b6207a5"
    "61745f6d73cf0000018fd11a68c0"
);
const GOLDEN_RESPONSE: &[u8] = &hex!(
    "89a17601ac636f6e766572736174696f6eaf632d32303234303630312d30303031a373657104a6616e73776572d93ae4"
    "bfa1e794a8e58da1e9a696e5b9b4e5858de5b9b4e8b4b9efbc8ce6aca1e5b9b4e588b7e58da1e6bba136e6aca1e5858d"
    "e5b9b4e8b4b9e38082a6736f75726365a26b62a96369746174696f6e739184a26964ad6b622d616e6e75616c2d666565"
    "a57469746c65b5e4bfa1e794a8e58da1e5b9b4e8b4b9e8afb4e6988ea375726cd92168747470733a2f2f68656c702e65"
    "78616d706c652e636f6d2f636172642f666565a7736e6970706574afe9a696e5b9b4e5858de5b9b4e8b4b9a963616368"
    "6561626c6582a674746c5f6d73ce0036ee80aa6b625f76657273696f6e07a768616e646f6666a46e6f6e65a862726f77"
    "6e6f757401"
);
const GOLDEN_HEALTH: &[u8] =
    &hex!("84a17601a862726f776e6f757400aa6b625f76657273696f6e07a57265616479c3");
const GOLDEN_REPORT: &[u8] = &hex!(
    "82a17601a57475726e73928aa674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf632d323032"
    "34303630312d30303031a776697369746f72a4762d3432ad636c69656e745f6d73675f6964a36d2d35a8717565737469"
    "6f6eafe8bf90e8b4b9e6808ee4b988e7ae97a6616e73776572b7e585a8e59cbae6bba13939e58583e58c85e982aee380"
    "82a6736f75726365a56361636865a96369746174696f6e7390aa6b625f76657273696f6e07a561745f6d73cf0000018f"
    "d11ba1408aa674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf632d32303234303630312d30"
    "303031a776697369746f72a4762d3432ad636c69656e745f6d73675f6964a36d2d36a87175657374696f6eace68891e8"
    "a681e98080e8b4a7a6616e73776572d942e5b7b2e694b6e588b0e682a8e79a84e6b688e681afefbc8ce5aea2e69c8de6"
    "81a2e5a48de5908ee4bc9ae7acace4b880e697b6e997b4e59b9ee5a48de682a8e38082a6736f75726365a361636ba963"
    "69746174696f6e7390aa6b625f76657273696f6e00a561745f6d73cf0000018fd11c8ba0"
);

fn golden_case<F: Frame + PartialEq + core::fmt::Debug>(value: F, golden: &[u8]) {
    assert_eq!(value.encode().unwrap(), golden);
    assert_eq!(rmp_serde::to_vec_named(&value).unwrap(), golden);
    assert_eq!(F::decode(golden).unwrap(), value);
    // "v" is the first key, value WIRE_VERSION: fixmap, fixstr "v", 1.
    assert_eq!(&golden[1..4], &[0xa1, b'v', WIRE_VERSION]);
}

#[test]
fn golden_turn_request() {
    golden_case(request(), GOLDEN_REQUEST);
}

#[test]
fn golden_turn_response() {
    golden_case(response(), GOLDEN_RESPONSE);
}

#[test]
fn golden_health() {
    golden_case(health(), GOLDEN_HEALTH);
}

#[test]
fn golden_edge_report() {
    golden_case(report(), GOLDEN_REPORT);
}

#[test]
fn golden_frames_read_with_rmp_serde_as_plain_maps() {
    use std::collections::BTreeMap;
    type Map = BTreeMap<String, rmpv_like::Value>;
    let req: Map = rmp_serde::from_slice(GOLDEN_REQUEST).unwrap();
    assert_eq!(
        req["text"],
        rmpv_like::Value::Str("信用卡年费怎么收？".to_string())
    );
    assert_eq!(req["locale"], rmpv_like::Value::Str("zh".to_string()));
    assert_eq!(req["edge_seq"], rmpv_like::Value::U64(2));
    let resp: Map = rmp_serde::from_slice(GOLDEN_RESPONSE).unwrap();
    assert_eq!(resp["source"], rmpv_like::Value::Str("kb".to_string()));
    assert_eq!(resp["handoff"], rmpv_like::Value::Str("none".to_string()));
    assert_eq!(resp["brownout"], rmpv_like::Value::U64(1));
    let health: Map = rmp_serde::from_slice(GOLDEN_HEALTH).unwrap();
    assert_eq!(health["ready"], rmpv_like::Value::Bool(true));
}

/// Just enough of a dynamic MessagePack value to read frames without kefu's
/// types.
mod rmpv_like {
    use alloc::collections::BTreeMap;
    use alloc::string::String;
    use alloc::vec::Vec;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    pub enum Value {
        Nil(()),
        Bool(bool),
        U64(u64),
        Str(String),
        Seq(Vec<Value>),
        Map(BTreeMap<String, Value>),
    }
}

#[test]
fn newer_and_zero_versions_are_refused() {
    for v in [0u8, WIRE_VERSION + 1, 0x7f] {
        let mut bytes = GOLDEN_REQUEST.to_vec();
        bytes[3] = v;
        assert_eq!(
            TurnRequest::decode(&bytes).unwrap_err(),
            Error::UnsupportedVersion {
                found: v,
                supported: WIRE_VERSION
            }
        );
        let mut bytes = GOLDEN_HEALTH.to_vec();
        bytes[3] = v;
        assert!(matches!(
            Health::decode(&bytes),
            Err(Error::UnsupportedVersion { .. })
        ));
    }
    let mut r = request();
    r.v = 2;
    assert_eq!(
        r.encode().unwrap_err(),
        Error::Invalid("frames are written at WIRE_VERSION")
    );
}

#[test]
fn additive_changes_decode_both_ways() {
    // An older edge that predates `edge_seq` and `edge_kb`.
    #[derive(serde::Serialize)]
    struct OldRequest<'a> {
        v: u8,
        tenant: &'a str,
        conversation: Option<&'a str>,
        visitor: &'a str,
        client_msg_id: &'a str,
        text: &'a str,
        locale: &'a str,
        at_ms: u64,
    }
    let old = rmp_serde::to_vec_named(&OldRequest {
        v: 1,
        tenant: "acme-bank",
        conversation: None,
        visitor: "v-42",
        client_msg_id: "m-1",
        text: "hello",
        locale: "en",
        at_ms: T0,
    })
    .unwrap();
    let r = TurnRequest::decode(&old).unwrap();
    assert!(r.is_first_turn());
    assert_eq!((r.edge_seq, r.edge_kb, r.locale), (None, None, Locale::En));

    // A newer regional that added a field this build does not know.
    #[derive(serde::Serialize)]
    struct NewerHealth {
        v: u8,
        brownout: u8,
        kb_version: u64,
        ready: bool,
        region: &'static str,
    }
    let newer = rmp_serde::to_vec_named(&NewerHealth {
        v: 1,
        brownout: 2,
        kb_version: 9,
        ready: false,
        region: "cn-east",
    })
    .unwrap();
    let h = Health::decode(&newer).unwrap();
    assert_eq!(
        (h.brownout, h.kb_version, h.ready),
        (2, KbVersion(9), false)
    );
}

#[test]
fn frame_invariants_hold_on_encode_and_decode() {
    let mut r = response();
    r.brownout = MAX_BROWNOUT + 1;
    assert!(matches!(r.encode(), Err(Error::Invalid(_))));
    let mut bytes = GOLDEN_HEALTH.to_vec();
    // Health's brownout value is the byte after the "brownout" key.
    let at = bytes.windows(8).position(|w| w == b"brownout").unwrap() + 8;
    bytes[at] = 4;
    assert!(matches!(Health::decode(&bytes), Err(Error::Invalid(_))));

    let mut q = request();
    q.text = String::new();
    assert!(q.encode().is_err());
    q.text = "长".repeat(MAX_VISITOR_TEXT_BYTES / 3 + 1);
    assert!(matches!(q.encode(), Err(Error::TooLarge(_))));
    // A hand-built oversized request is refused by the decoder's scan.
    assert!(matches!(
        TurnRequest::decode(&rmp_serde::to_vec_named(&q).unwrap()),
        Err(Error::TooLarge(_))
    ));
    q.text = "ok".to_string();
    q.client_msg_id = "has space".to_string();
    assert!(q.encode().is_err());

    let mut rep = report();
    rep.turns[0].source = Source::Llm;
    assert!(matches!(rep.encode(), Err(Error::Invalid(_))));
    assert!(matches!(
        EdgeReport::decode(&rmp_serde::to_vec_named(&rep).unwrap()),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn an_edge_report_past_its_byte_bound_is_refused_by_the_sender() {
    let mut rep = EdgeReport::new();
    let t = ReportedTurn {
        answer: "答".repeat(MAX_TURN_TEXT_BYTES / 3),
        ..report().turns[0].clone()
    };
    rep.turns = vec![t; MAX_REPORT_TURNS];
    assert_eq!(
        rep.encode().unwrap_err(),
        Error::TooLarge("frame longer than its max_bytes")
    );
    rep.turns.truncate(MAX_REPORT_TURNS / 2);
    assert!(EdgeReport::decode(&rep.encode().unwrap()).is_ok());
}

#[test]
fn applying_a_report_twice_records_each_turn_once() {
    let mut s = Session::new(tenant(), conv(), visitor(), T0);
    let rep = EdgeReport::decode(GOLDEN_REPORT).unwrap();
    for t in &rep.turns {
        assert!(t.apply(&mut s, T0 + 1_000_000).unwrap());
    }
    let after_once = s.clone();
    for t in &rep.turns {
        assert!(!t.apply(&mut s, T0 + 2_000_000).unwrap());
    }
    assert_eq!(s, after_once);
    assert_eq!(s.turns().len(), 4);
    assert_eq!(s.turns()[0].role, Role::Visitor);
    assert_eq!(s.turns()[0].client_msg_id.as_deref(), Some("m-5"));
    assert_eq!(s.turns()[1].source, Some(Source::Cache));
    assert_eq!(s.turns()[3].source, Some(Source::Ack));
    assert_eq!(s.kb_version, KbVersion(7));
    assert_eq!(s.state(), ConversationState::Ai);

    let mut other = Session::new(
        tenant(),
        ConversationId::new("c-other").unwrap(),
        visitor(),
        T0,
    );
    assert!(matches!(
        rep.turns[0].apply(&mut other, T0),
        Err(Error::Invalid(_))
    ));
    // An edge clock running ahead cannot push the session into the future.
    let mut fresh = Session::new(tenant(), conv(), visitor(), T0);
    rep.turns[0].apply(&mut fresh, T0 + 10).unwrap();
    assert_eq!(fresh.updated_ms(), T0 + 10);
}

#[test]
fn debug_output_does_not_contain_plaintext() {
    let all = alloc::format!("{:?} {:?} {:?}", request(), response(), report());
    for secret in ["信用卡", "运费", "退货", "包邮"] {
        assert!(!all.contains(secret), "{all}");
    }
}

// ---- signatures ----

const KEY: &[u8] = b"kefu-demo-key-0123456789abcdef!!";
const NONCE: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
const TS: u64 = 1_717_200_120_000;
// Computed with Python (see the module doc) over GOLDEN_REQUEST on /v1/turn.
const KNOWN_HEADER: &str = "v1,t=1717200120000,n=000102030405060708090a0b0c0d0e0f,\
s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8";
// The same key, time and nonce over an empty body on /v1/health.
const KNOWN_HEALTH_HEADER: &str = "v1,t=1717200120000,n=000102030405060708090a0b0c0d0e0f,\
s=4fe9e5be5b8416cfcf3ba4371b17dc5b5f17b9be51fd64e3437ff179eceac57a";

fn guard() -> ReplayGuard {
    ReplayGuard::new(DEFAULT_REPLAY_CAPACITY)
}

#[test]
fn sm3_matches_the_gmt_0004_vector() {
    // GM/T 0004-2012 (GB/T 32905-2016) Appendix A example 1: SM3("abc").
    assert_eq!(
        body_digest(b"abc"),
        hex!("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
}

#[test]
fn known_signatures_match_an_independent_implementation() {
    let sig = sign(KEY, TS, &NONCE, paths::TURN, GOLDEN_REQUEST).unwrap();
    assert_eq!(sig.to_header(), KNOWN_HEADER);
    assert_eq!(Signature::parse(KNOWN_HEADER).unwrap(), sig);
    let sig = sign(KEY, TS, &NONCE, paths::HEALTH, b"").unwrap();
    assert_eq!(sig.to_header(), KNOWN_HEALTH_HEADER);
    let mut g = guard();
    assert_eq!(
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g
        ),
        Ok(())
    );
}

#[test]
fn timestamps_outside_the_window_are_stale_both_ways() {
    let w = DEFAULT_WINDOW_MS;
    let check = |now| {
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            now,
            w,
            &mut guard(),
        )
    };
    assert_eq!(check(TS + w + 1), Err(Error::Stale)); // signed too long ago
    assert_eq!(check(TS - w - 1), Err(Error::Stale)); // signed in the future
    assert_eq!(check(TS + w), Ok(()));
    assert_eq!(check(TS - w), Ok(()));
    assert_eq!(check(0), Err(Error::Stale));
    assert_eq!(check(u64::MAX), Err(Error::Stale));
}

#[test]
fn a_replayed_request_is_refused() {
    let mut g = guard();
    let v = |g: &mut ReplayGuard, now| {
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            now,
            DEFAULT_WINDOW_MS,
            g,
        )
    };
    assert_eq!(v(&mut g, TS), Ok(()));
    assert_eq!(v(&mut g, TS + 1), Err(Error::Replay));
    assert_eq!(v(&mut g, TS + DEFAULT_WINDOW_MS), Err(Error::Replay));
    // Past the window it is stale, whatever the guard forgot.
    g.evict_expired(TS + DEFAULT_WINDOW_MS + 1);
    assert!(g.is_empty());
    assert_eq!(v(&mut g, TS + DEFAULT_WINDOW_MS + 1), Err(Error::Stale));
}

#[test]
fn tampering_with_anything_signed_breaks_the_signature() {
    let ok = |h: &str, path: &str, body: &[u8]| {
        verify(KEY, h, path, body, TS, DEFAULT_WINDOW_MS, &mut guard())
    };
    assert_eq!(ok(KNOWN_HEADER, paths::TURN, GOLDEN_REQUEST), Ok(()));
    let mut body = GOLDEN_REQUEST.to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    assert_eq!(
        ok(KNOWN_HEADER, paths::TURN, &body),
        Err(Error::BadSignature)
    );
    assert_eq!(
        ok(KNOWN_HEADER, paths::REPORT, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    assert_eq!(
        ok(KNOWN_HEADER, "/v1/turn/", GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let moved_ts = KNOWN_HEADER.replace("t=1717200120000", "t=1717200120001");
    assert_eq!(
        ok(&moved_ts, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let other_nonce = KNOWN_HEADER.replace("n=00", "n=01");
    assert_eq!(
        ok(&other_nonce, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let other_mac = KNOWN_HEADER.replace("s=8e", "s=8f");
    assert_eq!(
        ok(&other_mac, paths::TURN, GOLDEN_REQUEST),
        Err(Error::BadSignature)
    );
    let wrong_key = verify(
        b"another-key-0123456789",
        KNOWN_HEADER,
        paths::TURN,
        GOLDEN_REQUEST,
        TS,
        DEFAULT_WINDOW_MS,
        &mut guard(),
    );
    assert_eq!(wrong_key, Err(Error::BadSignature));
}

#[test]
fn malformed_headers_and_short_keys_are_refused() {
    let bad = [
        "",
        "v2,t=1,n=000102030405060708090a0b0c0d0e0f,s=00",
        "v1,t=,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=-5,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=99999999999999999999,n=000102030405060708090a0b0c0d0e0f,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=1717200120000,n=000102030405060708090A0B0C0D0E0F,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,t=1717200120000,n=0001,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
        "v1,n=000102030405060708090a0b0c0d0e0f,t=1717200120000,s=8e724d7b37bea8fe3f373b19ed75b8989ac0cd261117ee73a834a233a4733bf8",
    ];
    for h in bad {
        assert_eq!(Signature::parse(h).unwrap_err(), Error::BadSignature, "{h}");
    }
    assert_eq!(
        Signature::parse(&(KNOWN_HEADER.to_string() + ",x=1")).unwrap_err(),
        Error::BadSignature
    );
    assert!(matches!(
        sign(b"short", TS, &NONCE, paths::TURN, b""),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        verify(
            b"short",
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut guard()
        ),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn forged_requests_do_not_use_up_the_guard() {
    let mut g = ReplayGuard::new(1);
    let forged = KNOWN_HEADER.replace("s=8e", "s=8f");
    for _ in 0..10 {
        let r = verify(
            KEY,
            &forged,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g,
        );
        assert_eq!(r, Err(Error::BadSignature));
    }
    assert!(g.is_empty());
    assert_eq!(
        verify(
            KEY,
            KNOWN_HEADER,
            paths::TURN,
            GOLDEN_REQUEST,
            TS,
            DEFAULT_WINDOW_MS,
            &mut g
        ),
        Ok(())
    );
}

#[test]
fn a_full_guard_fails_closed_until_entries_expire() {
    let w = DEFAULT_WINDOW_MS;
    let mut g = ReplayGuard::new(2);
    let signed = |n: u8, ts: u64| {
        let mut nonce = [0u8; 16];
        nonce[15] = n;
        (
            sign(KEY, ts, &nonce, paths::TURN, b"body")
                .unwrap()
                .to_header(),
            ts,
        )
    };
    let (a, b, c) = (signed(1, TS), signed(2, TS + 10), signed(3, TS + 20));
    let v = |g: &mut ReplayGuard, h: &str, now| verify(KEY, h, paths::TURN, b"body", now, w, g);
    assert_eq!(v(&mut g, &a.0, TS + 20), Ok(()));
    assert_eq!(v(&mut g, &b.0, TS + 20), Ok(()));
    // Full of live nonces: refuse rather than forget one.
    assert_eq!(
        v(&mut g, &c.0, TS + 20),
        Err(Error::TooLarge("replay guard is full"))
    );
    assert_eq!(g.len(), 2);
    // Once `a` expires (TS + w), its slot is reclaimed and `c` goes through,
    // while `b` is still remembered.
    assert_eq!(v(&mut g, &c.0, TS + w + 1), Ok(()));
    assert_eq!(v(&mut g, &b.0, TS + w + 1), Err(Error::Replay));
    assert_eq!(g.len(), 2);
    assert_eq!(g.capacity(), 2);
}

#[test]
fn signing_a_frame_end_to_end() {
    let body = request().encode().unwrap();
    let header = sign(KEY, TS, &NONCE, paths::TURN, &body)
        .unwrap()
        .to_header();
    let mut g = guard();
    verify(
        KEY,
        &header,
        paths::TURN,
        &body,
        TS + 5,
        DEFAULT_WINDOW_MS,
        &mut g,
    )
    .unwrap();
    let got = TurnRequest::decode(&body).unwrap();
    assert_eq!(got, request());
    // Debug of a signature shows no key.
    let dbg = alloc::format!("{:?} {:?}", Signature::parse(&header).unwrap(), g);
    assert!(!dbg.contains("kefu-demo-key"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn mutated_frames_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let golden = [GOLDEN_REQUEST, GOLDEN_RESPONSE, GOLDEN_HEALTH, GOLDEN_REPORT][which];
        let mut bytes = golden.to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let _ = TurnRequest::decode(&bytes);
        let _ = TurnResponse::decode(&bytes);
        let _ = Health::decode(&bytes);
        let _ = EdgeReport::decode(&bytes);
    }

    #[test]
    fn random_headers_never_panic_or_verify(h in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert!(verify(KEY, &h, paths::TURN, &body, TS, DEFAULT_WINDOW_MS, &mut guard()).is_err());
    }
}
