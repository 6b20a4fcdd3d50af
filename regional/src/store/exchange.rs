//! A visitor question and its answer, stored together: both turns commit in
//! one transaction or neither does, and repeating the question's client
//! message id returns the stored exchange instead of writing a second one.
//! The edge door ([`crate::edge`]) is built on this.

use kefu_core::{ConversationId, VisitorId};

use super::WriteCtx;
use super::audit_hook::{self, Actor, Outcome};
use super::conversations::{self, AppendInput};
use super::records::{ConversationState, Role, RouteEvent, Turn};
use crate::{Error, Result};

/// A question to record, with how to answer it.
#[derive(Debug, Clone)]
pub struct Question {
    /// The conversation, if the caller has one.
    pub conversation: Option<ConversationId>,
    /// Open the conversation under this id if it does not exist (edge
    /// reports); otherwise a missing conversation is [`Error::NotFound`].
    pub create_missing: bool,
    /// The visitor.
    pub visitor: VisitorId,
    /// The widget's message id (the idempotency key).
    pub client_msg_id: String,
    /// The visitor's text.
    pub text: String,
    /// When the edge answered it, ms (edge reports). A conversation erased
    /// before then was erased while the visitor was still writing in it:
    /// the turn is new data, kept in the conversation's successor (see
    /// [`super::erase::successor`]) rather than dropped.
    pub answered_at_ms: Option<u64>,
}

/// A move routing decided, with why (reason kinds only, never visitor text).
#[derive(Debug)]
pub struct RouteTo {
    /// The new state.
    pub state: ConversationState,
    /// Routing reason kinds, for the audit entry and the agents' queue.
    pub reasons: Vec<String>,
    /// The visitor's language, for the notice.
    pub locale: kefu_core::Locale,
    /// Nobody can take the conversation now (outside business hours, no
    /// agents): the visitor is asked to leave a message at once.
    pub offline: bool,
    /// The skill/group to queue for (the tenant's group rules).
    pub group: Option<String>,
}

/// The answer to store, and the state routing moves the conversation to.
#[derive(Debug)]
pub struct Reply {
    /// The answer turn.
    pub turn: Turn,
    /// A new state and why, if routing decided one.
    pub route_to: Option<RouteTo>,
    /// The routing decision to keep with the conversation (an offer, a
    /// handoff); its time and seq are filled in when stored.
    pub note: Option<RouteEvent>,
}

impl Reply {
    /// An answer that leaves the state as it is.
    pub fn answer(turn: Turn) -> Reply {
        Reply {
            turn,
            route_to: None,
            note: None,
        }
    }
}

#[derive(Debug)]
pub struct Exchange {
    /// The conversation (new if the question opened one).
    pub conversation: ConversationId,
    /// The conversation's state after the exchange.
    pub state: ConversationState,
    /// The answer turn, with its seq.
    pub answer: Turn,
    /// True if this client message id was already stored: nothing was written.
    pub duplicate: bool,
}

/// A new conversation for `q`'s message, or the one the same message (same
/// visitor and client message id) opened within the hour: a retry whose
/// answer was lost, which an edge that does not remember it sends again
/// without a conversation id ([`super::first_turns`]).
fn opened(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    q: &Question,
) -> Result<(ConversationId, super::records::ConversationMeta)> {
    let tag = super::first_turns::tag(ctx, tenant, &q.visitor, &q.client_msg_id)?;
    if let Some(found) = super::first_turns::find(ctx, tenant, &tag)? {
        return Ok(found);
    }
    let c = conversations::create(ctx, tenant, Some(&q.visitor))?;
    super::first_turns::remember(ctx, tenant, &tag, &c.id)?;
    Ok((c.id, c.meta))
}

