//! The human side of a conversation: agents, the queue, assignment, canned
//! replies and the tenant's handoff settings.
//!
//! A conversation routed to a person gets a [`HandoffEntry`] in
//! [`HANDOFFS`] in the same transaction that moves it to
//! `queued_for_human`; the entry is the queue (who waits since when, in which
//! group, why) and the assignment (which agent has it). The conversation's
//! sealed meta stays the source of truth for its state; every function here
//! changes both in one transaction, so they cannot disagree. The entry goes
//! away when the agent hands back to the AI or closes.
//!
//! Nothing here holds conversation content: entries carry times, ids, group
//! names and routing reason *kinds*; the visitor's words stay in the sealed
//! turns. Agent records hold an argon2 hash, never a password.
//!
//! Accepting is a check-and-set inside the single writer: two agents that
//! accept at once are serialised, and the second sees the first's agent id
//! and gets a conflict.

use redb::{ReadTransaction, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::WriteCtx;
use super::conversations::{self, AppendInput, Appended};
use super::records::{ConversationState, Role};
use crate::{Error, Result};
use kefu_core::Locale;
use kefu_core::routing::RoutingConfig;

/// (tenant, agent id) -> JSON [`AgentRecord`].
pub const AGENTS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("agents");
/// (tenant, conversation) -> JSON [`HandoffEntry`]: the queue and assignments.
pub const HANDOFFS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("handoffs");
/// (tenant, reply id) -> JSON [`CannedReply`].
pub const CANNED: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("canned_replies");
/// tenant -> JSON [`HandoffSettings`] (absent: the defaults).
pub const SETTINGS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("handoff_settings");

/// Most agents per tenant.
pub const MAX_AGENTS: usize = 1_000;
/// Most canned replies per tenant.
pub const MAX_CANNED: usize = 2_000;
/// Longest canned reply text, in characters.
pub const MAX_CANNED_CHARS: usize = 4_000;

/// A tenant user who answers visitors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Display name, shown to visitors ("Alice joined").
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Skill/group tags; an agent takes conversations queued for any of them
    /// (and untagged ones).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Conversations this agent may hold at once.
    pub max_concurrent: u32,
    /// Created, ms since the epoch.
    pub created_ms: u64,
}

/// One conversation waiting for, or held by, a person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoffEntry {
    /// When it entered the queue (again, after a transfer to a group), ms.
    pub queued_ms: u64,
    /// The skill/group it waits for; `None`: any agent.
    pub group: Option<String>,
    /// Why it was handed off (routing reason kinds, or `agent`/`api`).
    pub reasons: Vec<String>,
    /// The agent who has it.
    pub agent: Option<String>,
    /// When that agent accepted, ms.
    pub accepted_ms: Option<u64>,
    /// When nobody accepted in time and the visitor was asked to leave a
    /// message; from then on the visitor's messages are kept as left messages.
    pub timed_out_ms: Option<u64>,
    /// Seqs of the messages the visitor left after the timeout.
    pub left_messages: Vec<u64>,
}

impl HandoffEntry {
    /// Waiting in the live queue (no agent, not timed out).
    pub fn waiting(&self) -> bool {
        self.agent.is_none() && self.timed_out_ms.is_none()
    }
}

/// A tenant-managed reply an agent can send with one click.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CannedReply {
    /// Id (letters, digits, `-`, `_`, `.`).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    /// Short title agents search by.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The text sent.
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
}

/// How conversations reach agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Agents accept from the queue themselves.
    #[default]
    Manual,
    /// The online agent with the fewest conversations gets the next one.
    LeastBusy,
    /// Online agents take turns.
    RoundRobin,
}

/// When the tenant's people work, in the tenant's UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// Minutes east of UTC (480 for China Standard Time).
    pub utc_offset_minutes: i32,
    /// Working days, 1 = Monday .. 7 = Sunday.
    pub days: Vec<u8>,
    /// Opening time, `HH:MM`.
    pub open: String,
    /// Closing time, `HH:MM` (after `open`).
    pub close: String,
}

