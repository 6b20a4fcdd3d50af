//! The plaintext shapes of sealed records, and sealing them.
//!
//! A record is serialised to JSON, then sealed with SM4-GCM under the
//! tenant's data key ([`crate::crypto::seal`]). The AAD binds it to its
//! tenant, conversation, seq, key version and kind, so a record copied to
//! another row (or another tenant) fails to open. The key version sits in the
//! sealed header, so rotation leaves old records readable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Key, RecordAad};
use crate::{Error, Result};

/// Whitespace as JSON Schema's (ECMAScript) `\s` defines it, so the API's
/// "not blank" rule and its OpenAPI pattern agree exactly.
pub fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Record kinds, part of the AAD.
pub mod kind {
    /// Conversation meta.
    pub const META: &str = "conversation";
    /// One turn of a conversation.
    pub const TURN: &str = "turn";
    /// A tenant's visitor-identity secret.
    pub const IDENTITY_SECRET: &str = "identity-secret";
}

pub use kefu_core::session::{Citation, ConversationState, Role, Source, Turn};

/// Whether a conversation may move from `from` to `to`: a closed
/// conversation stays closed; anything else may move to any other state.
pub fn can_move(from: ConversationState, to: ConversationState) -> bool {
    from != ConversationState::Closed && from != to
}

/// The sealed meta of one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationMeta {
    /// The visitor, if known.
    pub visitor: Option<String>,
    /// Current state.
    pub state: ConversationState,
    /// The seq the next message gets (the first is 1).
    pub next_seq: u64,
    /// Created, ms since the epoch.
    pub created_ms: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
    /// Routing reads the turns from this seq on: set when an agent hands
    /// back or closes, so an old reason does not trigger a new handoff.
    #[serde(default)]
    pub fresh_from_seq: u64,
    /// Routing decisions and the state changes that followed, oldest first
    /// (the last [`MAX_ROUTE_EVENTS`]). Sealed with the rest of the meta.
    #[serde(default)]
    pub route_log: Vec<RouteEvent>,
    /// How the visitor asked to be reached, from a message they left when
    /// nobody could take the conversation (a phone number or e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

impl ConversationMeta {
    /// A new conversation with the AI, created at `now_ms`.
    pub fn new(visitor: Option<String>, now_ms: u64) -> ConversationMeta {
        ConversationMeta {
            visitor,
            state: ConversationState::Ai,
            next_seq: 1,
            created_ms: now_ms,
            updated_ms: now_ms,
            fresh_from_seq: 0,
            route_log: Vec::new(),
            contact: None,
        }
    }

    /// Records a route event, keeping the last [`MAX_ROUTE_EVENTS`].
    pub fn note(&mut self, ev: RouteEvent) {
        if self.route_log.len() >= MAX_ROUTE_EVENTS {
            self.route_log.remove(0);
        }
        self.route_log.push(ev);
    }
}

/// Route events kept per conversation; older ones are in the audit log.
pub const MAX_ROUTE_EVENTS: usize = 64;

/// One routing decision or handoff state change of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RouteEvent {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The message it concerns (the visitor's message for a decision; the
    /// last message before an agent's action).
    pub seq: u64,
    /// What happened: `offer` (a human was offered), `handoff` (queued for
    /// a person), `leave_message` (queued as a left message: nobody on
    /// duty), `accepted`, `transferred`, `queue_timeout`, `left_message`,
    /// `handed_back`, `closed`, `state` (moved by the tenant API).
    pub action: String,
    /// Why, for decisions: kefu-core's routing reasons
    /// (`{"kind":"explicit_request"}`, `{"kind":"anger","score":80}`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<serde_json::Value>,
    /// The state the conversation moved to, if it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<ConversationState>,
    /// The skill/group it was queued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The agent who acted (accept, transfer, hand back, close), or the
    /// agent it was transferred to (`to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// For a transfer: the agent it went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl RouteEvent {
    /// An event of `action` at `at_ms` about message `seq`, nothing else set.
    pub fn new(action: &str, at_ms: u64, seq: u64) -> RouteEvent {
        RouteEvent {
            at_ms,
            seq,
            action: action.to_owned(),
            reasons: Vec::new(),
            state: None,
            group: None,
            agent: None,
            to: None,
        }
    }
}

/// Seals `value` as a record of `kind` under `key`/`key_version`.
pub fn seal_json<T: Serialize>(
    key: &Key,
    key_version: u32,
    tenant: &str,
    conversation: &str,
    seq: u64,
    kind: &str,
    value: &T,
) -> Result<Vec<u8>> {
    let pt = zeroize::Zeroizing::new(
        serde_json::to_vec(value).map_err(|e| Error::Invalid(format!("encode {kind}: {e}")))?,
    );
    let aad = RecordAad {
        tenant,
        conversation,
        seq,
        key_version,
        kind,
    };
    Ok(crypto::seal(key, crate::rng::nonce(), &aad, &pt))
}

/// Opens a record sealed by [`seal_json`]; `key_for` maps the version in the
/// record's header to the data key.
pub fn open_json<T: DeserializeOwned>(
    key_for: &mut dyn FnMut(u32) -> Result<Key>,
    tenant: &str,
    conversation: &str,
    seq: u64,
    kind: &str,
    sealed: &[u8],
) -> Result<T> {
    let key_version = crypto::sealed_key_version(sealed)?;
    let key = key_for(key_version)?;
    let aad = RecordAad {
        tenant,
        conversation,
        seq,
        key_version,
        kind,
    };
    let pt = zeroize::Zeroizing::new(crypto::open(&key, &aad, sealed)?);
    serde_json::from_slice(&pt)
        .map_err(|_| Error::Core(kefu_core::Error::Decode(format!("{kind} record"))))
}
