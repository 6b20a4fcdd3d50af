//! Session sync: the edge fetches a conversation's session from the regional
//! service, optionally waiting for turns it has not seen (long poll).
//!
//! [`SessionRequest`] goes `POST` [`super::paths::SESSION`], signed; the
//! answer is a [`SessionResponse`]. With `since = Some(n)` and a non-zero
//! `wait_ms`, the regional service holds the request until the session has a
//! turn with `seq > n` or `wait_ms` has passed, whichever is first; it then
//! answers with the whole session either way. This is how agent messages,
//! which are written at the regional service, reach a waiting widget.

use serde::{Deserialize, Serialize};

use super::frames::check_brownout;
use super::{Frame, WIRE_VERSION};
use crate::codec::DecodeLimits;
use crate::session::{SESSION_LIMITS, Session};
use crate::{ConversationId, Error, Result, TenantId, VisitorId};

/// The longest a [`SessionRequest`] may ask the regional service to wait.
pub const MAX_SESSION_WAIT_MS: u32 = 30_000;

/// "Send me this conversation's session (once it has turns after `since`)."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The tenant the conversation must belong to.
    pub tenant: TenantId,
    /// The conversation.
    pub conversation: ConversationId,
    /// The visitor the conversation must belong to.
    pub visitor: VisitorId,
    /// Wait for a turn with `seq` above this; `None`: answer at once.
    pub since: Option<u64>,
    /// The longest to wait, ms, at most [`MAX_SESSION_WAIT_MS`].
    pub wait_ms: u32,
}

impl SessionRequest {
    /// An immediate fetch (no waiting) at [`WIRE_VERSION`].
    pub fn fetch(tenant: TenantId, conversation: ConversationId, visitor: VisitorId) -> Self {
        SessionRequest {
            v: WIRE_VERSION,
            tenant,
            conversation,
            visitor,
            since: None,
            wait_ms: 0,
        }
    }
}

impl Frame for SessionRequest {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 1024,
        max_depth: 2,
        max_str_len: crate::types::MAX_ID_LEN,
        max_bin_len: 0,
        max_array_len: 0,
        max_map_len: 16,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        if self.wait_ms > MAX_SESSION_WAIT_MS {
            return Err(Error::Invalid("wait_ms above MAX_SESSION_WAIT_MS"));
        }
        Ok(())
    }
}

/// The regional service's copy of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The session; `None` if the regional service has no such
    /// conversation for this tenant and visitor.
    pub session: Option<Session>,
    /// The regional brownout level, 0..=[`super::MAX_BROWNOUT`].
    pub brownout: u8,
}

impl Frame for SessionResponse {
    /// A session's own bounds, one level deeper and a little longer for the
    /// frame around it.
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: SESSION_LIMITS.max_bytes + 64,
        max_depth: SESSION_LIMITS.max_depth + 1,
        ..SESSION_LIMITS
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        // A decoded `Session` has had its invariants checked already.
        check_brownout(self.brownout)
    }
}
