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
        kb_version: None,
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

mod frames;
mod sign;
mod tenant_sync;