impl BusinessHours {
    fn minutes(s: &str) -> Result<u32> {
        let bad = || Error::Invalid(format!("business_hours: {s:?} is not HH:MM"));
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m > 0) || s.len() != 5 {
            return Err(bad());
        }
        Ok(h * 60 + m)
    }

    fn validate(&self) -> Result<()> {
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(Error::Invalid(
                "business_hours: utc_offset_minutes must be -720..=840".into(),
            ));
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(Error::Invalid(
                "business_hours: days must be 1 (Monday) ..= 7 (Sunday), at least one".into(),
            ));
        }
        if Self::minutes(&self.open)? >= Self::minutes(&self.close)? {
            return Err(Error::Invalid(
                "business_hours: close must be after open".into(),
            ));
        }
        Ok(())
    }

    /// Whether `now_ms` (Unix time) falls inside the hours.
    pub fn is_open(&self, now_ms: u64) -> bool {
        let local_min =
            i64::try_from(now_ms / 60_000).unwrap_or(i64::MAX) + i64::from(self.utc_offset_minutes);
        let day_index = local_min.div_euclid(1440);
        let minute = u32::try_from(local_min.rem_euclid(1440)).unwrap_or(0);
        // 1970-01-01 was a Thursday (4).
        let weekday = u8::try_from((day_index + 3).rem_euclid(7) + 1).unwrap_or(1);
        let (Ok(open), Ok(close)) = (Self::minutes(&self.open), Self::minutes(&self.close)) else {
            return true;
        };
        self.days.contains(&weekday) && minute >= open && minute < close
    }
}

/// A tenant's handoff rules (`GET/PUT /v1/handoff/settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffSettings {
    /// kefu-core's routing thresholds and keywords.
    #[schema(value_type = Object)]
    pub routing: RoutingConfig,
    /// Seconds a visitor waits in the queue before being asked to leave a
    /// message instead (10..=86400).
    pub queue_timeout_secs: u32,
    /// How queued conversations reach agents.
    pub assignment: Assignment,
    /// Working hours; outside them a handoff becomes "leave a message".
    /// `null`: always open.
    pub business_hours: Option<BusinessHours>,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            routing: RoutingConfig::default(),
            queue_timeout_secs: 180,
            assignment: Assignment::Manual,
            business_hours: None,
        }
    }
}

impl HandoffSettings {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.routing
            .validate()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if !(1..=86_400).contains(&self.queue_timeout_secs) {
            return Err(Error::Invalid(
                "queue_timeout_secs must be 1..=86400".into(),
            ));
        }
        if let Some(b) = &self.business_hours {
            b.validate()?;
        }
        Ok(())
    }

    /// Whether people are on duty at `now_ms`.
    pub fn on_duty(&self, now_ms: u64) -> bool {
        self.business_hours
            .as_ref()
            .is_none_or(|b| b.is_open(now_ms))
    }
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Invalid(e.to_string()))
}

fn parse<T: for<'de> Deserialize<'de>>(b: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(b)
        .map_err(|e| Error::Core(kefu_core::Error::Decode(format!("{what}: {e}"))))
}

/// Checks an id used in URLs and keys.
pub fn check_id(id: &str, what: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} must be 1..=64 letters, digits, '-', '_' or '.'"
        )))
    }
}

// ---- settings ------------------------------------------------------------

/// The tenant's handoff settings (defaults when never set).
pub fn settings(txn: &ReadTransaction, tenant: &str) -> Result<HandoffSettings> {
    match txn.open_table(SETTINGS)?.get(tenant)? {
        Some(g) => parse(g.value(), "handoff settings"),
        None => Ok(HandoffSettings::default()),
    }
}

fn settings_in(ctx: &WriteCtx<'_>, tenant: &str) -> Result<HandoffSettings> {
    match ctx.txn.open_table(SETTINGS)?.get(tenant)? {
        Some(g) => parse(g.value(), "handoff settings"),
        None => Ok(HandoffSettings::default()),
    }
}

/// Replaces the tenant's handoff settings.
pub fn put_settings(ctx: &WriteCtx<'_>, tenant: &str, s: &HandoffSettings) -> Result<()> {
    s.validate()?;
    ctx.txn
        .open_table(SETTINGS)?
        .insert(tenant, json(s)?.as_slice())?;
    Ok(())
}

// ---- agents --------------------------------------------------------------

/// Stores a new agent; an existing id is a conflict.
pub fn create_agent(ctx: &WriteCtx<'_>, tenant: &str, id: &str, rec: &AgentRecord) -> Result<()> {
    check_id(id, "agent id")?;
    let mut t = ctx.txn.open_table(AGENTS)?;
    if t.get((tenant, id))?.is_some() {
        return Err(Error::Conflict(format!("an agent {id:?} already exists")));
    }
    if t.range((tenant, "")..)?
        .take_while(|r| r.as_ref().is_ok_and(|(k, _)| k.value().0 == tenant))
        .count()
        >= MAX_AGENTS
    {
        return Err(Error::TooLarge(format!(
            "at most {MAX_AGENTS} agents per tenant"
        )));
    }
    t.insert((tenant, id), json(rec)?.as_slice())?;
    Ok(())
}

