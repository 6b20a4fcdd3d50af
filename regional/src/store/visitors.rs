//! The visitor index: which conversations belong to a visitor, so that a
//! person's copy of their data and its erasure read that person's
//! conversations rather than every conversation of the tenant.
//!
//! Rows are `(tenant, tag, conversation)`; the tag is HMAC-SM3 of the
//! visitor id under the tenant's index key, so the id itself is not in the
//! index (nor can a guessed id be checked against it without the key). A
//! row is added with its conversation ([`super::conversations::create`])
//! and removed with it ([`super::conversations::remove`], told the
//! visitor). Tenants that had conversations before the index existed are
//! indexed once, in the background, at start ([`super::Storage::index_visitors`]);
//! until a tenant is marked [`READY`], its visitors' conversations are found
//! by a scan, as before.

use redb::{ReadTransaction, ReadableTable, TableDefinition};

use super::{WriteCtx, keys, tables};
use crate::Result;
use crate::crypto::{self, Key};

/// (tenant, visitor tag, conversation) -> ().
pub const INDEX: TableDefinition<'_, (&str, &[u8], &str), ()> =
    TableDefinition::new("visitor_conversations");

/// Tenants whose index is complete -> when it became so, ms.
pub const READY: TableDefinition<'_, &str, u64> = TableDefinition::new("visitor_index_ready");

/// The index's name for `visitor`.
pub fn tag(index_key: &Key, visitor: &str) -> [u8; 16] {
    let mut msg = b"kefu visitor index\0".to_vec();
    msg.extend_from_slice(visitor.as_bytes());
    let mac = crypto::hmac_sm3(index_key.expose(), &msg);
    let mut t = [0u8; 16];
    t.copy_from_slice(&mac[..16]);
    t
}

fn index_key(ctx: &WriteCtx<'_>, tenant: &str) -> Result<Key> {
    keys::load(
        &ctx.txn.open_table(tables::DATA_KEYS)?,
        ctx.master()?,
        tenant,
        keys::INDEX_KEY_VERSION,
    )
}

/// Records that `conv` is `visitor`'s.
pub fn add(ctx: &WriteCtx<'_>, tenant: &str, visitor: &str, conv: &str) -> Result<()> {
    let t = tag(&index_key(ctx, tenant)?, visitor);
    ctx.txn
        .open_table(INDEX)?
        .insert((tenant, t.as_slice(), conv), ())?;
    Ok(())
}

/// Forgets that `conv` is `visitor`'s.
pub fn remove(ctx: &WriteCtx<'_>, tenant: &str, visitor: &str, conv: &str) -> Result<()> {
    let t = tag(&index_key(ctx, tenant)?, visitor);
    ctx.txn
        .open_table(INDEX)?
        .remove((tenant, t.as_slice(), conv))?;
    Ok(())
}

/// Marks `tenant`'s index complete (a new tenant's at once).
pub fn mark_ready(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    ctx.txn.open_table(READY)?.insert(tenant, ctx.now_ms)?;
    Ok(())
}

/// Whether `tenant`'s index is complete.
pub fn is_ready(txn: &ReadTransaction, tenant: &str) -> Result<bool> {
    Ok(txn.open_table(READY)?.get(tenant)?.is_some())
}

/// The tenants whose index is not complete.
pub fn not_ready(txn: &ReadTransaction) -> Result<Vec<String>> {
    let ready = txn.open_table(READY)?;
    let mut out = Vec::new();
    for row in txn.open_table(tables::TENANTS)?.iter()? {
        let id = row?.0.value().to_owned();
        if ready.get(id.as_str())?.is_none() {
            out.push(id);
        }
    }
    Ok(out)
}

/// The conversations the index lists for `visitor` (some may have been
/// removed since: callers re-check each in their write).
pub fn lookup(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    visitor: &str,
) -> Result<Vec<String>> {
    let key = keys::load(
        &txn.open_table(tables::DATA_KEYS)?,
        master,
        tenant,
        keys::INDEX_KEY_VERSION,
    )?;
    let t = tag(&key, visitor);
    let index = txn.open_table(INDEX)?;
    let mut out = Vec::new();
    for row in index.range((tenant, t.as_slice(), "")..)? {
        let (k, _) = row?;
        let (t_id, t_tag, conv) = k.value();
        if t_id != tenant || t_tag != t.as_slice() {
            break;
        }
        out.push(conv.to_owned());
    }
    Ok(out)
}

/// Drops a deleted tenant's index rows and mark.
pub fn remove_tenant(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    let mut index = ctx.txn.open_table(INDEX)?;
    let mut doomed: Vec<(Vec<u8>, String)> = Vec::new();
    for row in index.range((tenant, &[][..], "")..)? {
        let (k, _) = row?;
        let (t_id, t_tag, conv) = k.value();
        if t_id != tenant {
            break;
        }
        doomed.push((t_tag.to_vec(), conv.to_owned()));
    }
    for (t, conv) in &doomed {
        index.remove((tenant, t.as_slice(), conv.as_str()))?;
    }
    ctx.txn.open_table(READY)?.remove(tenant)?;
    Ok(())
}
