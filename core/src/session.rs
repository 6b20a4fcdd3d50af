//! A conversation's state: [`Session`], its window of recent [`Turn`]s, and
//! its versioned MessagePack record.
//!
//! A session is what the regional service keeps per conversation (sealed at
//! rest by [`crate::seal`]) and what routing reads to decide on a handoff. It
//! holds a bounded window of the most recent turns, not the whole transcript:
//! [`Session::push_turn`] evicts the oldest past [`MAX_WINDOW_TURNS`].
//!
//! # Record format
//!
//! A MessagePack map keyed by field name (see [`crate::codec`]), fields in
//! declaration order, `"v"` first; byte-identical to
//! `rmp_serde::to_vec_named` of the same value. Enums are strings:
//! [`ConversationState`] in `snake_case`, [`Role`] and [`Source`] lowercase.
//!
//! Versioning rules:
//! - [`Session::decode`] reads `v` first and dispatches on it. A version
//!   newer than [`CURRENT_VERSION`] is [`Error::UnsupportedVersion`]; so is 0.
//! - Additive changes keep the version: a new field carries
//!   `#[serde(default)]`, so records written before it still decode, and
//!   fields this build does not know are ignored, so records written by a
//!   newer build of the same version still decode here.
//! - Removing or retyping a field, or adding an enum variant, bumps
//!   [`CURRENT_VERSION`] and adds a `decode_vN` that migrates.
//!
//! # Invariants (checked again on decode, so a damaged record is refused)
//! - at most [`MAX_WINDOW_TURNS`] turns, each within [`MAX_TURN_TEXT_BYTES`],
//!   [`MAX_CITATIONS`] citations and [`MAX_CITATION_FIELD_BYTES`] per field;
//! - turn `seq`s strictly increase and are below `next_seq`;
//! - `created_ms <= turns' at_ms (non-decreasing) <= updated_ms`: a clock
//!   that steps back never makes time in a session go backwards;
//! - `escalation <= MAX_ESCALATION`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{self, DecodeLimits};
use crate::{ConversationId, Error, KbVersion, Result, TenantId, VisitorId};

/// The record format version this build writes and the newest it reads.
pub const CURRENT_VERSION: u8 = 1;
/// Turns kept in a session's window; older ones are evicted.
pub const MAX_WINDOW_TURNS: usize = 20;
/// The longest turn text, in bytes of UTF-8 (about 5 400 CJK characters).
pub const MAX_TURN_TEXT_BYTES: usize = 16 * 1024;
/// Citations one turn may carry.
pub const MAX_CITATIONS: usize = 8;
/// The longest citation id, title, url or snippet, in bytes.
pub const MAX_CITATION_FIELD_BYTES: usize = 1024;
/// The longest client message id, in bytes.
pub const MAX_CLIENT_MSG_ID_BYTES: usize = 64;
/// The top of the escalation scale (see [`Session::escalation`]).
pub const MAX_ESCALATION: u16 = 1000;

/// The bounds a session record is decoded under. A session at every maximum
/// above encodes to about 970 KiB, inside `max_bytes`; the session tests
/// check that.
pub const SESSION_LIMITS: DecodeLimits = DecodeLimits {
    max_bytes: 1 << 20,
    max_depth: 8,
    max_str_len: MAX_TURN_TEXT_BYTES,
    max_bin_len: 4096,
    max_array_len: 64,
    max_map_len: 64,
};

/// Who the visitor is talking to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot answers.
    #[default]
    Ai,
    /// Waiting for a human agent to pick it up.
    QueuedForHuman,
    /// A human agent answers.
    WithAgent,
    /// Finished; a new message opens a new conversation.
    Closed,
}

/// Who wrote a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The visitor.
    Visitor,
    /// kefu's automatic answerer.
    Bot,
    /// A human agent.
    Agent,
    /// kefu itself (queue notices, handoff messages).
    System,
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The edge or regional answer cache.
    Cache,
    /// A curated FAQ entry.
    Faq,
    /// Retrieved knowledge-base passages, answered without an LLM.
    Kb,
    /// An LLM answer grounded in the knowledge base.
    Llm,
    /// A human agent.
    Agent,
    /// The canned "I don't know" answer.
    Fallback,
    /// The edge's store-and-forward acknowledgement: the message was kept and
    /// will be answered when the regional service is reachable.
    Ack,
    /// kefu asks the visitor to leave a message (contact + message): nobody
    /// can take the conversation now. The widget shows its offline form.
    #[serde(rename = "leave_message")]
    LeaveMessage,
}

