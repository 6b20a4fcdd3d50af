//! Sessions at the edge: the store's copy first, the regional service's on
//! a miss. A session answers only to its own tenant and visitor; to anyone
//! else it does not exist.

use kefu_core::session::Session;
use kefu_core::wire::{SessionRequest, SessionResponse, TenantConfig, paths};
use kefu_core::{ConversationId, VisitorId};

use super::regional::{self, CallError, CallKind};
use crate::Error;
use crate::edge::Edge;
use crate::platform::{KvBucket, Platform};
use crate::store;

/// What a session lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// The session, belonging to the tenant and visitor asked for.
    Found(Session),
    /// No such conversation for this tenant and visitor.
    Unknown,
    /// Not in the store, and the regional service could not be asked.
    Unreachable(CallError),
}

fn belongs(s: &Session, config: &TenantConfig, conv: &ConversationId, visitor: &VisitorId) -> bool {
    s.tenant() == &config.tenant && s.conversation() == conv && s.visitor() == visitor
}

/// Looks `conv` up: in the store, else at the regional service (and keeps
/// what it answers).
pub async fn load<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    conv: &ConversationId,
    visitor: &VisitorId,
) -> Result<Lookup, Error> {
    if let Some(s) = store::session(&edge.platform, conv.as_str()).await? {
        return Ok(if belongs(&s, config, conv, visitor) {
            Lookup::Found(s)
        } else {
            Lookup::Unknown
        });
    }
    let req = SessionRequest::fetch(config.tenant.clone(), conv.clone(), visitor.clone());
    match fetch(edge, &req, edge.config.call_timeout_ms, CallKind::Normal).await {
        Ok(Some(s)) if belongs(&s, config, conv, visitor) => {
            save(edge, &s).await?;
            Ok(Lookup::Found(s))
        }
        Ok(_) => Ok(Lookup::Unknown),
        Err(e) => Ok(Lookup::Unreachable(e)),
    }
}

/// Asks the regional service for a session (waiting if `req` says so).
pub async fn fetch<P: Platform>(
    edge: &Edge<P>,
    req: &SessionRequest,
    timeout_ms: u64,
    kind: CallKind,
) -> Result<Option<Session>, CallError> {
    let r = regional::call(edge, paths::SESSION, req, timeout_ms, kind).await?;
    let resp: SessionResponse = regional::decode(&r)?;
    regional::note_brownout(edge, resp.brownout).await;
    Ok(resp.session)
}

/// Keeps `s` in the store.
pub async fn save<P: Platform>(edge: &Edge<P>, s: &Session) -> Result<(), Error> {
    store::put_session(&edge.platform, s, edge.config.session_ttl_ms).await?;
    Ok(())
}

/// Drops the store's copy of `conv` (it fell out of step with the regional
/// service's; the next lookup fetches that one).
pub async fn forget<P: Platform>(edge: &Edge<P>, conv: &ConversationId) {
    let _ = edge
        .platform
        .kv_delete(KvBucket::Sessions, conv.as_str())
        .await;
}

/// A fresh id with `prefix`: 128 random bits in hex.
pub fn random_id<P: Platform>(edge: &Edge<P>, prefix: &str) -> Result<String, Error> {
    let mut b = [0u8; 16];
    edge.platform.fill_random(&mut b)?;
    let mut s = String::with_capacity(prefix.len() + 32);
    s.push_str(prefix);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

/// A fresh conversation id, `c_` and 32 hex digits.
pub fn new_conversation_id<P: Platform>(edge: &Edge<P>) -> Result<ConversationId, Error> {
    ConversationId::new(random_id(edge, "c_")?).map_err(|_| Error::Unavailable {
        retry_after_ms: 1_000,
    })
}