/// One agent.
pub fn agent(txn: &ReadTransaction, tenant: &str, id: &str) -> Result<Option<AgentRecord>> {
    match txn.open_table(AGENTS)?.get((tenant, id))? {
        Some(g) => parse(g.value(), "agent").map(Some),
        None => Ok(None),
    }
}

fn agent_in(ctx: &WriteCtx<'_>, tenant: &str, id: &str) -> Result<Option<AgentRecord>> {
    match ctx.txn.open_table(AGENTS)?.get((tenant, id))? {
        Some(g) => parse(g.value(), "agent").map(Some),
        None => Ok(None),
    }
}

/// Every agent of the tenant, by id.
pub fn agents(txn: &ReadTransaction, tenant: &str) -> Result<Vec<(String, AgentRecord)>> {
    let t = txn.open_table(AGENTS)?;
    let mut out = Vec::new();
    for row in t.range((tenant, "")..)? {
        let (k, v) = row?;
        let (kt, id) = k.value();
        if kt != tenant {
            break;
        }
        out.push((id.to_owned(), parse(v.value(), "agent")?));
    }
    Ok(out)
}

/// Deletes an agent; the conversations they held go back to the queue.
/// Returns those conversations.
pub fn delete_agent(ctx: &WriteCtx<'_>, tenant: &str, id: &str) -> Result<Vec<String>> {
    if ctx.txn.open_table(AGENTS)?.remove((tenant, id))?.is_none() {
        return Err(Error::NotFound);
    }
    let held: Vec<String> = entries_in(ctx, tenant)?
        .into_iter()
        .filter(|(_, e)| e.agent.as_deref() == Some(id))
        .map(|(c, _)| c)
        .collect();
    for conv in &held {
        let mut e = entry_in(ctx, tenant, conv)?.unwrap_or_default();
        e.agent = None;
        e.accepted_ms = None;
        e.queued_ms = ctx.now_ms;
        put_entry(ctx, tenant, conv, &e)?;
        conversations::set_state(ctx, tenant, conv, ConversationState::QueuedForHuman)?;
    }
    Ok(held)
}

// ---- canned replies ------------------------------------------------------

/// Adds or replaces a canned reply.
pub fn put_canned(ctx: &WriteCtx<'_>, tenant: &str, r: &CannedReply) -> Result<()> {
    check_id(&r.id, "reply id")?;
    let n = r.text.chars().count();
    if r.title.trim().is_empty() || r.title.chars().count() > 200 {
        return Err(Error::Invalid("title must have 1..=200 characters".into()));
    }
    if r.text.trim().is_empty() || n > MAX_CANNED_CHARS {
        return Err(Error::Invalid(format!(
            "text must have 1..={MAX_CANNED_CHARS} characters"
        )));
    }
    let mut t = ctx.txn.open_table(CANNED)?;
    if t.get((tenant, r.id.as_str()))?.is_none()
        && t.range((tenant, "")..)?
            .take_while(|r| r.as_ref().is_ok_and(|(k, _)| k.value().0 == tenant))
            .count()
            >= MAX_CANNED
    {
        return Err(Error::TooLarge(format!(
            "at most {MAX_CANNED} canned replies per tenant"
        )));
    }
    t.insert((tenant, r.id.as_str()), json(r)?.as_slice())?;
    Ok(())
}

/// Deletes a canned reply.
pub fn delete_canned(ctx: &WriteCtx<'_>, tenant: &str, id: &str) -> Result<()> {
    match ctx.txn.open_table(CANNED)?.remove((tenant, id))? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound),
    }
}

/// Canned replies whose title or text contains `q` (case-insensitive; all
/// when `q` is empty), by id.
pub fn canned(txn: &ReadTransaction, tenant: &str, q: &str) -> Result<Vec<CannedReply>> {
    let needle = q.trim().to_lowercase();
    let t = txn.open_table(CANNED)?;
    let mut out = Vec::new();
    for row in t.range((tenant, "")..)? {
        let (k, v) = row?;
        if k.value().0 != tenant {
            break;
        }
        let r: CannedReply = parse(v.value(), "canned reply")?;
        if needle.is_empty()
            || r.title.to_lowercase().contains(&needle)
            || r.text.to_lowercase().contains(&needle)
        {
            out.push(r);
        }
    }
    Ok(out)
}