/// Records `q` and the answer `answer` makes for the conversation's state.
/// A closed conversation (or none) gets a new one, unless `create_missing`
/// names the id to use.
pub fn record(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    q: &Question,
    max_chars: usize,
    answer: impl FnOnce(ConversationState) -> Reply,
) -> Result<Exchange> {
    // Which conversation: the given one if it is open, else a new one.
    let existing = match &q.conversation {
        Some(id) => conversations::meta_in(ctx, tenant, id.as_str())?.map(|m| (id.clone(), m)),
        None => None,
    };
    let (conv, meta) = match (existing, &q.conversation) {
        (Some((id, meta)), _) if meta.state != ConversationState::Closed || q.create_missing => {
            (id, meta)
        }
        // Erased on request. An edge's report of a turn it answered before
        // the erasure is dropped (part of what was erased); one answered
        // after it, from the edge's stale copy, is kept in a successor.
        (None, Some(id))
            if q.create_missing && super::erase::is_erased_in(ctx, tenant, id.as_str())? =>
        {
            let at = q.answered_at_ms.ok_or(Error::Erased)?;
            super::erase::successor(ctx, tenant, id, &q.visitor, at)?.ok_or(Error::Erased)?
        }
        // A visitor who writes in it again starts a new conversation.
        (None, Some(id)) if super::erase::is_erased_in(ctx, tenant, id.as_str())? => {
            opened(ctx, tenant, q)?
        }
        (None, Some(id)) if q.create_missing => {
            let c = conversations::create_with_id(ctx, tenant, id, Some(&q.visitor))?;
            (c.id, c.meta)
        }
        (None, Some(_)) => return Err(Error::NotFound),
        _ => opened(ctx, tenant, q)?,
    };
    let question = AppendInput {
        role: Role::Visitor,
        text: q.text.clone(),
        source: None,
        citations: Vec::new(),
        client_msg_id: Some(q.client_msg_id.clone()),
        expected_seq: None,
    };
    let Reply {
        turn: mut reply,
        route_to,
        note,
    } = answer(meta.state);
    let mut route_to = route_to.filter(|r| r.state != meta.state);
    // A handoff decision that moves nothing (already queued) is not news.
    let note = note.filter(|n| n.state.is_none() || route_to.is_some());
    // Entering the queue: for a group somebody staffs (else anyone), and the
    // notice says where the visitor stands.
    if let Some(r) = &mut route_to
        && r.state == ConversationState::QueuedForHuman
    {
        r.group = super::handoff::staffed_group(ctx, tenant, r.group.as_deref())?;
        reply.text = if r.offline {
            reply.source = Some(super::records::Source::LeaveMessage);
            super::handoff::leave_message_prompt(r.locale).to_owned()
        } else {
            let p = super::handoff::position_if_queued(ctx, tenant, r.group.as_deref())?;
            crate::routing::queued_notice_text(r.locale, p)
        };
    }
    let reply_input = AppendInput {
        role: reply.role,
        text: reply.text.clone(),
        source: reply.source,
        citations: reply.citations.clone(),
        client_msg_id: None,
        expected_seq: None,
    };
    // Check both before writing either (the WriteCtx contract).
    conversations::validate(&question, max_chars)?;
    conversations::validate(&reply_input, max_chars)?;
    if meta.state == ConversationState::Closed {
        return Err(Error::Conflict("the conversation is closed".into()));
    }

    let asked = conversations::append(ctx, tenant, conv.as_str(), question, max_chars)?;
    if asked.duplicate {
        // The answer stored right after the question, if any.
        let stored = match asked.seq.checked_add(1) {
            Some(next) => conversations::turn_at(ctx, tenant, conv.as_str(), next)?,
            None => None,
        };
        let answer = stored.filter(|t| t.role != Role::Visitor).unwrap_or(reply);
        return Ok(Exchange {
            conversation: conv,
            state: meta.state,
            answer,
            duplicate: true,
        });
    }
    if meta.state == ConversationState::QueuedForHuman {
        super::handoff::note_left_message(ctx, tenant, conv.as_str(), asked.seq, &q.text)?;
    }
    let answered = conversations::append(ctx, tenant, conv.as_str(), reply_input, max_chars)?;
    let mut state = meta.state;
    let mut note = note;
    if let Some(r) = route_to {
        let (m, changed) = conversations::set_state(ctx, tenant, conv.as_str(), r.state)?;
        state = m.state;
        if changed {
            let group = super::handoff::follow_routing(ctx, tenant, conv.as_str(), &r)?;
            if let Some(n) = note.as_mut() {
                n.group = group;
            }
            let why = format!("reasons={}", r.reasons.join(","));
            let actor = Actor {
                who: "routing".into(),
                source: "internal".into(),
            };
            let object = format!("conversation:{conv} {why}");
            audit_hook::record(
                ctx,
                &actor,
                tenant,
                "conversation.handoff",
                &object,
                Outcome::Ok,
            )?;
        }
    }
    if let Some(mut n) = note {
        n.at_ms = ctx.now_ms;
        n.seq = asked.seq;
        if n.action == "offer" {
            // A handoff is audited with its state change above; an offer
            // changes no state, so it is audited here.
            let kinds: Vec<&str> = n
                .reasons
                .iter()
                .filter_map(|r| r["kind"].as_str())
                .collect();
            let actor = Actor {
                who: "routing".into(),
                source: "internal".into(),
            };
            let object = format!("conversation:{conv} reasons={}", kinds.join(","));
            audit_hook::record(
                ctx,
                &actor,
                tenant,
                "conversation.offer_human",
                &object,
                Outcome::Ok,
            )?;
        }
        conversations::note_route(ctx, tenant, conv.as_str(), n)?;
    }
    let mut turn = reply;
    turn.seq = answered.seq;
    turn.at_ms = answered.at_ms;
    Ok(Exchange {
        conversation: conv,
        state,
        answer: turn,
        duplicate: false,
    })
}
