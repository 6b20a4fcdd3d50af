//! The queue: entering it, accepting, transfers, hand-back, timeouts and
//! left messages, and picking agents.

use redb::{ReadTransaction, ReadableTable};

use super::*;
use crate::store::records::RouteEvent;

/// Keeps `ev` with the conversation (its sealed meta).
fn note(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, ev: RouteEvent) -> Result<()> {
    conversations::note_route(ctx, tenant, conv, ev)
}

// ---- the queue -----------------------------------------------------------

pub(super) fn entry_in(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
) -> Result<Option<HandoffEntry>> {
    match ctx.txn.open_table(HANDOFFS)?.get((tenant, conv))? {
        Some(g) => parse(g.value(), "handoff").map(Some),
        None => Ok(None),
    }
}

pub(super) fn put_entry(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    e: &HandoffEntry,
) -> Result<()> {
    ctx.txn
        .open_table(HANDOFFS)?
        .insert((tenant, conv), json(e)?.as_slice())?;
    Ok(())
}

fn remove_entry(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<()> {
    ctx.txn.open_table(HANDOFFS)?.remove((tenant, conv))?;
    Ok(())
}

fn collect<T>(t: &T, tenant: &str) -> Result<Vec<(String, HandoffEntry)>>
where
    T: ReadableTable<(&'static str, &'static str), &'static [u8]>,
{
    let mut out = Vec::new();
    for row in t.range((tenant, "")..)? {
        let (k, v) = row?;
        let (kt, conv) = k.value();
        if kt != tenant {
            break;
        }
        out.push((conv.to_owned(), parse(v.value(), "handoff")?));
    }
    Ok(out)
}

pub(super) fn entries_in(ctx: &WriteCtx<'_>, tenant: &str) -> Result<Vec<(String, HandoffEntry)>> {
    collect(&ctx.txn.open_table(HANDOFFS)?, tenant)
}

/// Every handoff entry of the tenant, by conversation id.
pub fn entries(txn: &ReadTransaction, tenant: &str) -> Result<Vec<(String, HandoffEntry)>> {
    collect(&txn.open_table(HANDOFFS)?, tenant)
}

/// The entry for one conversation.
pub fn entry(txn: &ReadTransaction, tenant: &str, conv: &str) -> Result<Option<HandoffEntry>> {
    match txn.open_table(HANDOFFS)?.get((tenant, conv))? {
        Some(g) => parse(g.value(), "handoff").map(Some),
        None => Ok(None),
    }
}

/// Every tenant with entries, and their entries (the queue sweeper).
pub fn all_entries(txn: &ReadTransaction) -> Result<Vec<(String, String, HandoffEntry)>> {
    let mut out = Vec::new();
    for row in txn.open_table(HANDOFFS)?.iter()? {
        let (k, v) = row?;
        let (t, c) = k.value();
        out.push((t.to_owned(), c.to_owned(), parse(v.value(), "handoff")?));
    }
    Ok(out)
}

/// Where a conversation queued now would stand, and the expected wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1 = next.
    pub position: u32,
    /// Expected wait in seconds, from the waits of conversations agents hold
    /// now; `None` until there is one.
    pub eta_secs: Option<u64>,
}

pub(super) fn position_among(
    all: &[(String, HandoffEntry)],
    group: Option<&str>,
    before: impl Fn(&str, &HandoffEntry) -> bool,
) -> Position {
    let ahead = all
        .iter()
        .filter(|(c, e)| e.waiting() && e.group.as_deref() == group && before(c, e))
        .count();
    let waits: Vec<u64> = all
        .iter()
        .filter_map(|(_, e)| e.accepted_ms.map(|a| a.saturating_sub(e.queued_ms)))
        .collect();
    let position = u32::try_from(ahead + 1).unwrap_or(u32::MAX);
    let eta_secs = (!waits.is_empty()).then(|| {
        let avg_ms = waits.iter().sum::<u64>() / waits.len() as u64;
        (avg_ms / 1000).max(1) * u64::from(position)
    });
    Position { position, eta_secs }
}

