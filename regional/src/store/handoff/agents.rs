//! Agents and canned replies.

use redb::{ReadTransaction, ReadableTable};

use super::*;

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

pub(super) fn agent_in(ctx: &WriteCtx<'_>, tenant: &str, id: &str) -> Result<Option<AgentRecord>> {
    match ctx.txn.open_table(AGENTS)?.get((tenant, id))? {
        Some(g) => parse(g.value(), "agent").map(Some),
        None => Ok(None),
    }
}

/// Every agent of the tenant, by id.
pub fn agents(txn: &ReadTransaction, tenant: &str) -> Result<Vec<(String, AgentRecord)>> {
    collect_agents(&txn.open_table(AGENTS)?, tenant)
}

/// Every agent of the tenant, inside a write.
pub fn agents_in(ctx: &WriteCtx<'_>, tenant: &str) -> Result<Vec<(String, AgentRecord)>> {
    collect_agents(&ctx.txn.open_table(AGENTS)?, tenant)
}

fn collect_agents<T>(t: &T, tenant: &str) -> Result<Vec<(String, AgentRecord)>>
where
    T: ReadableTable<(&'static str, &'static str), &'static [u8]>,
{
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
