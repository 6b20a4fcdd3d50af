//! The storage's housekeeping: online backups, tenant deletion in
//! batches, building the visitor index for older tenants, and the
//! retention sweep. Each keeps whole-tenant work out of the single writer:
//! reads run on a snapshot, changes go in bounded batches.

use super::audit_hook::{self, Actor, Outcome, SERVICE_LOG};
use super::handle::{Storage, blocking, master};
use super::tenants::{self, DeleteReport};
use super::{conversations, first_turns, tables, visitors};
use crate::{Error, Result};

/// Conversations added to the visitor index per write transaction while
/// an older tenant's index is built.
pub const INDEX_BATCH: usize = 1024;

/// Conversations removed per write transaction by a retention purge or a
/// tenant's deletion: a first sweep over years of data, or a large tenant,
/// must not hold the writer (every tenant's writes wait behind it) for long.
pub const PURGE_BATCH: usize = 256;

impl Storage {
    /// Writes an online backup under `out_dir` ([`super::backup`]), with
    /// the audit checkpoints from `checkpoints`; audited in the service log
    /// as `service.backup` once written.
    pub async fn backup(
        &self,
        actor: Actor,
        out_dir: std::path::PathBuf,
        checkpoints: std::path::PathBuf,
    ) -> Result<super::backup::BackupReport> {
        let store = self.store.clone();
        let report = blocking(move || super::backup::write(&store, &out_dir, &checkpoints)).await?;
        let object = report.path.clone();
        self.writer
            .run(move |ctx| {
                audit_hook::record(
                    ctx,
                    &actor,
                    SERVICE_LOG,
                    "service.backup",
                    &object,
                    Outcome::Ok,
                )
            })
            .await?;
        tracing::info!(
            tables = report.tables,
            rows = report.rows,
            bytes = report.bytes,
            ms = report.ms,
            "backup written"
        );
        Ok(report)
    }

    /// Deletes a tenant: crypto-shred, its keys and record gone and the
    /// deletion audited in one transaction ([`tenants::delete`]); then its
    /// rows, [`PURGE_BATCH`] conversations per transaction, in a task of
    /// their own (a caller that gives up waiting does not stop them; a stop
    /// does, and [`Storage::finish_deletions`] resumes at the next start).
    pub async fn delete_tenant(&self, actor: Actor, id: String) -> Result<DeleteReport> {
        let first = id.clone();
        let keys_destroyed = self
            .writer
            .run(move |ctx| {
                let k = tenants::delete(ctx, &first)?;
                audit_hook::record(ctx, &actor, &first, "tenant.delete", &first, Outcome::Ok)?;
                Ok(k)
            })
            .await?;
        self.knowledge.forget(&self.store, &id);
        let this = self.clone();
        let (conversations, messages) =
            tokio::spawn(async move { this.remove_deleted_rows(&id).await })
                .await
                .map_err(|_| Error::ShuttingDown)??;
        Ok(DeleteReport {
            conversations,
            messages,
            keys_destroyed,
        })
    }

    /// Removes a deleted tenant's rows, a batch per transaction. Returns
    /// (conversations, messages) removed.
    async fn remove_deleted_rows(&self, id: &str) -> Result<(u64, u64)> {
        let mut total = (0, 0);
        loop {
            let id = id.to_owned();
            let (c, m, done) = self
                .writer
                .run(move |ctx| tenants::remove_rows(ctx, &id, PURGE_BATCH))
                .await?;
            total = (total.0 + c, total.1 + m);
            if done {
                return Ok(total);
            }
        }
    }