/// A knowledge-base passage an answer rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// The passage's id in the knowledge base.
    pub id: String,
    /// The document title shown to the visitor.
    pub title: String,
    /// Where the visitor can read more.
    #[serde(default)]
    pub url: Option<String>,
    /// The quoted text.
    #[serde(default)]
    pub snippet: Option<String>,
}

impl Citation {
    pub(crate) fn check(&self) -> Result<()> {
        let fields = [
            self.id.len(),
            self.title.len(),
            self.url.as_deref().map_or(0, str::len),
            self.snippet.as_deref().map_or(0, str::len),
        ];
        if fields.iter().any(|&n| n > MAX_CITATION_FIELD_BYTES) {
            return Err(Error::TooLarge("citation field longer than 1024 bytes"));
        }
        Ok(())
    }
}

/// Checks citations and text against the per-turn bounds.
pub(crate) fn check_content(text: &str, citations: &[Citation]) -> Result<()> {
    if text.len() > MAX_TURN_TEXT_BYTES {
        return Err(Error::TooLarge("turn text longer than MAX_TURN_TEXT_BYTES"));
    }
    if citations.len() > MAX_CITATIONS {
        return Err(Error::TooLarge("more than MAX_CITATIONS citations"));
    }
    citations.iter().try_for_each(Citation::check)
}

/// One message in a conversation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Position in the conversation, assigned by [`Session::push_turn`].
    pub seq: u64,
    /// Who wrote it.
    pub role: Role,
    /// The message. Conversation plaintext: never in `Debug` output.
    pub text: String,
    /// Where a bot or agent answer came from; `None` for visitor turns.
    #[serde(default)]
    pub source: Option<Source>,
    /// Passages the answer cites.
    #[serde(default)]
    pub citations: Vec<Citation>,
    /// When it was recorded, ms since the Unix epoch (set by `push_turn`).
    pub at_ms: u64,
    /// The widget's id for a visitor message, for de-duplicating retries.
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

impl Turn {
    /// A turn with no source, citations or client message id yet.
    pub fn new(role: Role, text: impl Into<String>) -> Turn {
        Turn {
            seq: 0,
            role,
            text: text.into(),
            source: None,
            citations: Vec::new(),
            at_ms: 0,
            client_msg_id: None,
        }
    }

    /// Sets where the answer came from.
    pub fn with_source(mut self, source: Source) -> Turn {
        self.source = Some(source);
        self
    }

    /// Sets the cited passages.
    pub fn with_citations(mut self, citations: Vec<Citation>) -> Turn {
        self.citations = citations;
        self
    }

    /// Sets the widget's message id.
    pub fn with_client_msg_id(mut self, id: impl Into<String>) -> Turn {
        self.client_msg_id = Some(id.into());
        self
    }

    fn check(&self) -> Result<()> {
        check_content(&self.text, &self.citations)?;
        if self.client_msg_id.as_deref().map_or(0, str::len) > MAX_CLIENT_MSG_ID_BYTES {
            return Err(Error::TooLarge("client_msg_id longer than 64 bytes"));
        }
        Ok(())
    }
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turn")
            .field("seq", &self.seq)
            .field("role", &self.role)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("source", &self.source)
            .field("citations", &self.citations.len())
            .field("at_ms", &self.at_ms)
            .field("client_msg_id", &self.client_msg_id)
            .finish()
    }
}

/// One conversation's state. See the module docs for the invariants.
///
/// Deserialising through serde with any format goes through the private
/// `SessionV1` record and re-checks the invariants and the version, so no
/// `Session` exists that breaks them; [`Session::decode`] adds the bounds of
/// [`SESSION_LIMITS`] and exact error variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SessionV1")]
pub struct Session {
    v: u8,
    tenant: TenantId,
    conversation: ConversationId,
    visitor: VisitorId,
    next_seq: u64,
    state: ConversationState,
    turns: VecDeque<Turn>,
    escalation: u16,
    /// Bot answers in a row that were the fallback answer; reset by any
    /// other bot or agent answer (see [`Session::push_turn`]).
    pub fallbacks_in_row: u8,
    /// The knowledge-base version the last answer came from.
    pub kb_version: KbVersion,
    created_ms: u64,
    updated_ms: u64,
}

