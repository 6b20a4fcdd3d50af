//! Session tests. The golden record was produced once by
//! `rmp_serde::to_vec_named(&fixture())` (rmp-serde 1.3.1, an encoder
//! independent of ours) and printed as hex; `golden_session_reads_with_rmp_serde`
//! reads it back with `rmp_serde` into plain mirror structs. It was produced
//! again when sessions began numbering their turns from 1, as the regional
//! store does (four hex digits changed: the three seqs and `next_seq`).

use super::*;
use alloc::string::ToString;
use alloc::vec;
use hex_literal::hex;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

fn ids() -> (TenantId, ConversationId, VisitorId) {
    (
        TenantId::new("acme-bank").unwrap(),
        ConversationId::new("c-20240601-0001").unwrap(),
        VisitorId::new("v-42").unwrap(),
    )
}

const T0: u64 = 1_717_200_000_000;

fn fixture() -> Session {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    s.push_turn(
        Turn::new(Role::Visitor, "我忘记密码了怎么办？").with_client_msg_id("m-1"),
        T0 + 1_000,
    )
    .unwrap();
    s.push_turn(
        Turn::new(
            Role::Bot,
            "您可以在登录页点击“忘记密码”，验证手机号后重置。",
        )
        .with_source(Source::Faq)
        .with_citations(vec![Citation {
            id: "faq-12".to_string(),
            title: "重置登录密码".to_string(),
            url: Some("https://help.example.com/pwd".to_string()),
            snippet: None,
        }]),
        T0 + 1_800,
    )
    .unwrap();
    s.push_turn(
        Turn::new(Role::Visitor, "still locked out, I want a human").with_client_msg_id("m-2"),
        T0 + 60_000,
    )
    .unwrap();
    s.kb_version = KbVersion(7);
    s.set_escalation(350, T0 + 60_000);
    s.set_state(ConversationState::QueuedForHuman, T0 + 60_500);
    s
}

// See the module doc for how this was produced.
const GOLDEN: &[u8] = &hex!(
    "8ca17601a674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf632d32303234303630312d3030"
    "3031a776697369746f72a4762d3432a86e6578745f73657104a57374617465b07175657565645f666f725f68756d616e"
    "a57475726e739387a373657101a4726f6c65a776697369746f72a474657874bee68891e5bf98e8aeb0e5af86e7a081e4"
    "ba86e6808ee4b988e58a9eefbc9fa6736f75726365c0a96369746174696f6e7390a561745f6d73cf0000018fd11897e8"
    "ad636c69656e745f6d73675f6964a36d2d3187a373657102a4726f6c65a3626f74a474657874d94be682a8e58fafe4bb"
    "a5e59ca8e799bbe5bd95e9a1b5e782b9e587bbe2809ce5bf98e8aeb0e5af86e7a081e2809defbc8ce9aa8ce8af81e689"
    "8be69cbae58fb7e5908ee9878de7bdaee38082a6736f75726365a3666171a96369746174696f6e739184a26964a66661"
    "712d3132a57469746c65b2e9878de7bdaee799bbe5bd95e5af86e7a081a375726cbc68747470733a2f2f68656c702e65"
    "78616d706c652e636f6d2f707764a7736e6970706574c0a561745f6d73cf0000018fd1189b08ad636c69656e745f6d73"
    "675f6964c087a373657103a4726f6c65a776697369746f72a474657874d9207374696c6c206c6f636b6564206f75742c"
    "20492077616e7420612068756d616ea6736f75726365c0a96369746174696f6e7390a561745f6d73cf0000018fd1197e"
    "60ad636c69656e745f6d73675f6964a36d2d32aa657363616c6174696f6ecd015eb066616c6c6261636b735f696e5f72"
    "6f7700aa6b625f76657273696f6e07aa637265617465645f6d73cf0000018fd1189400aa757064617465645f6d73cf00"
    "00018fd1198054"
);

