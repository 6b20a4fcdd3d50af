//! Tests of the tenant-config and session-sync frames. Golden bytes were
//! produced with Python's `msgpack` 1.0 (`packb(..., use_bin_type=True)`)
//! from dicts written out by hand in field order, independent of both our
//! encoder and `rmp_serde`; `golden_case` checks `rmp_serde` agrees too.

use super::*;
use crate::ratelimit::{Limit, LimitOverrides};
use crate::session::Turn;
use alloc::format;

const GOLDEN_TENANT_REQUEST: &[u8] =
    &hex!("82a17601aa7769646765745f6b6579ae6b6566755f706b5f336639613263");
const GOLDEN_TENANT_CONFIG: &[u8] = &hex!(
    "8da17601a674656e616e74a961636d652d62616e6baa7769646765745f6b6579ae6b6566755f706b5f336639613263af"
    "616c6c6f7765645f6f726967696e7392b868747470733a2f2f73686f702e6578616d706c652e636f6db568747470733a"
    "2f2f6d2e6578616d706c652e636f6db6726571756972655f7369676e65645f76697369746f72c3ab76697369746f725f"
    "6b6579c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1faf76697369746f725f7369"
    "675f616c67ab686d61635f736861323536ad63616368655f616e7377657273c3ae73656d616e7469635f6361636865c2"
    "a66c696d69747384a776697369746f7282a36d61781ea977696e646f775f6d73cdea60a26970c0a674656e616e74c0b7"
    "6e65775f636f6e766572736174696f6e5f7065725f6970c0aa6b625f76657273696f6e07a862726f776e6f757400a674"
    "746c5f6d73cdea60"
);
const GOLDEN_SESSION_REQUEST: &[u8] = &hex!(
    "86a17601a674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf632d32303234303630312d3030"
    "3031a776697369746f72a4762d3432a573696e636503a7776169745f6d73cd61a8"
);
const GOLDEN_SESSION_RESPONSE: &[u8] = &hex!(
    "83a17601a773657373696f6e8ca17601a674656e616e74a961636d652d62616e6bac636f6e766572736174696f6eaf63"
    "2d32303234303630312d30303031a776697369746f72a4762d3432a86e6578745f73657103a57374617465aa77697468"
    "5f6167656e74a57475726e739287a373657101a4726f6c65a776697369746f72a474657874b5e68891e8a681e689bee4"
    "babae5b7a5e5aea2e69c8da6736f75726365c0a96369746174696f6e7390a561745f6d73cf0000018fd11897e8ad636c"
    "69656e745f6d73675f6964a36d2d3187a373657102a4726f6c65a56167656e74a474657874bee682a8e5a5bdefbc8ce6"
    "8891e698afe5aea2e69c8de5b08fe78e8be38082a6736f75726365a56167656e74a96369746174696f6e7390a561745f"
    "6d73cf0000018fd118a788ad636c69656e745f6d73675f6964c0aa657363616c6174696f6e00b066616c6c6261636b73"
    "5f696e5f726f7700aa6b625f76657273696f6e00aa637265617465645f6d73cf0000018fd1189400aa75706461746564"
    "5f6d73cf0000018fd118a788a862726f776e6f757401"
);

fn tenant_config() -> TenantConfig {
    TenantConfig {
        v: WIRE_VERSION,
        tenant: tenant(),
        widget_key: "kefu_pk_3f9a2c".to_string(),
        allowed_origins: vec![
            "https://shop.example.com".to_string(),
            "https://m.example.com".to_string(),
        ],
        require_signed_visitor: true,
        visitor_key: Some((0u8..32).collect()),
        visitor_sig_alg: VisitorSigAlg::HmacSha256,
        cache_answers: true,
        semantic_cache: false,
        limits: LimitOverrides {
            visitor: Some(Limit::per_minute(30).unwrap()),
            ..LimitOverrides::default()
        },
        kb_version: KbVersion(7),
        brownout: 0,
        ttl_ms: 60_000,
        erased: Vec::new(),
    }
}

fn session_request() -> SessionRequest {
    SessionRequest {
        since: Some(3),
        wait_ms: 25_000,
        ..SessionRequest::fetch(tenant(), conv(), visitor())
    }
}

fn session_response() -> SessionResponse {
    let mut s = Session::new(tenant(), conv(), visitor(), T0);
    s.push_turn(
        Turn::new(Role::Visitor, "我要找人工客服").with_client_msg_id("m-1"),
        T0 + 1_000,
    )
    .unwrap();
    s.push_turn(
        Turn::new(Role::Agent, "您好，我是客服小王。").with_source(Source::Agent),
        T0 + 5_000,
    )
    .unwrap();
    s.set_state(ConversationState::WithAgent, T0 + 5_000);
    SessionResponse {
        v: WIRE_VERSION,
        session: Some(s),
        brownout: 1,
    }
}

