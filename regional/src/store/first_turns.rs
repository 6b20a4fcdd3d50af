//! Which conversation a visitor's message opened, by its client message id,
//! for an hour: a widget that retries a first message whose answer it never
//! got (same client message id, still no conversation id) is answered from
//! the conversation that message opened, instead of opening a second one
//! with the same message in it.
//!
//! An edge with a shared store remembers this itself; this is for the ones
//! that cannot: plain `wasmtime serve` (the retry may reach another
//! instance), Workers at another location, two edges. Rows are
//! `(tenant, tag) -> (conversation, when)`, the tag an HMAC-SM3 of the
//! visitor id and client message id under the tenant's index key; rows
//! older than [`FIRST_TURN_TTL_MS`] are not used, and the retention sweep
//! removes them ([`super::Storage::purge_expired`]).

use kefu_core::{ConversationId, VisitorId};
use redb::{ReadTransaction, ReadableTable, TableDefinition};

use super::records::{ConversationMeta, ConversationState};
use super::{WriteCtx, conversations, keys, tables};
use crate::Result;
use crate::crypto;

/// (tenant, tag) -> (conversation, when it was opened, ms).
pub const FIRST_TURNS: TableDefinition<'_, (&str, &str), (&str, u64)> =
    TableDefinition::new("first_turns");

/// How long a first message's conversation is remembered (the edge's own
/// memory of it lasts as long).
pub const FIRST_TURN_TTL_MS: u64 = 3_600_000;

/// The row's name for `visitor`'s message `cmid` (computed once per
/// message: [`find`] and [`remember`] take it).
pub fn tag(ctx: &WriteCtx<'_>, tenant: &str, visitor: &VisitorId, cmid: &str) -> Result<String> {
    let key = keys::load(
        &ctx.txn.open_table(tables::DATA_KEYS)?,
        ctx.master()?,
        tenant,
        keys::INDEX_KEY_VERSION,
    )?;
    let mut msg = b"kefu first turn\0".to_vec();
    msg.extend_from_slice(visitor.as_str().as_bytes());
    msg.push(0);
    msg.extend_from_slice(cmid.as_bytes());
    Ok(hex::encode(&crypto::hmac_sm3(key.expose(), &msg)[..16]))
}

/// The open conversation the message named `t` ([`tag`]) opened within
/// the hour.
pub fn find(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    t: &str,
) -> Result<Option<(ConversationId, ConversationMeta)>> {
    let found = ctx.txn.open_table(FIRST_TURNS)?.get((tenant, t))?.map(|v| {
        let (conv, at) = v.value();
        (conv.to_owned(), at)
    });
    let Some((conv, at)) = found else {
        return Ok(None);
    };
    if ctx.now_ms.saturating_sub(at) > FIRST_TURN_TTL_MS {
        return Ok(None);
    }
    Ok(match conversations::meta_in(ctx, tenant, &conv)? {
        Some(meta) if meta.state != ConversationState::Closed => {
            Some((ConversationId::new(conv)?, meta))
        }
        _ => None,
    })
}

/// Remembers that the message named `t` opened `conv`.
pub fn remember(ctx: &WriteCtx<'_>, tenant: &str, t: &str, conv: &ConversationId) -> Result<()> {
    ctx.txn
        .open_table(FIRST_TURNS)?
        .insert((tenant, t), (conv.as_str(), ctx.now_ms))?;
    Ok(())
}

/// The tags of `tenant`'s rows older than the TTL at `now_ms` (a read
/// transaction's scan; [`forget`] removes them).
pub fn expired(txn: &ReadTransaction, tenant: &str, now_ms: u64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for row in txn.open_table(FIRST_TURNS)?.range((tenant, "")..)? {
        let (k, v) = row?;
        let (t_id, tag) = k.value();
        if t_id != tenant {
            break;
        }
        if now_ms.saturating_sub(v.value().1) > FIRST_TURN_TTL_MS {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

/// Removes `tags` of `tenant`.
pub fn forget(ctx: &WriteCtx<'_>, tenant: &str, tags: &[String]) -> Result<()> {
    let mut t = ctx.txn.open_table(FIRST_TURNS)?;
    for tag in tags {
        t.remove((tenant, tag.as_str()))?;
    }
    Ok(())
}

/// Drops a deleted tenant's rows.
pub fn remove_tenant(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    super::tables::remove_tenant_rows(ctx, FIRST_TURNS, tenant).map(drop)
}