    /// Builds the visitor index of tenants whose conversations predate it
    /// (run at start; see [`super::visitors`]): their conversations are
    /// read in a read transaction, indexed [`INDEX_BATCH`] per write, and
    /// the tenant is then marked complete. Until then its visitors'
    /// conversations are found by a scan.
    pub async fn index_visitors(&self) -> Result<()> {
        let store = self.store.clone();
        let pending = blocking(move || visitors::not_ready(&store.read()?)).await?;
        for id in pending {
            let (store, t) = (self.store.clone(), id.clone());
            let owned = blocking(move || {
                let mut owned = Vec::new();
                conversations::each_meta(&store.read()?, &master(&store)?, &t, |conv, meta| {
                    if let Some(v) = meta.visitor {
                        owned.push((conv.to_owned(), v));
                    }
                })?;
                Ok(owned)
            })
            .await?;
            for batch in owned.chunks(INDEX_BATCH) {
                let (t, batch) = (id.clone(), batch.to_vec());
                self.writer
                    .run(move |ctx| {
                        use redb::ReadableTable;
                        let convs = ctx.txn.open_table(tables::CONVERSATIONS)?;
                        for (conv, visitor) in &batch {
                            // Removed since the read: nothing to index.
                            if convs.get((t.as_str(), conv.as_str()))?.is_some() {
                                visitors::add(ctx, &t, visitor, conv)?;
                            }
                        }
                        Ok(())
                    })
                    .await?;
            }
            let t = id.clone();
            self.writer
                .run(move |ctx| visitors::mark_ready(ctx, &t))
                .await?;
            tracing::info!(tenant = %id, conversations = owned.len(), "visitor index built");
        }
        Ok(())
    }

    /// Finishes the tenant deletions a stop interrupted (run at start).
    pub async fn finish_deletions(&self) -> Result<()> {
        let store = self.store.clone();
        let ids = blocking(move || tenants::deleting(&store.read()?)).await?;
        for id in ids {
            let (c, m) = self.remove_deleted_rows(&id).await?;
            tracing::info!(tenant = %id, conversations = c, messages = m, "tenant deletion finished");
        }
        Ok(())
    }

    /// Purges, for every tenant, conversations idle longer than its
    /// retention period (and first-message rows past their hour,
    /// [`first_turns`]). The idle ones are found in a read transaction
    /// (the scan never holds the writer) and removed [`PURGE_BATCH`] at a
    /// time, each batch one audited transaction that re-checks them.
    /// Returns (conversations, messages) purged.
    pub async fn purge_expired(&self, default_days: u32, now_ms: u64) -> Result<(u64, u64)> {
        let mut total = (0, 0);
        for t in self.list_tenants().await? {
            let days = u64::from(t.settings.retention_days.unwrap_or(default_days));
            let cutoff = now_ms.saturating_sub(days.saturating_mul(86_400_000));
            let (store, id) = (self.store.clone(), t.id.clone());
            let idle = blocking(move || {
                conversations::ids_where(&store.read()?, &master(&store)?, &id, |m| {
                    m.updated_ms < cutoff
                })
            })
            .await?;
            for batch in idle.chunks(PURGE_BATCH) {
                let (id, batch) = (t.id.clone(), batch.to_vec());
                let (c, m) = self
                    .writer
                    .run(move |ctx| {
                        let still = conversations::still_chosen(ctx, &id, &batch, |m| {
                            m.updated_ms < cutoff
                        })?;
                        let mut m = 0;
                        for (conv, meta) in &still {
                            m += conversations::remove(ctx, &id, conv, meta.visitor.as_deref())?;
                        }
                        let c = still.len() as u64;
                        if c > 0 {
                            let object =
                                format!("{c} conversations, {m} messages older than {days} days");
                            audit_hook::record(
                                ctx,
                                &Actor::system(),
                                &id,
                                "retention.purge",
                                &object,
                                Outcome::Ok,
                            )?;
                        }
                        Ok((c, m))
                    })
                    .await?;
                if c > 0 {
                    tracing::info!(tenant = %t.id, conversations = c, messages = m, "retention purge");
                }
                total = (total.0 + c, total.1 + m);
            }
            // Erasures past the day the edges are told of them.
            let (store, id) = (self.store.clone(), t.id.clone());
            let cutoff = now_ms.saturating_sub(kefu_core::wire::ERASED_LISTED_MS);
            let listed =
                blocking(move || super::erase::listed_before(&store.read()?, &id, cutoff)).await?;
            for batch in listed.chunks(INDEX_BATCH) {
                let (id, batch) = (t.id.clone(), batch.to_vec());
                self.writer
                    .run(move |ctx| super::erase::unlist(ctx, &id, &batch))
                    .await?;
            }
            // First-message rows past their hour (a read, then batches).
            let (store, id) = (self.store.clone(), t.id.clone());
            let stale = blocking(move || first_turns::expired(&store.read()?, &id, now_ms)).await?;
            for batch in stale.chunks(INDEX_BATCH) {
                let (id, batch) = (t.id.clone(), batch.to_vec());
                self.writer
                    .run(move |ctx| first_turns::forget(ctx, &id, &batch))
                    .await?;
            }
        }
        Ok(total)
    }
}
