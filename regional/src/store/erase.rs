//! A person's rights over their conversations: a copy of every one of them
//! (PIPL art. 45 / GDPR art. 15, [`TenantStore::export_visitor`]), and
//! erasure: one conversation, or every conversation of one visitor (PIPL
//! art. 47 / GDPR art. 17). Messages, index rows and the handoff entry go in one
//! audited transaction; the audit record names the visitor only by a
//! digest, so the log does not keep the identifier of a person whose data
//! was erased.
//!
//! An erased conversation leaves a tombstone (its id and when; no content):
//! an edge may still hold turns of it in its outbox, or the visitor's
//! session, and must not bring it back. Reported turns for a tombstoned
//! conversation answered before the erasure are dropped; a visitor who
//! writes in it again is answered in a new conversation (the edge then
//! forgets its copy). An edge that still held its copy may have answered
//! such a message itself (a cache hit) before it learnt of the erasure:
//! that turn is new data the visitor saw, so it is kept, in the erased
//! conversation's one successor ([`successor`]), by the edge's answer time
//! against the tombstone's (clocks a few ms apart decide only turns
//! answered within those ms of the erasure).

use kefu_core::{ConversationId, VisitorId};
use redb::{ReadTransaction, ReadableTable, TableDefinition};

use super::conversations;
use super::handle::{TenantStore, blocking, master};
use super::records::{ConversationMeta, Turn};
use super::{WriteCtx, keys, tables, visitors};
use crate::crypto::{self, Key};
use crate::{Error, Result};

/// (tenant, conversation) -> when it was erased, ms.
pub const ERASED: TableDefinition<'_, (&str, &str), u64> = TableDefinition::new("erased");

/// Removes a conversation and leaves its tombstone. Returns its messages.
fn erase(ctx: &WriteCtx<'_>, tenant: &str, conv: &str, visitor: Option<&str>) -> Result<u64> {
    let n = conversations::remove(ctx, tenant, conv, visitor)?;
    ctx.txn
        .open_table(ERASED)?
        .insert((tenant, conv), ctx.now_ms)?;
    ctx.txn
        .open_table(ERASED_AT)?
        .insert((tenant, ctx.now_ms, conv), ())?;
    Ok(n)
}

/// (tenant, when, conversation) -> (): the recent erasures in time order,
/// which the tenant config lists for the edges
/// ([`kefu_core::wire::TenantConfig::erased`]). Rows older than
/// [`kefu_core::wire::ERASED_LISTED_MS`] are pruned by the retention sweep.
pub const ERASED_AT: TableDefinition<'_, (&str, u64, &str), ()> = TableDefinition::new("erased_at");

/// `tenant`'s conversations erased since `since_ms`, newest first, at most
/// `max`.
pub fn recent(
    txn: &ReadTransaction,
    tenant: &str,
    since_ms: u64,
    max: usize,
) -> Result<Vec<ConversationId>> {
    let t = txn.open_table(ERASED_AT)?;
    let mut out = Vec::new();
    for row in t
        .range((tenant, since_ms, "")..=(tenant, u64::MAX, "\u{10ffff}"))?
        .rev()
    {
        if out.len() >= max {
            break;
        }
        let (k, _) = row?;
        if let Ok(c) = ConversationId::new(k.value().2) {
            out.push(c);
        }
    }
    Ok(out)
}

/// `tenant`'s [`ERASED_AT`] rows from before `before_ms` (a read).
pub fn listed_before(
    txn: &ReadTransaction,
    tenant: &str,
    before_ms: u64,
) -> Result<Vec<(u64, String)>> {
    let t = txn.open_table(ERASED_AT)?;
    let mut out = Vec::new();
    for row in t.range((tenant, 0u64, "")..(tenant, before_ms, ""))? {
        let (k, _) = row?;
        let (_, at, conv) = k.value();
        out.push((at, conv.to_owned()));
    }
    Ok(out)
}

/// Removes `rows` (from [`listed_before`]) of `tenant`.
pub fn unlist(ctx: &WriteCtx<'_>, tenant: &str, rows: &[(u64, String)]) -> Result<()> {
    let mut t = ctx.txn.open_table(ERASED_AT)?;
    for (at, conv) in rows {
        t.remove((tenant, *at, conv.as_str()))?;
    }
    Ok(())
}

