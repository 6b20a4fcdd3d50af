//! `POST` [`paths::SESSION`](kefu_core::wire::paths::SESSION): the
//! regional copy of a conversation as a kefu-core [`Session`], held (long
//! poll) until it has a turn after `since` or `wait_ms` has passed.
//!
//! The session carries the conversation's last [`MAX_WINDOW_TURNS`] turns
//! (every turn after `since` that fits, plus older context when there are
//! fewer new ones: the edge keeps the answer as its own copy of the
//! session), the state and `next_seq`. Regional sequence numbers start at 1.
//!
//! Waiting uses the store's per-conversation wake-up
//! ([`crate::store::watch::Watchers`]), signalled after every committed
//! append, exchange or state change; nothing polls the database.

use std::time::Duration;

use kefu_core::session::{MAX_WINDOW_TURNS, Session};
use kefu_core::wire::{MAX_SESSION_WAIT_MS, SessionRequest, SessionResponse, WIRE_VERSION};
use kefu_core::{ConversationId, ConversationState, KbVersion, TenantId, VisitorId};
use serde::Serialize;

use crate::store::{ConversationMeta, Role, Source, Storage, TenantStore, Turn};
use crate::{Error, Result};

/// The session for `req`, waiting as it asks.
pub async fn session(storage: &Storage, req: SessionRequest) -> Result<SessionResponse> {
    let tenant = match storage.for_signed_edge_frame(req.tenant.clone()).await {
        Ok(t) => t,
        // No such tenant: no such conversation for it either.
        Err(Error::NotFound) => return Ok(response(None)),
        Err(e) => return Err(e),
    };
    let wait = Duration::from_millis(u64::from(req.wait_ms.min(MAX_SESSION_WAIT_MS)));
    let deadline = tokio::time::Instant::now() + wait;
    let wake = tenant.watch(&req.conversation);
    loop {
        // Register for the wake-up before reading, so a change committed
        // between the read and the wait is not missed.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let s = load(&tenant, &req).await?;
        let has_new = match (&s, req.since) {
            (Some(s), Some(n)) => s.turns().back().is_some_and(|t| t.seq > n),
            _ => true,
        };
        if has_new || tokio::time::Instant::now() >= deadline {
            return Ok(response(s));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn response(session: Option<Session>) -> SessionResponse {
    SessionResponse {
        v: WIRE_VERSION,
        session,
        brownout: 0,
    }
}

async fn load(tenant: &TenantStore, req: &SessionRequest) -> Result<Option<Session>> {
    let Some((meta, turns)) = tenant
        .window(req.conversation.clone(), MAX_WINDOW_TURNS)
        .await?
    else {
        // Erased on request: 404, and the edge drops its copy (a plain
        // "no such session" would let it show its own copy instead).
        if tenant.is_erased(req.conversation.clone()).await? {
            return Err(Error::Erased);
        }
        return Ok(None);
    };
    if meta.visitor.as_deref() != Some(req.visitor.as_str()) {
        // Another visitor's conversation does not exist for this one.
        return Ok(None);
    }
    // Catching up: when more turns came after `since` than the window
    // holds, send the oldest of them rather than the newest, so a poller
    // never skips any; it asks again from the last one it got.
    let first = turns.first().map_or(meta.next_seq, |t| t.seq);
    let turns = match req.since {
        Some(n) if n.saturating_add(1) < first => {
            tenant
                .messages_since(req.conversation.clone(), n, MAX_WINDOW_TURNS)
                .await?
                .1
        }
        _ => turns,
    };
    build(
        tenant.tenant().clone(),
        req.conversation.clone(),
        req.visitor.clone(),
        &meta,
        turns,
    )
    .map(Some)
}

/// Field for field what [`Session`] deserialises from (its fields are
/// private; serde re-checks every invariant on the way in).
#[derive(Serialize)]
struct SessionRecord {
    v: u8,
    tenant: TenantId,
    conversation: ConversationId,
    visitor: VisitorId,
    next_seq: u64,
    state: ConversationState,
    turns: Vec<Turn>,
    escalation: u16,
    fallbacks_in_row: u8,
    kb_version: KbVersion,
    created_ms: u64,
    updated_ms: u64,
}

/// A kefu-core session from a stored conversation and its last turns.
/// Times are made monotonic (a stored clock reading can step back; a
/// session's cannot).
pub fn build(
    tenant: TenantId,
    conversation: ConversationId,
    visitor: VisitorId,
    meta: &ConversationMeta,
    mut turns: Vec<Turn>,
) -> Result<Session> {
    let created_ms = turns
        .first()
        .map_or(meta.created_ms, |t| t.at_ms.min(meta.created_ms));
    let mut at = created_ms;
    let mut fallbacks_in_row: u8 = 0;
    for t in &mut turns {
        at = at.max(t.at_ms);
        t.at_ms = at;
        // The same rule as Session::push_turn.
        if matches!(t.role, Role::Bot | Role::Agent) {
            match t.source {
                Some(Source::Fallback) => fallbacks_in_row = fallbacks_in_row.saturating_add(1),
                Some(Source::Ack) => {}
                _ => fallbacks_in_row = 0,
            }
        }
    }
    let record = SessionRecord {
        v: kefu_core::session::CURRENT_VERSION,
        tenant,
        conversation,
        visitor,
        next_seq: meta.next_seq,
        state: meta.state,
        turns,
        escalation: 0,
        fallbacks_in_row,
        kb_version: KbVersion(0),
        created_ms,
        updated_ms: meta.updated_ms.max(at),
    };
    let value = serde_json::to_value(&record).map_err(|e| Error::Invalid(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| {
        tracing::error!(error = %e, "a stored conversation does not make a valid session");
        Error::Core(kefu_core::Error::Decode("session".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(seq: u64, role: Role, at_ms: u64, source: Option<Source>) -> Turn {
        let mut t = Turn::new(role, format!("turn {seq}"));
        t.seq = seq;
        t.at_ms = at_ms;
        t.source = source;
        t
    }

    /// The edge keeps a new conversation's session only if its numbering
    /// agrees with the store's: both start at 1 (before, kefu-core started
    /// at 0 and the edge dropped every new session after its first turn).
    #[test]
    fn edge_and_store_number_a_new_conversation_alike() {
        let stored = ConversationMeta::new(None, 0);
        let edge = kefu_core::session::Session::new(
            kefu_core::TenantId::new("t").unwrap(),
            kefu_core::ConversationId::new("c_1").unwrap(),
            kefu_core::VisitorId::new("v").unwrap(),
            0,
        );
        assert_eq!(edge.next_seq(), stored.next_seq);
        assert_eq!(stored.next_seq, 1);
    }

    fn meta(next_seq: u64) -> ConversationMeta {
        ConversationMeta {
            visitor: Some("v1".into()),
            state: ConversationState::WithAgent,
            next_seq,
            created_ms: 1_000,
            updated_ms: 2_000,
            ..ConversationMeta::new(None, 0)
        }
    }

    #[test]
    fn a_stored_conversation_becomes_a_checked_session() {
        let turns = vec![
            turn(1, Role::Visitor, 1_100, None),
            turn(2, Role::Bot, 1_200, Some(Source::Fallback)),
            turn(3, Role::Agent, 1_300, Some(Source::Agent)),
            turn(4, Role::Bot, 1_400, Some(Source::Fallback)),
        ];
        let s = build(
            TenantId::new("t").unwrap(),
            ConversationId::new("c_1").unwrap(),
            VisitorId::new("v1").unwrap(),
            &meta(5),
            turns,
        )
        .unwrap();
        assert_eq!(s.next_seq(), 5);
        assert_eq!(s.state(), ConversationState::WithAgent);
        assert_eq!(
            s.turns().iter().map(|t| t.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(s.fallbacks_in_row, 1, "the agent reply reset the count");
        assert_eq!(s.updated_ms(), 2_000);
    }

    #[test]
    fn a_clock_that_stepped_back_is_smoothed_not_refused() {
        let turns = vec![
            turn(1, Role::Visitor, 5_000, None),
            turn(2, Role::Bot, 4_000, Some(Source::Fallback)),
        ];
        let s = build(
            TenantId::new("t").unwrap(),
            ConversationId::new("c_1").unwrap(),
            VisitorId::new("v1").unwrap(),
            &meta(3),
            turns,
        )
        .unwrap();
        let at: Vec<u64> = s.turns().iter().map(|t| t.at_ms).collect();
        assert_eq!(at, [5_000, 5_000]);
        assert_eq!(s.created_ms(), 1_000);
        assert_eq!(s.updated_ms(), 5_000);
    }
}
