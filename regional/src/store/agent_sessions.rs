//! Agent console sessions, kept in the store so a restart does not sign
//! agents out in the middle of a shift.
//!
//! A row is keyed by the SM3 hash of the session token: the token itself
//! (the cookie) is never stored. Rows carry their absolute expiry; expired
//! rows are pruned whenever a session is opened, and are never returned.
//! Deleting an agent or a tenant removes its rows in the same transaction.

use redb::{ReadTransaction, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::WriteCtx;
use super::audit_hook::{self, Outcome};
use super::handle::{Storage, blocking};
use crate::{Error, Result};

/// Session rows by SM3(token).
pub const AGENT_SESSIONS: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("agent_sessions");

/// One signed-in agent as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The agent's tenant.
    pub tenant: String,
    /// Agent id.
    pub agent: String,
    /// Display name at sign-in.
    pub name: String,
    /// Absolute expiry, ms since the epoch.
    pub expires_ms: u64,
}

fn decode(bytes: &[u8]) -> Result<SessionRow> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Core(kefu_core::Error::Decode(format!("agent session: {e}"))))
}

/// Stores `row` under `hash`, pruning rows expired by `now_ms`.
pub fn put(ctx: &WriteCtx<'_>, hash: &[u8], row: &SessionRow, now_ms: u64) -> Result<()> {
    let mut t = ctx.txn.open_table(AGENT_SESSIONS)?;
    let expired = rows_where(&t, |r| r.expires_ms <= now_ms)?;
    for k in expired {
        t.remove(k.as_slice())?;
    }
    let bytes = serde_json::to_vec(row).map_err(|e| Error::Invalid(e.to_string()))?;
    t.insert(hash, bytes.as_slice())?;
    Ok(())
}

/// The live row under `hash`.
pub fn get(txn: &ReadTransaction, hash: &[u8], now_ms: u64) -> Result<Option<SessionRow>> {
    let t = txn.open_table(AGENT_SESSIONS)?;
    let row = match t.get(hash)? {
        Some(v) => decode(v.value())?,
        None => return Ok(None),
    };
    Ok((row.expires_ms > now_ms).then_some(row))
}

/// Removes the row under `hash`, if any.
pub fn remove(ctx: &WriteCtx<'_>, hash: &[u8]) -> Result<()> {
    ctx.txn.open_table(AGENT_SESSIONS)?.remove(hash)?;
    Ok(())
}

/// Removes every session of one agent (`agent: None`: of every agent of
/// the tenant). Returns how many.
pub fn remove_agents(ctx: &WriteCtx<'_>, tenant: &str, agent: Option<&str>) -> Result<usize> {
    let mut t = ctx.txn.open_table(AGENT_SESSIONS)?;
    let keys = rows_where(&t, |r| {
        r.tenant == tenant && agent.is_none_or(|a| a == r.agent)
    })?;
    for k in &keys {
        t.remove(k.as_slice())?;
    }
    Ok(keys.len())
}

/// The keys of the rows `keep` picks. Sessions are few (one per signed-in
/// agent), so a scan is fine.
fn rows_where(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    pick: impl Fn(&SessionRow) -> bool,
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        // A row that does not decode is of no use to anyone: prune it too.
        if decode(v.value()).map_or(true, |r| pick(&r)) {
            out.push(k.value().to_vec());
        }
    }
    Ok(out)
}

impl Storage {
    /// Stores a new session and audits the sign-in (`agent.login`) in one
    /// transaction.
    pub async fn open_agent_session(
        &self,
        hash: [u8; 32],
        row: SessionRow,
        source: String,
        now_ms: u64,
    ) -> Result<()> {
        let actor = super::handoff_api::agent_actor(&row.agent, &source);
        self.writer
            .run(move |ctx| {
                put(ctx, &hash, &row, now_ms)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    &row.tenant,
                    "agent.login",
                    &format!("agent:{}", row.agent),
                    Outcome::Ok,
                )
            })
            .await
    }

    /// The live session stored under `hash`.
    pub async fn agent_session(&self, hash: [u8; 32], now_ms: u64) -> Result<Option<SessionRow>> {
        let store = self.store.clone();
        blocking(move || get(&store.read()?, &hash, now_ms)).await
    }

    /// Ends the session stored under `hash`.
    pub async fn close_agent_session(&self, hash: [u8; 32]) -> Result<()> {
        self.writer.run(move |ctx| remove(ctx, &hash)).await
    }
}