/// The record's shape in plain serde types, independent of kefu's types.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct MirrorSession {
    v: u8,
    tenant: String,
    conversation: String,
    visitor: String,
    next_seq: u64,
    state: String,
    turns: Vec<MirrorTurn>,
    escalation: u16,
    fallbacks_in_row: u8,
    kb_version: u64,
    created_ms: u64,
    updated_ms: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct MirrorTurn {
    seq: u64,
    role: String,
    text: String,
    source: Option<String>,
    citations: Vec<MirrorCitation>,
    at_ms: u64,
    client_msg_id: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct MirrorCitation {
    id: String,
    title: String,
    url: Option<String>,
    snippet: Option<String>,
}

fn mirror() -> MirrorSession {
    rmp_serde::from_slice(GOLDEN).unwrap()
}

fn reencode(m: &MirrorSession) -> Vec<u8> {
    rmp_serde::to_vec_named(m).unwrap()
}

#[test]
fn golden_encoding_is_stable_and_matches_rmp_serde() {
    let s = fixture();
    assert_eq!(s.encode().unwrap(), GOLDEN);
    assert_eq!(rmp_serde::to_vec_named(&s).unwrap(), GOLDEN);
    assert_eq!(Session::decode(GOLDEN).unwrap(), s);
}

#[test]
fn golden_session_reads_with_rmp_serde() {
    let m = mirror();
    assert_eq!(m.v, 1);
    assert_eq!(m.tenant, "acme-bank");
    assert_eq!(m.state, "queued_for_human");
    assert_eq!(m.turns.len(), 3);
    assert_eq!(m.turns[0].role, "visitor");
    assert_eq!(m.turns[0].text, "我忘记密码了怎么办？");
    assert_eq!(m.turns[1].source.as_deref(), Some("faq"));
    assert_eq!(m.turns[1].citations[0].title, "重置登录密码");
    assert_eq!((m.escalation, m.kb_version, m.next_seq), (350, 7, 4));
    assert_eq!(
        m.turns[0].seq, 1,
        "the first turn is 1, as in the regional store"
    );
    assert_eq!(m.updated_ms, T0 + 60_500);
    // "v" is the first key of the map: fixmap(12), fixstr "v", 1.
    assert_eq!(&GOLDEN[..3], &[0x8c, 0xa1, b'v']);
    assert_eq!(GOLDEN[3], 1);
}

/// A v1 record written before `escalation`, `fallbacks_in_row`,
/// `kb_version` and the turn fields `source`, `citations`, `client_msg_id`
/// existed: all carry `#[serde(default)]`, so it still decodes.
#[test]
fn older_shaped_v1_record_still_decodes() {
    #[derive(Serialize)]
    struct EarlyTurn {
        seq: u64,
        role: &'static str,
        text: &'static str,
        at_ms: u64,
    }
    #[derive(Serialize)]
    struct EarlySession {
        v: u8,
        tenant: &'static str,
        conversation: &'static str,
        visitor: &'static str,
        next_seq: u64,
        state: &'static str,
        turns: Vec<EarlyTurn>,
        created_ms: u64,
        updated_ms: u64,
    }
    let early = EarlySession {
        v: 1,
        tenant: "acme-bank",
        conversation: "c-20240601-0001",
        visitor: "v-42",
        next_seq: 1,
        state: "ai",
        turns: vec![EarlyTurn {
            seq: 0,
            role: "visitor",
            text: "怎么开发票",
            at_ms: T0 + 5,
        }],
        created_ms: T0,
        updated_ms: T0 + 5,
    };
    let s = Session::decode(&rmp_serde::to_vec_named(&early).unwrap()).unwrap();
    assert_eq!(s.tenant().as_str(), "acme-bank");
    assert_eq!(s.state(), ConversationState::Ai);
    assert_eq!(
        (s.escalation(), s.fallbacks_in_row, s.kb_version),
        (0, 0, KbVersion(0))
    );
    let t = &s.turns()[0];
    assert_eq!(
        (t.text.as_str(), t.source, t.citations.len()),
        ("怎么开发票", None, 0)
    );
    assert_eq!(t.client_msg_id, None);
    // Re-encoding writes the current shape, which decodes to the same value.
    assert_eq!(Session::decode(&s.encode().unwrap()).unwrap(), s);
}

#[test]
fn unknown_fields_from_a_newer_build_are_ignored() {
    #[derive(Serialize)]
    struct Newer {
        #[serde(flatten)]
        base: MirrorSession,
        mood: &'static str,
        extra: Vec<Vec<u32>>,
    }
    let bytes = rmp_serde::to_vec_named(&Newer {
        base: mirror(),
        mood: "anxious",
        extra: vec![vec![1, 2], vec![]],
    })
    .unwrap();
    assert_eq!(Session::decode(&bytes).unwrap(), fixture());
}

#[test]
fn unknown_versions_are_refused() {
    for v in [0u8, 2, 255] {
        let mut m = mirror();
        m.v = v;
        assert!(rmp_serde::from_slice::<Session>(&reencode(&m)).is_err());
        assert_eq!(
            Session::decode(&reencode(&m)).unwrap_err(),
            Error::UnsupportedVersion {
                found: v,
                supported: CURRENT_VERSION
            }
        );
    }
}

#[test]
fn push_assigns_sequence_numbers_and_window_evicts_oldest() {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    for i in 0..(MAX_WINDOW_TURNS as u64 + 5) {
        let seq = s
            .push_turn(Turn::new(Role::Visitor, alloc::format!("msg {i}")), T0 + i)
            .unwrap();
        assert_eq!(seq, i + 1, "numbered from 1");
    }
    assert_eq!(s.turns().len(), MAX_WINDOW_TURNS);
    assert_eq!(s.turns()[0].seq, 6);
    assert_eq!(s.turns()[0].text, "msg 5");
    assert_eq!(s.next_seq(), MAX_WINDOW_TURNS as u64 + 6);
    assert_eq!(Session::decode(&s.encode().unwrap()).unwrap(), s);
}

#[test]
fn clock_going_backwards_never_moves_time_back() {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    s.push_turn(Turn::new(Role::Visitor, "a"), T0 + 1_000)
        .unwrap();
    s.push_turn(Turn::new(Role::Bot, "b").with_source(Source::Llm), T0 + 400)
        .unwrap();
    assert_eq!(s.updated_ms(), T0 + 1_000);
    assert_eq!(s.turns()[1].at_ms, T0 + 1_000);
    s.set_state(ConversationState::Closed, T0);
    assert_eq!(s.updated_ms(), T0 + 1_000);
    s.touch(T0 + 2_000);
    assert_eq!(s.updated_ms(), T0 + 2_000);
    // And the result is a valid record.
    assert_eq!(Session::decode(&s.encode().unwrap()).unwrap(), s);
}

#[test]
fn fallbacks_in_row_counts_consecutive_fallback_answers() {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    let bot = |src| Turn::new(Role::Bot, "…").with_source(src);
    s.push_turn(bot(Source::Fallback), T0).unwrap();
    s.push_turn(Turn::new(Role::Visitor, "?"), T0).unwrap();
    s.push_turn(bot(Source::Fallback), T0).unwrap();
    s.push_turn(bot(Source::Ack), T0).unwrap();
    assert_eq!(s.fallbacks_in_row, 2);
    s.push_turn(bot(Source::Kb), T0).unwrap();
    assert_eq!(s.fallbacks_in_row, 0);
    s.fallbacks_in_row = u8::MAX;
    s.push_turn(bot(Source::Fallback), T0).unwrap();
    assert_eq!(s.fallbacks_in_row, u8::MAX);
}

#[test]
fn retried_client_message_is_found() {
    let s = fixture();
    assert_eq!(s.find_client_msg("m-2").map(|t| t.seq), Some(3));
    assert!(s.find_client_msg("m-3").is_none());
}

#[test]
fn oversized_turns_are_refused_and_leave_the_session_unchanged() {
    let mut s = fixture();
    let before = s.clone();
    let long = "字".repeat(MAX_TURN_TEXT_BYTES / 3 + 1);
    assert!(matches!(
        s.push_turn(Turn::new(Role::Bot, long), T0),
        Err(Error::TooLarge(_))
    ));
    let cite = Citation {
        id: "x".to_string(),
        title: "t".to_string(),
        url: None,
        snippet: Some("s".repeat(MAX_CITATION_FIELD_BYTES + 1)),
    };
    assert!(matches!(
        s.push_turn(Turn::new(Role::Bot, "ok").with_citations(vec![cite]), T0),
        Err(Error::TooLarge(_))
    ));
    let many = vec![fixture().turns()[1].citations[0].clone(); MAX_CITATIONS + 1];
    assert!(
        s.push_turn(Turn::new(Role::Bot, "ok").with_citations(many), T0)
            .is_err()
    );
    let id = "m".repeat(MAX_CLIENT_MSG_ID_BYTES + 1);
    assert!(
        s.push_turn(Turn::new(Role::Visitor, "ok").with_client_msg_id(id), T0)
            .is_err()
    );
    assert_eq!(s, before);
}

#[test]
fn a_session_at_every_maximum_round_trips_within_limits() {
    let (t, c, v) = ids();
    let mut s = Session::new(t, c, v, T0);
    let field = "é".repeat(MAX_CITATION_FIELD_BYTES / 2);
    let cite = Citation {
        id: field.clone(),
        title: field.clone(),
        url: Some(field.clone()),
        snippet: Some(field),
    };
    for _ in 0..MAX_WINDOW_TURNS {
        let turn = Turn::new(Role::Bot, "x".repeat(MAX_TURN_TEXT_BYTES))
            .with_source(Source::Llm)
            .with_citations(vec![cite.clone(); MAX_CITATIONS])
            .with_client_msg_id("m".repeat(MAX_CLIENT_MSG_ID_BYTES));
        s.push_turn(turn, u64::MAX).unwrap();
    }
    s.set_escalation(u16::MAX, u64::MAX);
    assert_eq!(s.escalation(), MAX_ESCALATION);
    let bytes = s.encode().unwrap();
    assert!(bytes.len() <= SESSION_LIMITS.max_bytes, "{}", bytes.len());
    assert_eq!(Session::decode(&bytes).unwrap(), s);
}

#[test]
fn damaged_records_are_refused() {
    type Damage = fn(&mut MirrorSession);
    let cases: Vec<(&str, Damage)> = vec![
        ("seq not increasing", |m| m.turns[1].seq = 0),
        ("seq beyond next_seq", |m| m.next_seq = 2),
        ("turn before creation", |m| m.turns[0].at_ms = T0 - 1),
        ("turn after updated", |m| m.updated_ms = T0 + 59_999),
        ("escalation above max", |m| {
            m.escalation = MAX_ESCALATION + 1
        }),
        ("unknown state", |m| m.state = "escalated".to_string()),
        ("unknown source", |m| {
            m.turns[1].source = Some("web".to_string())
        }),
        ("bad tenant id", |m| m.tenant = "acme bank".to_string()),
        ("too many turns", |m| {
            let t = m.turns[2].clone();
            m.turns = (0..MAX_WINDOW_TURNS as u64 + 1)
                .map(|i| MirrorTurn {
                    seq: i,
                    ..t.clone()
                })
                .collect();
            m.next_seq = 100;
        }),
        ("text too long", |m| {
            m.turns[0].text = "x".repeat(MAX_TURN_TEXT_BYTES + 1)
        }),
    ];
    for (what, damage) in cases {
        let mut m = mirror();
        damage(&mut m);
        let bytes = reencode(&m);
        let r = Session::decode(&bytes);
        assert!(
            matches!(r, Err(Error::Decode(_) | Error::TooLarge(_))),
            "{what}: {r:?}"
        );
        // Plain serde, with no pre-scan, still cannot build a broken Session.
        assert!(rmp_serde::from_slice::<Session>(&bytes).is_err(), "{what}");
    }
    // The undamaged mirror re-encodes to a record that decodes.
    assert!(Session::decode(&reencode(&mirror())).is_ok());
}

#[test]
fn debug_output_does_not_contain_conversation_text() {
    let dbg = alloc::format!("{:?}", fixture());
    assert!(!dbg.contains("密码"), "{dbg}");
    assert!(!dbg.contains("locked out"), "{dbg}");
    assert!(dbg.contains("acme-bank"));
}

/// What `Session::decode` did before it bounded a record while decoding
/// it: the whole pre-scan first, then the version, then deserialisation.
fn decode_after_full_scan(bytes: &[u8]) -> Result<Session> {
    codec::scan(bytes, &SESSION_LIMITS)?;
    match codec::read_version_field(bytes, "v")? {
        1 => Session::try_from(codec::decode_scanned::<SessionV1>(bytes)?),
        found => Err(Error::UnsupportedVersion {
            found,
            supported: CURRENT_VERSION,
        }),
    }
}

fn any_turn() -> impl Strategy<Value = Turn> {
    let role = prop_oneof![
        Just(Role::Visitor),
        Just(Role::Bot),
        Just(Role::Agent),
        Just(Role::System)
    ];
    let source = proptest::option::of(prop_oneof![
        Just(Source::Cache),
        Just(Source::Faq),
        Just(Source::Kb),
        Just(Source::Llm),
        Just(Source::Agent),
        Just(Source::Fallback),
        Just(Source::Ack),
        Just(Source::LeaveMessage)
    ]);
    (
        role,
        "\\PC{0,30}",
        source,
        proptest::option::of("[a-z0-9-]{1,20}"),
    )
        .prop_map(|(role, text, source, id)| {
            let mut t = Turn::new(role, text);
            t.source = source;
            t.client_msg_id = id;
            t
        })
}

proptest! {
    #[test]
    fn any_push_sequence_keeps_invariants_and_round_trips(
        pushes in proptest::collection::vec((any_turn(), 0u64..10_000), 0..30),
    ) {
        let (t, c, v) = ids();
        let mut s = Session::new(t, c, v, 5_000);
        let mut last_updated = s.updated_ms();
        for (turn, now) in pushes {
            s.push_turn(turn, now).unwrap();
            prop_assert!(s.updated_ms() >= last_updated);
            last_updated = s.updated_ms();
        }
        prop_assert!(s.turns().len() <= MAX_WINDOW_TURNS);
        let bytes = s.encode().unwrap();
        prop_assert_eq!(&bytes, &rmp_serde::to_vec_named(&s).unwrap());
        prop_assert_eq!(Session::decode(&bytes).unwrap(), s);
    }

    #[test]
    fn mutated_golden_never_panics(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = GOLDEN.to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let one_pass = Session::decode(&bytes);
        if let Ok(s) = &one_pass {
            // Whatever is accepted is a valid session.
            prop_assert_eq!(&Session::decode(&s.encode().unwrap()).unwrap(), s);
        }
        // The one-pass decode accepts exactly what the full pre-scan
        // followed by deserialisation accepts.
        match (&one_pass, &decode_after_full_scan(&bytes)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "one pass {:?}, after scan {:?}", a, b),
        }
    }
}