fn golden_case<F: Frame + PartialEq + core::fmt::Debug>(value: F, golden: &[u8]) {
    assert_eq!(value.encode().unwrap(), golden);
    assert_eq!(rmp_serde::to_vec_named(&value).unwrap(), golden);
    assert_eq!(F::decode(golden).unwrap(), value);
}

#[test]
fn golden_tenant_config_request() {
    golden_case(
        TenantConfigRequest::new("kefu_pk_3f9a2c"),
        GOLDEN_TENANT_REQUEST,
    );
}

#[test]
fn golden_tenant_config() {
    golden_case(tenant_config(), GOLDEN_TENANT_CONFIG);
}

#[test]
fn golden_session_request() {
    golden_case(session_request(), GOLDEN_SESSION_REQUEST);
}

#[test]
fn golden_session_response() {
    golden_case(session_response(), GOLDEN_SESSION_RESPONSE);
    let none = SessionResponse {
        v: WIRE_VERSION,
        session: None,
        brownout: 0,
    };
    assert_eq!(
        SessionResponse::decode(&none.encode().unwrap()).unwrap(),
        none
    );
}

#[test]
fn newer_versions_are_refused() {
    let mut bytes = GOLDEN_TENANT_CONFIG.to_vec();
    bytes[3] = WIRE_VERSION + 1;
    assert!(matches!(
        TenantConfig::decode(&bytes),
        Err(Error::UnsupportedVersion { .. })
    ));
    let mut bytes = GOLDEN_SESSION_REQUEST.to_vec();
    bytes[3] = 0;
    assert!(matches!(
        SessionRequest::decode(&bytes),
        Err(Error::UnsupportedVersion { .. })
    ));
}

#[test]
fn tenant_config_invariants_hold_both_ways() {
    let bad = [
        TenantConfig {
            visitor_key: None,
            ..tenant_config()
        },
        TenantConfig {
            visitor_key: Some(vec![1; 15]),
            ..tenant_config()
        },
        TenantConfig {
            brownout: 4,
            ..tenant_config()
        },
        TenantConfig {
            widget_key: "has space".to_string(),
            ..tenant_config()
        },
        TenantConfig {
            allowed_origins: vec![String::new()],
            ..tenant_config()
        },
        TenantConfig {
            allowed_origins: vec!["https://a.example".to_string(); MAX_ORIGINS + 1],
            ..tenant_config()
        },
        TenantConfig {
            erased: vec![ConversationId::new("c_erased").unwrap(); MAX_ERASED_LISTED + 1],
            ..tenant_config()
        },
    ];
    for cfg in bad {
        assert!(cfg.encode().is_err(), "{cfg:?}");
        let bytes = rmp_serde::to_vec_named(&cfg).unwrap();
        assert!(TenantConfig::decode(&bytes).is_err(), "{cfg:?}");
    }
    // Without a signature requirement the key is optional.
    let open = TenantConfig {
        require_signed_visitor: false,
        visitor_key: None,
        ..tenant_config()
    };
    assert_eq!(TenantConfig::decode(&open.encode().unwrap()).unwrap(), open);
}

#[test]
fn session_request_wait_is_bounded() {
    let long = SessionRequest {
        wait_ms: MAX_SESSION_WAIT_MS + 1,
        ..session_request()
    };
    assert!(long.encode().is_err());
    let bytes = rmp_serde::to_vec_named(&long).unwrap();
    assert!(SessionRequest::decode(&bytes).is_err());
}

#[test]
fn a_damaged_session_inside_a_response_is_refused() {
    // The first turn's seq 1 -> 2, the second's: out of order.
    let mut bytes = GOLDEN_SESSION_RESPONSE.to_vec();
    let at = bytes
        .windows(5)
        .position(|w| w == [0xa3, b's', b'e', b'q', 0x01])
        .unwrap();
    bytes[at + 4] = 0x02;
    assert!(SessionResponse::decode(&bytes).is_err());
}

#[test]
fn the_visitor_key_never_reaches_debug_output() {
    let d = format!("{:?}", tenant_config());
    assert!(d.contains("<redacted>"), "{d}");
    assert!(!d.contains("[0, 1, 2"), "{d}");
    let d = format!("{:?}", session_response());
    assert!(!d.contains("客服小王"), "{d}");
}

#[test]
fn a_config_lists_erased_conversations_and_an_old_one_lists_none() {
    let erased: Vec<ConversationId> = (0..MAX_ERASED_LISTED)
        .map(|i| ConversationId::new(format!("c_{i:024x}")).unwrap())
        .collect();
    let cfg = TenantConfig {
        erased: erased.clone(),
        ..tenant_config()
    };
    let bytes = cfg.encode().unwrap();
    assert_eq!(TenantConfig::decode(&bytes).unwrap().erased, erased);
    // The golden (pre-list) frame decodes with none, and a config with none
    // encodes to those same bytes: old and new edges read each other.
    assert!(
        TenantConfig::decode(GOLDEN_TENANT_CONFIG)
            .unwrap()
            .erased
            .is_empty()
    );
    assert_eq!(tenant_config().encode().unwrap(), GOLDEN_TENANT_CONFIG);
}