/// (tenant, erased conversation) -> the conversation that holds the turns
/// an edge answered in it after the erasure.
pub const SUCCESSORS: TableDefinition<'_, (&str, &str), &str> =
    TableDefinition::new("erased_successors");

/// Where a turn answered at `at_ms` in the erased conversation `conv` goes:
/// `None` if it was answered before the erasure (it is part of what was
/// erased), else the conversation's successor, opened for `visitor` on
/// first use. One successor per erased conversation, so the edge's later
/// turns there, and a report sent twice, land in one place.
pub fn successor(
    ctx: &WriteCtx<'_>,
    tenant: &str,
    conv: &ConversationId,
    visitor: &VisitorId,
    at_ms: u64,
) -> Result<Option<(ConversationId, ConversationMeta)>> {
    let erased_at = ctx
        .txn
        .open_table(ERASED)?
        .get((tenant, conv.as_str()))?
        .map(|v| v.value());
    if erased_at.is_none_or(|e| at_ms <= e) {
        return Ok(None);
    }
    let known = ctx
        .txn
        .open_table(SUCCESSORS)?
        .get((tenant, conv.as_str()))?
        .map(|v| v.value().to_owned());
    if let Some(id) = known {
        // Erased in turn: what it held is gone too.
        let Some(meta) = conversations::meta_in(ctx, tenant, &id)? else {
            return Ok(None);
        };
        return Ok(Some((ConversationId::new(id)?, meta)));
    }
    let c = conversations::create(ctx, tenant, Some(visitor))?;
    ctx.txn
        .open_table(SUCCESSORS)?
        .insert((tenant, conv.as_str()), c.id.as_str())?;
    Ok(Some((c.id, c.meta)))
}

/// Whether `conv` was erased (in a read transaction).
pub fn is_erased(txn: &ReadTransaction, tenant: &str, conv: &str) -> Result<bool> {
    Ok(txn.open_table(ERASED)?.get((tenant, conv))?.is_some())
}

/// Whether `conv` was erased (in a write transaction).
pub fn is_erased_in(ctx: &WriteCtx<'_>, tenant: &str, conv: &str) -> Result<bool> {
    Ok(ctx.txn.open_table(ERASED)?.get((tenant, conv))?.is_some())
}

/// Drops a deleted tenant's tombstones.
pub fn remove_tenant(ctx: &WriteCtx<'_>, tenant: &str) -> Result<()> {
    super::tables::remove_tenant_rows(ctx, ERASED, tenant)?;
    let mut at = ctx.txn.open_table(ERASED_AT)?;
    let rows: Vec<(u64, String)> = at
        .range((tenant, 0u64, "")..=(tenant, u64::MAX, "\u{10ffff}"))?
        .map(|r| r.map(|(k, _)| (k.value().1, k.value().2.to_owned())))
        .collect::<std::result::Result<_, _>>()?;
    for (when, conv) in &rows {
        at.remove((tenant, *when, conv.as_str()))?;
    }
    drop(at);
    super::tables::remove_tenant_rows(ctx, SUCCESSORS, tenant).map(drop)
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// Conversations removed.
    pub conversations: u64,
    /// Messages removed with them.
    pub messages: u64,
}

/// How the audit log names a visitor whose data was exported or erased:
/// 16 hex digits of HMAC-SM3 over the visitor id, keyed by the tenant's
/// index key (wrapped by the master key, destroyed with the tenant). It
/// ties the entries about one person together without keeping their id,
/// and someone who can guess an id (a phone number, say) but does not hold
/// the key cannot check the guess against it.
pub fn visitor_digest(index_key: &Key, visitor: &str) -> String {
    let mut msg = b"kefu visitor\0".to_vec();
    msg.extend_from_slice(visitor.as_bytes());
    hex::encode(&crypto::hmac_sm3(index_key.expose(), &msg)[..8])
}

impl TenantStore {
    /// Deletes one conversation with its messages and handoff entry;
    /// audited as `conversation.delete`. [`Error::NotFound`] if the tenant
    /// has no such conversation.
    pub async fn delete_conversation(&self, source: &str, conv: ConversationId) -> Result<Erased> {
        let c = conv.clone();
        let object = format!("conversation:{conv}");
        let erased = self
            .audited(
                self.actor(source),
                "conversation.delete",
                object,
                move |ctx, t| {
                    let meta =
                        conversations::meta_in(ctx, t, conv.as_str())?.ok_or(Error::NotFound)?;
                    Ok(Erased {
                        conversations: 1,
                        messages: erase(ctx, t, conv.as_str(), meta.visitor.as_deref())?,
                    })
                },
            )
            .await?;
        self.changed(&c);
        Ok(erased)
    }

