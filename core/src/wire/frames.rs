//! The frame types. See the parent module for the encoding and versioning.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{Frame, WIRE_VERSION};
use crate::codec::DecodeLimits;
use crate::session::{
    Citation, MAX_CLIENT_MSG_ID_BYTES, MAX_TURN_TEXT_BYTES, Role, Session, Source, Turn,
    check_content,
};
use crate::{ConversationId, Error, KbVersion, Locale, Result, TenantId, VisitorId};

/// The longest visitor message accepted, in bytes of UTF-8 (about 2 700 CJK
/// characters).
pub const MAX_VISITOR_TEXT_BYTES: usize = 8 * 1024;
/// The highest brownout level; [`crate::overload`] defines the levels.
pub const MAX_BROWNOUT: u8 = 3;
/// Turns in one [`EdgeReport`]; the edge sends more in further reports.
pub const MAX_REPORT_TURNS: usize = 64;

fn check_client_msg_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_CLIENT_MSG_ID_BYTES {
        return Err(Error::Invalid("client_msg_id must be 1..=64 bytes"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid("client_msg_id must be printable ASCII"));
    }
    Ok(())
}

fn check_visitor_text(text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(Error::Invalid("empty message"));
    }
    if text.len() > MAX_VISITOR_TEXT_BYTES {
        return Err(Error::TooLarge(
            "message longer than MAX_VISITOR_TEXT_BYTES",
        ));
    }
    Ok(())
}

pub(super) fn check_brownout(level: u8) -> Result<()> {
    if level > MAX_BROWNOUT {
        return Err(Error::Invalid("brownout level above 3"));
    }
    Ok(())
}

/// A visitor message the edge could not answer itself, forwarded to the
/// regional service.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRequest {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The tenant whose widget sent it.
    pub tenant: TenantId,
    /// The conversation; `None` on a visitor's first message, when the
    /// regional service opens one and returns its id.
    pub conversation: Option<ConversationId>,
    /// The visitor.
    pub visitor: VisitorId,
    /// The widget's id for this message; a retry repeats it, and regional
    /// answers a retry with the turn it already recorded.
    pub client_msg_id: String,
    /// The message. Conversation plaintext: never in `Debug` output.
    pub text: String,
    /// The message's language, as detected by the edge.
    pub locale: Locale,
    /// The highest turn `seq` the edge has seen in this conversation; `None`
    /// if it has seen none. Lets regional tell what the widget is missing.
    #[serde(default)]
    pub edge_seq: Option<u64>,
    /// The knowledge-base version of the edge's cached answers for this
    /// tenant; `None` if it holds none. Lets regional say when to drop them.
    #[serde(default)]
    pub edge_kb: Option<KbVersion>,
    /// When the edge received the message, ms since the Unix epoch.
    pub at_ms: u64,
}

impl TurnRequest {
    /// Whether this opens a conversation.
    pub fn is_first_turn(&self) -> bool {
        self.conversation.is_none()
    }
}

impl Frame for TurnRequest {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 16 * 1024,
        max_depth: 4,
        max_str_len: MAX_VISITOR_TEXT_BYTES,
        max_bin_len: 1024,
        max_array_len: 16,
        max_map_len: 32,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        check_client_msg_id(&self.client_msg_id)?;
        check_visitor_text(&self.text)
    }
}

impl fmt::Debug for TurnRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRequest")
            .field("v", &self.v)
            .field("tenant", &self.tenant)
            .field("conversation", &self.conversation)
            .field("visitor", &self.visitor)
            .field("client_msg_id", &self.client_msg_id)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("locale", &self.locale)
            .field("edge_seq", &self.edge_seq)
            .field("edge_kb", &self.edge_kb)
            .field("at_ms", &self.at_ms)
            .finish()
    }
}

/// Whether and how long the edge may cache an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cacheability {
    /// How long the answer stays fresh, ms.
    pub ttl_ms: u64,
    /// The knowledge-base version it rests on; the cache key includes it, so
    /// publishing a new version retires the entry.
    pub kb_version: KbVersion,
}

/// Where the conversation stands on a handoff to a human.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffState {
    /// No handoff.
    #[default]
    None,
    /// The visitor was offered a human agent.
    Offered,
    /// Waiting for an agent.
    Queued,
    /// An agent has the conversation.
    WithAgent,
}

/// The regional service's answer to a [`TurnRequest`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnResponse {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The conversation (newly opened on a first turn).
    pub conversation: ConversationId,
    /// The answer turn's `seq` in the session.
    pub seq: u64,
    /// The answer. Conversation plaintext: never in `Debug` output.
    pub answer: String,
    /// Where the answer came from.
    pub source: Source,
    /// Passages the answer cites.
    pub citations: Vec<Citation>,
    /// `Some` if the edge may cache this answer for other visitors.
    pub cacheable: Option<Cacheability>,
    /// The handoff state after this turn.
    pub handoff: HandoffState,
    /// The regional brownout level, 0..=[`MAX_BROWNOUT`].
    pub brownout: u8,
    /// The knowledge-base version the answer rests on, when it rests on
    /// one (added in wire v1 without a version bump: absent reads as
    /// `None`, and `None` is not written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb_version: Option<KbVersion>,
}

impl Frame for TurnResponse {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 64 * 1024,
        max_depth: 6,
        max_str_len: MAX_TURN_TEXT_BYTES,
        max_bin_len: 1024,
        max_array_len: 16,
        max_map_len: 32,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        check_brownout(self.brownout)?;
        check_content(&self.answer, &self.citations)
    }
}

