//! Catching up: the messages of a conversation after `since`, agent
//! messages included. The edge first hands the regional service any turns it
//! answered itself, then asks it for the session, waiting (long poll) until
//! it has something after `since`. The regional copy then replaces the
//! store's. When the regional service cannot be asked, the store's copy
//! answers at once, marked `degraded`. When it answers 404 (erased on
//! request), the store's copy is dropped and the answer is 410 Gone.

use kefu_core::session::{Session, Turn};
use kefu_core::wire::{SessionRequest, TenantConfig};
use kefu_core::{ConversationId, ConversationState, VisitorId};

use super::regional::{CallError, CallKind};
use super::session::{self as sessions, Lookup};
use super::{outbox, visitor};
use crate::Error;
use crate::edge::Edge;
use crate::platform::Platform;

/// A validated catch-up request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollInput {
    /// The conversation.
    pub conversation: ConversationId,
    /// The visitor asking.
    pub visitor: VisitorId,
    /// Messages after this `seq`; `None`: every message in the window, at once.
    pub since: Option<u64>,
    /// The host page's signature over the visitor id.
    pub visitor_sig: Option<String>,
}

/// The messages after `since`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollReply {
    /// The conversation.
    pub conversation: ConversationId,
    /// The turns after `since`, oldest first (their text is hidden from
    /// `Debug` by [`Turn`]).
    pub messages: Vec<Turn>,
    /// Whether a human has, or is about to take, the conversation.
    pub handoff: bool,
    /// Whether turns after `since` may be missing because they left the
    /// session's window.
    pub truncated: bool,
    /// Whether newer turns than these exist: a catch-up reply (the widget
    /// asks again from the last seq at once).
    pub more: bool,
    /// Whether this came from the edge's copy because the regional service
    /// could not be asked (agent messages may be missing; poll again later).
    pub degraded: bool,
}

/// Answers a catch-up request for `config`'s tenant.
pub async fn messages<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    input: PollInput,
) -> Result<PollReply, Error> {
    visitor::check(config, &input.visitor, input.visitor_sig.as_deref())?;
    let conv = &input.conversation;
    let local = match sessions::load(edge, config, conv, &input.visitor).await? {
        Lookup::Found(s) => Some(s),
        Lookup::Unknown => return Err(Error::UnknownConversation),
        Lookup::Erased => return Err(Error::Gone),
        Lookup::Unreachable(_) => None,
    };
    let fresh = match outbox::deliver(edge, Some(conv)).await {
        Ok(_) => {
            let wait_ms = input.since.map_or(0, |_| edge.config.poll_wait_ms);
            let req = SessionRequest {
                since: input.since,
                wait_ms,
                ..SessionRequest::fetch(config.tenant.clone(), conv.clone(), input.visitor.clone())
            };
            let timeout = u64::from(wait_ms).saturating_add(edge.config.call_timeout_ms);
            match sessions::fetch(edge, &req, timeout, CallKind::LongPoll).await {
                Ok(s) => Some(s),
                // Erased on request: the copy here goes too.
                Err(CallError::Status(404)) => {
                    sessions::forget(edge, conv).await;
                    return Err(Error::Gone);
                }
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let (session, degraded) = match fresh {
        Some(Some(s))
            if s.tenant() == &config.tenant
                && s.conversation() == conv
                && s.visitor() == &input.visitor =>
        {
            // A catch-up window (older turns, the newest still to come) is
            // an answer, not the session: the kept copy stays as it is.
            if is_tail(&s) {
                sessions::save(edge, &s).await?;
            }
            (s, false)
        }
        // The regional service does not know it (yet) or could not be asked:
        // the edge's copy, if any, is what there is.
        _ => match local {
            Some(s) => (s, true),
            None if fresh.is_some() => return Err(Error::UnknownConversation),
            None => {
                return Err(Error::Unavailable {
                    retry_after_ms: 5_000,
                });
            }
        },
    };
    Ok(reply(&session, input.since, degraded))
}

/// Whether `s` holds the conversation's newest turn.
fn is_tail(s: &Session) -> bool {
    s.turns()
        .back()
        .is_none_or(|t| t.seq.saturating_add(1) == s.next_seq())
}

fn reply(s: &Session, since: Option<u64>, degraded: bool) -> PollReply {
    let after = |t: &&Turn| since.is_none_or(|n| t.seq > n);
    let first = s.turns().front().map_or(s.next_seq(), |t| t.seq);
    let truncated = match since {
        Some(n) => n.saturating_add(1) < first,
        // Turns are numbered from 1.
        None => first > 1,
    };
    PollReply {
        conversation: s.conversation().clone(),
        messages: s.turns().iter().filter(after).cloned().collect(),
        handoff: matches!(
            s.state(),
            ConversationState::QueuedForHuman | ConversationState::WithAgent
        ),
        truncated,
        more: !is_tail(s),
        degraded,
    }
}