    /// Deletes every conversation of one visitor; audited as
    /// `visitor.erase` with the visitor's digest and the counts. A visitor
    /// with no conversations erases nothing (and is still audited: the
    /// request was made). The visitor's conversations are found first, in a
    /// read transaction (the visitor index, or a scan of the tenant's while
    /// its index is being built), and re-checked in the write; one the
    /// visitor opens after that read is new data, not part of this request.
    pub async fn erase_visitor(&self, source: &str, visitor: VisitorId) -> Result<Erased> {
        let found = self.conversations_of(&visitor).await?;
        let digest = self.visitor_digest(&visitor).await?;
        let object = format!("visitor:sm3:{digest}");
        let (erased, ids) = self
            .audited(
                self.actor(source),
                "visitor.erase",
                object,
                move |ctx, t| {
                    let ids: Vec<String> = conversations::still_chosen(ctx, t, &found, |m| {
                        m.visitor.as_deref() == Some(visitor.as_str())
                    })?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                    let mut erased = Erased::default();
                    for id in &ids {
                        erased.messages += erase(ctx, t, id, Some(visitor.as_str()))?;
                        erased.conversations += 1;
                    }
                    Ok((erased, ids))
                },
            )
            .await?;
        for id in ids {
            if let Ok(c) = ConversationId::new(id) {
                self.changed(&c);
            }
        }
        Ok(erased)
    }

    /// [`visitor_digest`] with this tenant's index key.
    async fn visitor_digest(&self, visitor: &VisitorId) -> Result<String> {
        let (store, t) = (self.storage.store.clone(), self.tenant.as_str().to_owned());
        let visitor = visitor.as_str().to_owned();
        blocking(move || {
            let txn = store.read()?;
            let key = keys::load(
                &txn.open_table(tables::DATA_KEYS)?,
                &master(&store)?,
                &t,
                keys::INDEX_KEY_VERSION,
            )?;
            Ok(visitor_digest(&key, &visitor))
        })
        .await
    }

    /// The ids of `visitor`'s conversations, from the visitor index, or by
    /// a scan (in a read transaction) while the tenant's index is not
    /// complete yet.
    async fn conversations_of(&self, visitor: &VisitorId) -> Result<Vec<String>> {
        let (store, t) = (self.storage.store.clone(), self.tenant.as_str().to_owned());
        let visitor = visitor.as_str().to_owned();
        blocking(move || {
            let txn = store.read()?;
            let master = master(&store)?;
            if visitors::is_ready(&txn, &t)? {
                return visitors::lookup(&txn, &master, &t, &visitor);
            }
            conversations::ids_where(&txn, &master, &t, |m| {
                m.visitor.as_deref() == Some(visitor.as_str())
            })
        })
        .await
    }

    /// Whether `conv` was erased on request.
    pub async fn is_erased(&self, conv: ConversationId) -> Result<bool> {
        let (store, t) = (self.storage.store.clone(), self.tenant.as_str().to_owned());
        blocking(move || is_erased(&store.read()?, &t, conv.as_str())).await
    }

    /// Every conversation of one visitor with its messages (each up to
    /// [`super::MAX_TRANSCRIPT`]), by id; audited as `visitor.export`
    /// (the visitor named by digest, as for erasure).
    pub async fn export_visitor(
        &self,
        source: &str,
        visitor: VisitorId,
    ) -> Result<Vec<(String, ConversationMeta, Vec<Turn>)>> {
        let found = self.conversations_of(&visitor).await?;
        let digest = self.visitor_digest(&visitor).await?;
        let object = format!("visitor:sm3:{digest}");
        self.audited(
            self.actor(source),
            "visitor.export",
            object,
            move |ctx, t| {
                let ids = conversations::still_chosen(ctx, t, &found, |m| {
                    m.visitor.as_deref() == Some(visitor.as_str())
                })?;
                ids.into_iter()
                    .map(|(id, _)| {
                        let (meta, turns) =
                            conversations::transcript_in(ctx, t, &id, super::MAX_TRANSCRIPT)?;
                        Ok((id, meta, turns))
                    })
                    .collect()
            },
        )
        .await
    }
}
