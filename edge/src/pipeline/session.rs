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
    /// The regional service erased it on request (it answered 404): any
    /// copy here is dropped, and nothing of it may be shown.
    Erased,
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
    // Erased on request, as the tenant config says: the copy here goes,
    // without asking the regional service.
    if config.erased.contains(conv) {
        forget(edge, conv).await;
        return Ok(Lookup::Erased);
    }
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
        Err(CallError::Status(404)) => Ok(Lookup::Erased),
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

/// The store key remembering which conversation a visitor's first message
/// opened. It holds spaces, so it can never be a conversation id.
fn first_turn_key(config: &TenantConfig, visitor: &VisitorId, cmid: &str) -> String {
    format!("first {} {visitor} {cmid}", config.tenant)
}

/// How long a first message's conversation is remembered for retries.
pub const FIRST_TURN_TTL_MS: u64 = 3_600_000;

/// The session a first message (no conversation id yet) with this client
/// message id already opened, if it is remembered: a widget that lost the
/// answer and retries gets the same conversation, not a second one.
pub async fn first_turn<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    visitor: &VisitorId,
    cmid: &str,
) -> Option<Session> {
    let key = first_turn_key(config, visitor, cmid);
    let bytes = edge
        .platform
        .kv_get(KvBucket::Sessions, &key)
        .await
        .ok()??;
    let conv = ConversationId::new(String::from_utf8(bytes).ok()?).ok()?;
    match load(edge, config, &conv, visitor).await.ok()? {
        Lookup::Found(s) => Some(s),
        _ => None,
    }
}

/// Remembers which conversation a first message opened (best effort).
pub async fn remember_first_turn<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    visitor: &VisitorId,
    cmid: &str,
    conv: &ConversationId,
) {
    let key = first_turn_key(config, visitor, cmid);
    let value = conv.as_str().as_bytes();
    let _ = edge
        .platform
        .kv_put(KvBucket::Sessions, &key, value, Some(FIRST_TURN_TTL_MS))
        .await;
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
