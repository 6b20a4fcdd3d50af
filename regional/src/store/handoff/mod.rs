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
use super::records::{ConversationState, Role, Source};
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
    /// Which skill/group a handoff is queued for, first match wins; no
    /// match (or no agent in that group): any agent.
    pub groups: Vec<GroupRule>,
}

/// kefu-core's routing reason kinds, as group rules name them.
pub const REASON_KINDS: &[&str] = &[
    "explicit_request",
    "declined_human",
    "asked_if_human",
    "anger",
    "urgency",
    "complaint",
    "account_security",
    "money",
    "repeated_fallbacks",
    "tenant_keyword",
    "building_frustration",
    "long_conversation",
    "offer_recently_made",
    "outside_business_hours",
    "handoff_disabled",
];

/// Most group rules per tenant.
pub const MAX_GROUP_RULES: usize = 50;

/// Queues handoffs that match for one skill/group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    /// The group (an agent's `groups` tag).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub group: String,
    /// Words in the visitor's recent messages that send them to this group
    /// ("退款", "refund"); matched like the routing keywords (whole words
    /// for Latin script, not when negated).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Routing reason kinds that send them to this group
    /// (`account_security`, `complaint`, `money`, ...).
    #[serde(default)]
    pub reasons: Vec<String>,
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            routing: RoutingConfig::default(),
            queue_timeout_secs: 180,
            assignment: Assignment::Manual,
            business_hours: None,
            groups: Vec::new(),
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
        if self.groups.len() > MAX_GROUP_RULES {
            return Err(Error::Invalid(format!(
                "groups: at most {MAX_GROUP_RULES} rules"
            )));
        }
        for r in &self.groups {
            check_id(&r.group, "groups[].group")?;
            if r.keywords.is_empty() && r.reasons.is_empty() {
                return Err(Error::Invalid(format!(
                    "groups: rule for {:?} needs keywords or reasons",
                    r.group
                )));
            }
            if r.keywords.len() > 200
                || r.keywords
                    .iter()
                    .any(|k| k.trim().is_empty() || k.len() > 64)
            {
                return Err(Error::Invalid(
                    "groups[].keywords: at most 200, each 1..=64 bytes".into(),
                ));
            }
            if let Some(bad) = r
                .reasons
                .iter()
                .find(|k| !REASON_KINDS.contains(&k.as_str()))
            {
                return Err(Error::Invalid(format!(
                    "groups[].reasons: unknown reason {bad:?}; one of {}",
                    REASON_KINDS.join(", ")
                )));
            }
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

/// Removes every handoff row of a tenant (tenant deletion).
pub fn remove_tenant(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    for def in [AGENTS, HANDOFFS, CANNED] {
        super::tables::remove_tenant_rows(ctx, def, tenant)?;
    }
    ctx.txn.open_table(SETTINGS)?.remove(tenant)?;
    Ok(())
}

mod agents;
mod queue;
#[cfg(test)]
mod tests;

pub use agents::*;
pub use queue::*;