impl fmt::Debug for TurnResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnResponse")
            .field("v", &self.v)
            .field("conversation", &self.conversation)
            .field("seq", &self.seq)
            .field("answer", &format_args!("<{} bytes>", self.answer.len()))
            .field("source", &self.source)
            .field("citations", &self.citations.len())
            .field("cacheable", &self.cacheable)
            .field("handoff", &self.handoff)
            .field("brownout", &self.brownout)
            .finish()
    }
}

/// The regional service's readiness, polled by the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The brownout level, 0..=[`MAX_BROWNOUT`].
    pub brownout: u8,
    /// The newest published knowledge-base version.
    pub kb_version: KbVersion,
    /// Whether the service takes turns at all.
    pub ready: bool,
}

impl Frame for Health {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 1024,
        max_depth: 2,
        max_str_len: 64,
        max_bin_len: 64,
        max_array_len: 16,
        max_map_len: 32,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        check_brownout(self.brownout)
    }
}

/// A turn the edge served on its own: a cache hit, or a store-and-forward
/// acknowledgement while regional was unreachable.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedTurn {
    /// The tenant.
    pub tenant: TenantId,
    /// The conversation (the edge opens one itself if it has to).
    pub conversation: ConversationId,
    /// The visitor.
    pub visitor: VisitorId,
    /// The widget's message id; with `conversation`, the idempotency key.
    pub client_msg_id: String,
    /// The visitor's message. Plaintext: never in `Debug` output.
    pub question: String,
    /// What the edge answered. Plaintext: never in `Debug` output.
    pub answer: String,
    /// [`Source::Cache`] or [`Source::Ack`].
    pub source: Source,
    /// Passages the cached answer cites.
    #[serde(default)]
    pub citations: Vec<Citation>,
    /// The knowledge-base version of the cached answer (0 for an ack).
    pub kb_version: KbVersion,
    /// When the edge answered, ms since the Unix epoch.
    pub at_ms: u64,
}

impl ReportedTurn {
    fn check(&self) -> Result<()> {
        check_client_msg_id(&self.client_msg_id)?;
        check_visitor_text(&self.question)?;
        if !matches!(self.source, Source::Cache | Source::Ack) {
            return Err(Error::Invalid("edge reports only cache hits and acks"));
        }
        check_content(&self.answer, &self.citations)
    }

    /// The key that makes applying a report idempotent.
    pub fn idempotency_key(&self) -> (&ConversationId, &str) {
        (&self.conversation, &self.client_msg_id)
    }

    /// Records this turn in `session` as a visitor turn (carrying the
    /// client message id) and the edge's answer, at `min(at_ms, now_ms)`.
    /// Returns `Ok(false)` without change if the session's window already
    /// holds this client message id (a repeated report): the regional store
    /// keeps the durable record of applied keys for turns older than the
    /// window. A cache hit also sets the session's `kb_version`.
    pub fn apply(&self, session: &mut Session, now_ms: u64) -> Result<bool> {
        self.check()?;
        if session.tenant() != &self.tenant || session.conversation() != &self.conversation {
            return Err(Error::Invalid("reported turn is for another conversation"));
        }
        if session.find_client_msg(&self.client_msg_id).is_some() {
            return Ok(false);
        }
        if session.next_seq() > u64::MAX - 2 {
            return Err(Error::Invalid("sequence numbers exhausted"));
        }
        let at = self.at_ms.min(now_ms);
        let question = Turn::new(Role::Visitor, self.question.clone())
            .with_client_msg_id(&*self.client_msg_id);
        let answer = Turn::new(Role::Bot, self.answer.clone())
            .with_source(self.source)
            .with_citations(self.citations.clone());
        // Both turns passed `check` above, so neither push can fail.
        session.push_turn(question, at)?;
        session.push_turn(answer, at)?;
        if self.source == Source::Cache {
            session.kb_version = self.kb_version;
        }
        Ok(true)
    }
}

impl fmt::Debug for ReportedTurn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportedTurn")
            .field("tenant", &self.tenant)
            .field("conversation", &self.conversation)
            .field("visitor", &self.visitor)
            .field("client_msg_id", &self.client_msg_id)
            .field("question", &format_args!("<{} bytes>", self.question.len()))
            .field("answer", &format_args!("<{} bytes>", self.answer.len()))
            .field("source", &self.source)
            .field("citations", &self.citations.len())
            .field("kb_version", &self.kb_version)
            .field("at_ms", &self.at_ms)
            .finish()
    }
}

/// Turns the edge served itself, reported so the regional sessions and
/// analytics stay complete. Applying a report twice changes nothing (see
/// [`ReportedTurn::apply`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeReport {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// At most [`MAX_REPORT_TURNS`] turns.
    pub turns: Vec<ReportedTurn>,
}

impl EdgeReport {
    /// An empty report at [`WIRE_VERSION`].
    pub fn new() -> EdgeReport {
        EdgeReport {
            v: WIRE_VERSION,
            turns: Vec::new(),
        }
    }
}

impl Default for EdgeReport {
    fn default() -> Self {
        Self::new()
    }
}

impl Frame for EdgeReport {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 1 << 20,
        max_depth: 6,
        max_str_len: MAX_TURN_TEXT_BYTES,
        max_bin_len: 1024,
        max_array_len: MAX_REPORT_TURNS,
        max_map_len: 32,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        if self.turns.len() > MAX_REPORT_TURNS {
            return Err(Error::TooLarge("more than MAX_REPORT_TURNS turns"));
        }
        self.turns.iter().try_for_each(ReportedTurn::check)
    }
}