/// The position a conversation queued now for `group` would take.
pub fn position_if_queued(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    group: Option<&str>,
) -> Result<Position> {
    Ok(position_among(&entries_in(ctx, tenant)?, group, |_, _| {
        true
    }))
}

/// `group` if some agent of the tenant is in it, else `None` (any agent):
/// a rule naming a group nobody staffs must not leave the visitor waiting
/// for no one.
pub fn staffed_group(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    group: Option<&str>,
) -> Result<Option<String>> {
    let Some(g) = group else {
        return Ok(None);
    };
    let staffed = agents_in(ctx, tenant)?
        .iter()
        .any(|(_, a)| a.groups.iter().any(|x| x == g));
    Ok(staffed.then(|| g.to_owned()))
}

/// A conversation's place in its queue (`None` unless waiting).
pub fn position_of(txn: &ReadTransaction, tenant: &str, conv: &str) -> Result<Option<Position>> {
    let all = entries(txn, tenant)?;
    let Some((_, me)) = all.iter().find(|(c, _)| c == conv) else {
        return Ok(None);
    };
    if !me.waiting() {
        return Ok(None);
    }
    let me = me.clone();
    Ok(Some(position_among(&all, me.group.as_deref(), |c, e| {
        (e.queued_ms, c) < (me.queued_ms, conv)
    })))
}

/// Puts a conversation in the queue (called in the transaction that moves
/// it to `queued_for_human`). `offline`: nobody can take it now (outside
/// business hours or no agents), so it waits as a left message at once.
pub fn enqueue(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    reasons: Vec<String>,
    group: Option<String>,
    offline: bool,
) -> Result<()> {
    let mut e = entry_in(ctx, tenant, conv)?.unwrap_or_default();
    e.queued_ms = ctx.now_ms;
    e.reasons = reasons;
    e.group = group;
    e.agent = None;
    e.accepted_ms = None;
    if offline {
        e.timed_out_ms = Some(ctx.now_ms);
    }
    put_entry(ctx, tenant, conv, &e)
}

/// Routing moved the conversation (in the exchange's transaction, which
/// has already resolved `r.group` with [`staffed_group`]). Returns the group
/// it was queued for.
pub fn follow_routing(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    r: &crate::store::exchange::RouteTo,
) -> Result<Option<String>> {
    match r.state {
        ConversationState::QueuedForHuman => {
            let group = r.group.clone();
            enqueue(
                ctx,
                tenant,
                conv,
                r.reasons.clone(),
                group.clone(),
                r.offline,
            )?;
            Ok(group)
        }
        other => follow_state(ctx, tenant, conv, other).map(|()| None),
    }
}

/// The state moved outside this module (the tenant API): keep the queue in
/// step. Queued: an entry with reason `api`; AI or closed: none, and
/// routing starts fresh.
pub fn follow_state(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    state: ConversationState,
) -> Result<()> {
    note(
        ctx,
        tenant,
        conv,
        RouteEvent {
            state: Some(state),
            ..RouteEvent::new("state", ctx.now_ms, 0)
        },
    )?;
    match state {
        ConversationState::QueuedForHuman => {
            if entry_in(ctx, tenant, conv)?.is_none() {
                enqueue(ctx, tenant, conv, vec!["api".into()], None, false)?;
            }
            Ok(())
        }
        ConversationState::WithAgent => Ok(()),
        ConversationState::Ai | ConversationState::Closed => {
            remove_entry(ctx, tenant, conv)?;
            conversations::start_fresh(ctx, tenant, conv)
        }
    }
}