/// The version-1 record as read: [`Session`]'s fields, unchecked, with the
/// defaults for fields added after the first v1 records. Fields added later
/// in v1 go here with `#[serde(default)]`.
#[derive(Deserialize)]
struct SessionV1 {
    v: u8,
    tenant: TenantId,
    conversation: ConversationId,
    visitor: VisitorId,
    next_seq: u64,
    state: ConversationState,
    turns: VecDeque<Turn>,
    #[serde(default)]
    escalation: u16,
    #[serde(default)]
    fallbacks_in_row: u8,
    #[serde(default)]
    kb_version: KbVersion,
    created_ms: u64,
    updated_ms: u64,
}

impl fmt::Debug for SessionV1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionV1")
            .field("v", &self.v)
            .finish_non_exhaustive()
    }
}

impl TryFrom<SessionV1> for Session {
    type Error = Error;

    /// Checks the version and every invariant of the module docs.
    fn try_from(r: SessionV1) -> Result<Session> {
        if r.v != CURRENT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: r.v,
                supported: CURRENT_VERSION,
            });
        }
        let s = Session {
            v: r.v,
            tenant: r.tenant,
            conversation: r.conversation,
            visitor: r.visitor,
            next_seq: r.next_seq,
            state: r.state,
            turns: r.turns,
            escalation: r.escalation,
            fallbacks_in_row: r.fallbacks_in_row,
            kb_version: r.kb_version,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        };
        s.check()?;
        Ok(s)
    }
}

