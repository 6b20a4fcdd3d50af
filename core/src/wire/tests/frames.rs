//! Frame tests: golden bytes, versioning, invariants, idempotent reports.

use super::*;
use proptest::prelude::*;

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
}