/// What the visitor's locale looks like, from their latest message.
fn visitor_locale(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<Locale> {
    Ok(conversations::last_visitor_text_in(ctx, tenant, conv)?
        .map_or(Locale::En, |t| Locale::detect(&t)))
}

fn notice(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, text: String) -> Result<Appended> {
    notice_from(ctx, tenant, conv, text, None)
}

fn notice_from(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    text: String,
    source: Option<Source>,
) -> Result<Appended> {
    conversations::append(
        ctx,
        tenant,
        conv,
        AppendInput {
            role: Role::System,
            text,
            source,
            citations: Vec::new(),
            client_msg_id: None,
            expected_seq: None,
        },
        usize::MAX,
    )
}

pub(super) fn load_of(all: &[(String, HandoffEntry)], agent: &str) -> u32 {
    u32::try_from(
        all.iter()
            .filter(|(_, e)| e.agent.as_deref() == Some(agent))
            .count(),
    )
    .unwrap_or(u32::MAX)
}

fn check_capacity(ctx: &WriteCtx<'_>, tenant: &str, agent: &str) -> Result<AgentRecord> {
    let rec = agent_in(ctx, tenant, agent)?.ok_or(Error::NotFound)?;
    let load = load_of(&entries_in(ctx, tenant)?, agent);
    if load >= rec.max_concurrent {
        return Err(Error::Conflict(format!(
            "the agent already has {load} conversations, their limit"
        )));
    }
    Ok(rec)
}

/// `agent` takes a queued conversation (or a left message). The second of
/// two agents accepting at once gets a conflict naming that it is taken.
pub fn accept(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, agent: &str) -> Result<HandoffEntry> {
    let mut e = entry_in(ctx, tenant, conv)?.ok_or(Error::NotFound)?;
    match e.agent.as_deref() {
        Some(a) if a == agent => return Ok(e),
        Some(_) => {
            return Err(Error::Conflict(
                "another agent has already accepted this conversation".into(),
            ));
        }
        None => {}
    }
    let rec = check_capacity(ctx, tenant, agent)?;
    e.agent = Some(agent.to_owned());
    e.accepted_ms = Some(ctx.now_ms);
    put_entry(ctx, tenant, conv, &e)?;
    conversations::set_state(ctx, tenant, conv, ConversationState::WithAgent)?;
    note(
        ctx,
        tenant,
        conv,
        RouteEvent {
            state: Some(ConversationState::WithAgent),
            agent: Some(agent.to_owned()),
            group: e.group.clone(),
            ..RouteEvent::new("accepted", ctx.now_ms, 0)
        },
    )?;
    let text = match visitor_locale(ctx, tenant, conv)? {
        Locale::Zh => format!("客服 {} 已接入，将为您服务。", rec.name),
        Locale::En => format!("{} (agent) has joined the conversation.", rec.name),
    };
    notice(ctx, tenant, conv, text)?;
    Ok(e)
}

fn owned(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, agent: &str) -> Result<HandoffEntry> {
    let e = entry_in(ctx, tenant, conv)?.ok_or(Error::NotFound)?;
    if e.agent.as_deref() != Some(agent) {
        return Err(Error::Conflict(
            "this conversation is not assigned to you; accept it first".into(),
        ));
    }
    Ok(e)
}

/// An agent's message to the visitor (the agent must hold the conversation).
pub fn agent_message(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    agent: &str,
    text: String,
    client_msg_id: Option<String>,
    max_chars: usize,
) -> Result<Appended> {
    owned(ctx, tenant, conv, agent)?;
    conversations::append(
        ctx,
        tenant,
        conv,
        AppendInput {
            role: Role::Agent,
            text,
            source: None,
            citations: Vec::new(),
            client_msg_id,
            expected_seq: None,
        },
        max_chars,
    )
}

/// Where a transfer goes.
#[derive(Debug, Clone)]
pub enum TransferTo {
    /// Straight to this agent (within their limit).
    Agent(String),
    /// Back to the queue, for this group.
    Group(String),
}

/// Hands a conversation the agent holds to another agent or group.
pub fn transfer(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    agent: &str,
    to: &TransferTo,
) -> Result<HandoffEntry> {
    let mut e = owned(ctx, tenant, conv, agent)?;
    let zh = visitor_locale(ctx, tenant, conv)? == Locale::Zh;
    let mut ev = RouteEvent {
        agent: Some(agent.to_owned()),
        ..RouteEvent::new("transferred", ctx.now_ms, 0)
    };
    let text = match to {
        TransferTo::Agent(other) => {
            if other == agent {
                return Err(Error::Invalid("cannot transfer to yourself".into()));
            }
            let rec = check_capacity(ctx, tenant, other).map_err(|e| match e {
                Error::NotFound => Error::Invalid(format!("no agent {other:?}")),
                e => e,
            })?;
            e.agent = Some(other.clone());
            e.accepted_ms = Some(ctx.now_ms);
            ev.to = Some(other.clone());
            if zh {
                format!("已为您转接客服 {}。", rec.name)
            } else {
                format!("You've been transferred to {} (agent).", rec.name)
            }
        }
        TransferTo::Group(g) => {
            check_id(g, "group")?;
            e.agent = None;
            e.accepted_ms = None;
            e.group = Some(g.clone());
            e.queued_ms = ctx.now_ms;
            e.timed_out_ms = None;
            conversations::set_state(ctx, tenant, conv, ConversationState::QueuedForHuman)?;
            ev.group = Some(g.clone());
            ev.state = Some(ConversationState::QueuedForHuman);
            if zh {
                "正在为您转接其他客服，请稍候。".to_owned()
            } else {
                "You're being transferred to another team; please wait a moment.".to_owned()
            }
        }
    };
    put_entry(ctx, tenant, conv, &e)?;
    notice(ctx, tenant, conv, text)?;
    note(ctx, tenant, conv, ev)?;
    Ok(e)
}

/// The agent is done: back to the AI (`close = false`) or closed. The
/// visitor is told; routing starts fresh after this point, so the old
/// reason does not send the next message straight back to a person.
pub fn release(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    agent: &str,
    close: bool,
) -> Result<()> {
    owned(ctx, tenant, conv, agent)?;
    let zh = visitor_locale(ctx, tenant, conv)? == Locale::Zh;
    let text = match (close, zh) {
        (false, true) => "客服已离开，接下来由智能助手继续为您服务。如需人工，随时告诉我。",
        (false, false) => "The agent has left; the assistant is back. Ask for a human any time.",
        (true, true) => "客服已结束本次会话。感谢您的耐心，如有新问题请直接发送。",
        (true, false) => {
            "The agent has closed this conversation. Thank you! Send a new message any time."
        }
    };
    notice(ctx, tenant, conv, text.to_owned())?;
    remove_entry(ctx, tenant, conv)?;
    let state = if close {
        ConversationState::Closed
    } else {
        ConversationState::Ai
    };
    note(
        ctx,
        tenant,
        conv,
        RouteEvent {
            state: Some(state),
            agent: Some(agent.to_owned()),
            ..RouteEvent::new(if close { "closed" } else { "handed_back" }, ctx.now_ms, 0)
        },
    )?;
    conversations::set_state(ctx, tenant, conv, state)?;
    if !close {
        conversations::start_fresh(ctx, tenant, conv)?;
    }
    Ok(())
}

/// The visitor's message after the queue timed out is kept as a left
/// message for agents; a phone number or e-mail in it becomes the
/// conversation's contact.
pub fn note_left_message(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    seq: u64,
    text: &str,
) -> Result<()> {
    if let Some(mut e) = entry_in(ctx, tenant, conv)?
        && e.timed_out_ms.is_some()
        && e.agent.is_none()
    {
        e.left_messages.push(seq);
        put_entry(ctx, tenant, conv, &e)?;
        if let Some(c) = contact_in(text) {
            conversations::set_contact(ctx, tenant, conv, c)?;
        }
        note(
            ctx,
            tenant,
            conv,
            RouteEvent::new("left_message", ctx.now_ms, seq),
        )?;
    }
    Ok(())
}

/// Labels the widget's offline form puts before the contact line.
const CONTACT_LABELS: &[&str] = &["Contact:", "联系方式：", "联系方式:"];

/// The contact in a left message: the widget's form sends
/// "message\nContact: …" (any phone format the visitor uses); a typed
/// message counts when it holds a mobile number or e-mail (the last one).
pub fn contact_in(text: &str) -> Option<String> {
    let labelled = text.lines().rev().find_map(|line| {
        let line = line.trim();
        CONTACT_LABELS
            .iter()
            .find_map(|l| line.strip_prefix(l))
            .map(str::trim)
            .filter(|c| !c.is_empty())
    });
    if let Some(c) = labelled {
        return Some(c.chars().take(100).collect());
    }
    kefu_core::pii::find(text)
        .iter()
        .rfind(|s| {
            matches!(
                s.kind,
                kefu_core::pii::PiiKind::Mobile | kefu_core::pii::PiiKind::Email
            )
        })
        .and_then(|s| text.get(s.start..s.end))
        .map(str::to_owned)
}

/// Times out one waiting conversation: the visitor is asked to leave a
/// message. Returns false if it was no longer waiting.
pub fn time_out(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<bool> {
    let Some(mut e) = entry_in(ctx, tenant, conv)? else {
        return Ok(false);
    };
    let timeout_ms = u64::from(settings_in(ctx, tenant)?.queue_timeout_secs) * 1000;
    if !e.waiting() || ctx.now_ms < e.queued_ms.saturating_add(timeout_ms) {
        return Ok(false);
    }
    e.timed_out_ms = Some(ctx.now_ms);
    put_entry(ctx, tenant, conv, &e)?;
    let text = leave_message_prompt(visitor_locale(ctx, tenant, conv)?);
    notice_from(
        ctx,
        tenant,
        conv,
        text.to_owned(),
        Some(Source::LeaveMessage),
    )?;
    note(
        ctx,
        tenant,
        conv,
        RouteEvent::new("queue_timeout", ctx.now_ms, 0),
    )?;
    Ok(true)
}

/// What a visitor is told when nobody can take the conversation now.
pub fn leave_message_prompt(locale: Locale) -> &'static str {
    match locale {
        Locale::Zh => {
            "抱歉，目前没有空闲的人工客服。请在这里留下您的联系方式（手机或邮箱）和问题，客服上线后会尽快回复您。"
        }
        Locale::En => {
            "Sorry, no agent is free right now. Please leave your phone or e-mail and your question here; an agent will get back to you."
        }
    }
}

/// The reply to a message left after the timeout; without a phone number
/// or e-mail in it, the visitor is asked for one.
pub fn left_message_ack(locale: Locale, text: &str) -> &'static str {
    match (locale, contact_in(text).is_some()) {
        (Locale::Zh, true) => "已收到您的留言，客服会尽快联系您。",
        (Locale::Zh, false) => "已收到您的留言。请再留下手机号或邮箱，方便客服联系您。",
        (Locale::En, true) => "Thanks, your message is recorded; an agent will get back to you.",
        (Locale::En, false) => {
            "Thanks, your message is recorded. Please also leave a phone number or e-mail so an agent can reach you."
        }
    }
}

/// Picks who gets the oldest waiting conversation under `mode`, among
/// `online` agents (id, record), or `None`. `cursor` is the round-robin
/// position, advanced on a pick.
pub fn pick_agent(
    mode: Assignment,
    entry: &HandoffEntry,
    all: &[(String, HandoffEntry)],
    online: &[(String, AgentRecord)],
    cursor: &mut usize,
) -> Option<String> {
    let fits = |(id, rec): &&(String, AgentRecord)| {
        load_of(all, id) < rec.max_concurrent
            && entry
                .group
                .as_ref()
                .is_none_or(|g| rec.groups.iter().any(|x| x == g))
    };
    match mode {
        Assignment::Manual => None,
        Assignment::LeastBusy => online
            .iter()
            .filter(fits)
            .min_by_key(|(id, _)| (load_of(all, id), id.clone()))
            .map(|(id, _)| id.clone()),
        Assignment::RoundRobin => {
            let n = online.len();
            (0..n)
                .map(|i| (*cursor + i) % n)
                .find(|&i| fits(&&online[i]))
                .map(|i| {
                    *cursor = (i + 1) % n;
                    online[i].0.clone()
                })
        }
    }
}