impl Session {
    /// A new conversation in the [`ConversationState::Ai`] state.
    pub fn new(
        tenant: TenantId,
        conversation: ConversationId,
        visitor: VisitorId,
        now_ms: u64,
    ) -> Session {
        Session {
            v: CURRENT_VERSION,
            tenant,
            conversation,
            visitor,
            next_seq: 1,
            state: ConversationState::Ai,
            turns: VecDeque::new(),
            escalation: 0,
            fallbacks_in_row: 0,
            kb_version: KbVersion::default(),
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }

    /// Appends `turn` as the next in the conversation and returns its `seq`.
    ///
    /// Sets `turn.seq` to the session's next sequence number and `turn.at_ms`
    /// to `max(now_ms, updated_ms)`, so a clock stepping back never reorders
    /// turns. Evicts the oldest turn past [`MAX_WINDOW_TURNS`]. A bot turn
    /// with source [`Source::Fallback`] adds one to `fallbacks_in_row`
    /// (saturating); a bot or agent turn with any other source except
    /// [`Source::Ack`] resets it. Fails with [`Error::TooLarge`] if the turn
    /// breaks a bound, leaving the session unchanged.
    pub fn push_turn(&mut self, mut turn: Turn, now_ms: u64) -> Result<u64> {
        turn.check()?;
        let seq = self.next_seq;
        let next = seq
            .checked_add(1)
            .ok_or(Error::Invalid("sequence numbers exhausted"))?;
        let at = now_ms.max(self.updated_ms);
        turn.seq = seq;
        turn.at_ms = at;
        if matches!(turn.role, Role::Bot | Role::Agent) {
            match turn.source {
                Some(Source::Fallback) => {
                    self.fallbacks_in_row = self.fallbacks_in_row.saturating_add(1)
                }
                Some(Source::Ack) => {}
                _ => self.fallbacks_in_row = 0,
            }
        }
        if self.turns.len() >= MAX_WINDOW_TURNS {
            self.turns.pop_front();
        }
        self.turns.push_back(turn);
        self.next_seq = next;
        self.updated_ms = at;
        Ok(seq)
    }

    /// The turns in the window, oldest first.
    pub fn turns(&self) -> &VecDeque<Turn> {
        &self.turns
    }

    /// The turn in the window that carries `client_msg_id`, if any: a widget
    /// retry of a message already recorded finds it here.
    pub fn find_client_msg(&self, client_msg_id: &str) -> Option<&Turn> {
        self.turns
            .iter()
            .rev()
            .find(|t| t.client_msg_id.as_deref() == Some(client_msg_id))
    }

    /// The format version of this value (always [`CURRENT_VERSION`] once
    /// decoded: older records are migrated on decode).
    pub fn version(&self) -> u8 {
        self.v
    }
    /// The tenant the conversation belongs to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    /// The conversation's id.
    pub fn conversation(&self) -> &ConversationId {
        &self.conversation
    }
    /// The visitor.
    pub fn visitor(&self) -> &VisitorId {
        &self.visitor
    }
    /// The `seq` the next pushed turn gets (= turns ever pushed).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    /// Who is answering.
    pub fn state(&self) -> ConversationState {
        self.state
    }
    /// When the session was created, ms since the Unix epoch.
    pub fn created_ms(&self) -> u64 {
        self.created_ms
    }
    /// The last change, ms since the Unix epoch; never decreases.
    pub fn updated_ms(&self) -> u64 {
        self.updated_ms
    }

    /// The escalation score: an integer on `0..=MAX_ESCALATION` (per mille;
    /// an integer so records stay exact and byte-stable). How it is computed
    /// from emotion and urgency lives in [`crate::routing`]; the session only
    /// stores it.
    pub fn escalation(&self) -> u16 {
        self.escalation
    }

    /// Stores an escalation score, clamped to [`MAX_ESCALATION`].
    pub fn set_escalation(&mut self, score: u16, now_ms: u64) {
        self.escalation = score.min(MAX_ESCALATION);
        self.touch(now_ms);
    }

    /// Moves the conversation to `state`.
    pub fn set_state(&mut self, state: ConversationState, now_ms: u64) {
        self.state = state;
        self.touch(now_ms);
    }

    /// Records activity at `now_ms`; `updated_ms` never decreases.
    pub fn touch(&mut self, now_ms: u64) {
        self.updated_ms = self.updated_ms.max(now_ms);
    }

    /// The record bytes (see the module docs for the format).
    pub fn encode(&self) -> Result<Vec<u8>> {
        // Sized for the usual case (text plus ~100 bytes of keys per turn)
        // so the buffer rarely grows.
        let text: usize = self.turns.iter().map(|t| t.text.len()).sum();
        let mut buf = Vec::with_capacity(256 + text + 128 * self.turns.len());
        codec::encode_into(self, &mut buf)?;
        Ok(buf)
    }

    /// Reads a record under [`SESSION_LIMITS`], dispatching on its version,
    /// and re-checks every invariant.
    pub fn decode(bytes: &[u8]) -> Result<Session> {
        if bytes.len() > SESSION_LIMITS.max_bytes {
            return Err(Error::TooLarge("message longer than max_bytes"));
        }
        // The version peek is a checked read of the first key(s) and safe on
        // any input. A version-1 record is bounded while it is decoded (one
        // pass, see `codec::decode`); anything else is scanned first, so a
        // malformed record is a decode error, not a version error.
        match codec::read_version_field(bytes, "v") {
            Ok(1) => Self::decode_v1(bytes),
            Ok(found) => {
                codec::scan(bytes, &SESSION_LIMITS)?;
                Err(Error::UnsupportedVersion {
                    found,
                    supported: CURRENT_VERSION,
                })
            }
            Err(e) => {
                codec::scan(bytes, &SESSION_LIMITS)?;
                Err(e)
            }
        }
    }

    /// A version-1 record, bounded by [`SESSION_LIMITS`] as it is read.
    fn decode_v1(bytes: &[u8]) -> Result<Session> {
        let record: SessionV1 = codec::decode(bytes, &SESSION_LIMITS)?;
        Session::try_from(record)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Decode(String::from(m)));
        if self.turns.len() > MAX_WINDOW_TURNS {
            return Err(Error::TooLarge("more than MAX_WINDOW_TURNS turns"));
        }
        if self.escalation > MAX_ESCALATION {
            return bad("escalation above MAX_ESCALATION");
        }
        let (mut prev_seq, mut prev_at) = (None, self.created_ms);
        for t in &self.turns {
            t.check()?;
            if prev_seq.is_some_and(|p| t.seq <= p) || t.seq >= self.next_seq {
                return bad("turn sequence numbers out of order");
            }
            if t.at_ms < prev_at {
                return bad("turn times out of order");
            }
            prev_seq = Some(t.seq);
            prev_at = t.at_ms;
        }
        if prev_at > self.updated_ms {
            return bad("updated_ms before the last turn or creation");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