// ---- the queue -----------------------------------------------------------

fn entry_in(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<Option<HandoffEntry>> {
    match ctx.txn.open_table(HANDOFFS)?.get((tenant, conv))? {
        Some(g) => parse(g.value(), "handoff").map(Some),
        None => Ok(None),
    }
}

fn put_entry(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, e: &HandoffEntry) -> Result<()> {
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

fn entries_in(ctx: &WriteCtx<'_>, tenant: &str) -> Result<Vec<(String, HandoffEntry)>> {
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

fn position_among(
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

/// The position a conversation queued now would take.
pub fn position_if_queued(ctx: &WriteCtx<'_>, tenant: &str) -> Result<Position> {
    Ok(position_among(&entries_in(ctx, tenant)?, None, |_, _| true))
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
    offline: bool,
) -> Result<()> {
    let mut e = entry_in(ctx, tenant, conv)?.unwrap_or_default();
    e.queued_ms = ctx.now_ms;
    e.reasons = reasons;
    e.agent = None;
    e.accepted_ms = None;
    if offline {
        e.timed_out_ms = Some(ctx.now_ms);
    }
    put_entry(ctx, tenant, conv, &e)
}

/// Routing moved the conversation (in the exchange's transaction).
pub fn follow_routing(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &str,
    r: &super::exchange::RouteTo,
) -> Result<()> {
    match r.state {
        ConversationState::QueuedForHuman => {
            enqueue(ctx, tenant, conv, r.reasons.clone(), r.offline)
        }
        other => follow_state(ctx, tenant, conv, other),
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
    match state {
        ConversationState::QueuedForHuman => {
            if entry_in(ctx, tenant, conv)?.is_none() {
                enqueue(ctx, tenant, conv, vec!["api".into()], false)?;
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
    conversations::append(
        ctx,
        tenant,
        conv,
        AppendInput {
            role: Role::System,
            text,
            source: None,
            citations: Vec::new(),
            client_msg_id: None,
            expected_seq: None,
        },
        usize::MAX,
    )
}

fn load_of(all: &[(String, HandoffEntry)], agent: &str) -> u32 {
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
            if zh {
                "正在为您转接其他客服，请稍候。".to_owned()
            } else {
                "You're being transferred to another team; please wait a moment.".to_owned()
            }
        }
    };
    put_entry(ctx, tenant, conv, &e)?;
    notice(ctx, tenant, conv, text)?;
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
    conversations::set_state(
        ctx,
        tenant,
        conv,
        if close {
            ConversationState::Closed
        } else {
            ConversationState::Ai
        },
    )?;
    if !close {
        conversations::start_fresh(ctx, tenant, conv)?;
    }
    Ok(())
}

/// The visitor's message after the queue timed out is kept as a left
/// message for agents.
pub fn note_left_message(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, seq: u64) -> Result<()> {
    if let Some(mut e) = entry_in(ctx, tenant, conv)?
        && e.timed_out_ms.is_some()
        && e.agent.is_none()
    {
        e.left_messages.push(seq);
        put_entry(ctx, tenant, conv, &e)?;
    }
    Ok(())
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
    notice(ctx, tenant, conv, text.to_owned())?;
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
    let contact = kefu_core::pii::find(text).iter().any(|s| {
        matches!(
            s.kind,
            kefu_core::pii::PiiKind::Mobile | kefu_core::pii::PiiKind::Email
        )
    });
    match (locale, contact) {
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

/// Removes every handoff row of a tenant (tenant deletion).
pub fn remove_tenant(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    for def in [AGENTS, HANDOFFS, CANNED] {
        let mut t = ctx.txn.open_table(def)?;
        let keys: Vec<String> = {
            let mut v = Vec::new();
            for row in t.range((tenant, "")..)? {
                let (k, _) = row?;
                let (kt, id) = k.value();
                if kt != tenant {
                    break;
                }
                v.push(id.to_owned());
            }
            v
        };
        for k in keys {
            t.remove((tenant, k.as_str()))?;
        }
    }
    ctx.txn.open_table(SETTINGS)?.remove(tenant)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours() -> BusinessHours {
        BusinessHours {
            utc_offset_minutes: 480,
            days: vec![1, 2, 3, 4, 5],
            open: "09:00".into(),
            close: "18:00".into(),
        }
    }

    #[test]
    fn business_hours_follow_the_tenants_clock() {
        // 2026-12-03 is a Thursday. 01:30 UTC = 09:30 in Beijing: open.
        let thu_0130_utc = 1_796_261_400_000;
        assert!(hours().is_open(thu_0130_utc));
        // 00:30 UTC = 08:30 Beijing: not yet.
        assert!(!hours().is_open(thu_0130_utc - 3_600_000));
        // 10:00 UTC = 18:00 Beijing: closed (close is exclusive).
        assert!(!hours().is_open(thu_0130_utc + 8 * 3_600_000 + 30 * 60_000));
        // Saturday 09:30 Beijing: closed.
        assert!(!hours().is_open(thu_0130_utc + 2 * 86_400_000));
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let mut s = HandoffSettings {
            business_hours: Some(BusinessHours {
                close: "08:00".into(),
                ..hours()
            }),
            ..HandoffSettings::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("close must be after open")
        );
        s.business_hours = Some(BusinessHours {
            open: "9am".into(),
            ..hours()
        });
        assert!(s.validate().unwrap_err().to_string().contains("HH:MM"));
        s.business_hours = None;
        s.queue_timeout_secs = 0;
        assert!(s.validate().is_err());
    }

    fn rec(max: u32, groups: &[&str]) -> AgentRecord {
        AgentRecord {
            name: "n".into(),
            password_hash: String::new(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            max_concurrent: max,
            created_ms: 0,
        }
    }

    fn held_by(agent: &str) -> (String, HandoffEntry) {
        (
            format!("c-{agent}"),
            HandoffEntry {
                agent: Some(agent.into()),
                ..HandoffEntry::default()
            },
        )
    }

    #[test]
    fn least_busy_respects_limits_and_groups() {
        let online = vec![
            ("a".to_owned(), rec(2, &[])),
            ("b".to_owned(), rec(1, &["vip"])),
        ];
        let all = vec![held_by("a")];
        let mut cur = 0;
        let plain = HandoffEntry::default();
        // a holds one, b none: b is least busy.
        assert_eq!(
            pick_agent(Assignment::LeastBusy, &plain, &all, &online, &mut cur).as_deref(),
            Some("b")
        );
        let vip = HandoffEntry {
            group: Some("vip".into()),
            ..HandoffEntry::default()
        };
        let all = vec![held_by("a"), held_by("b")];
        // Only b has the vip skill, and b is full.
        assert_eq!(
            pick_agent(Assignment::LeastBusy, &vip, &all, &online, &mut cur),
            None
        );
        // a still has room for an untagged one.
        assert_eq!(
            pick_agent(Assignment::LeastBusy, &plain, &all, &online, &mut cur).as_deref(),
            Some("a")
        );
        assert_eq!(
            pick_agent(Assignment::Manual, &plain, &[], &online, &mut cur),
            None
        );
    }

    #[test]
    fn round_robin_takes_turns() {
        let online = vec![
            ("a".to_owned(), rec(9, &[])),
            ("b".to_owned(), rec(9, &[])),
            ("c".to_owned(), rec(9, &[])),
        ];
        let mut cur = 0;
        let e = HandoffEntry::default();
        let picks: Vec<String> = (0..4)
            .map(|_| pick_agent(Assignment::RoundRobin, &e, &[], &online, &mut cur).unwrap())
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
    }

    #[test]
    fn position_counts_only_earlier_waiting_conversations_of_the_group() {
        let w = |ms: u64| HandoffEntry {
            queued_ms: ms,
            ..HandoffEntry::default()
        };
        let all = vec![
            ("c1".to_owned(), w(10)),
            ("c2".to_owned(), w(20)),
            (
                "c3".to_owned(),
                HandoffEntry {
                    queued_ms: 5,
                    agent: Some("a".into()),
                    accepted_ms: Some(65_005),
                    ..HandoffEntry::default()
                },
            ),
        ];
        let p = position_among(&all, None, |c, e| (e.queued_ms, c) < (20, "c2"));
        // c1 is ahead; c3 is with an agent after a 65 s wait.
        assert_eq!(p.position, 2);
        assert_eq!(p.eta_secs, Some(130));
    }
}
