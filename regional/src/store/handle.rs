//! The async front door to storage: [`Storage`] for operator actions and
//! authentication, [`TenantStore`] for everything a tenant owns.
//!
//! Reads run on tokio's blocking pool against a redb snapshot; changes go
//! through the group-commit [`Writer`]. Sensitive changes and transcript reads
//! record an audit entry in the same transaction.

use std::sync::Arc;

use kefu_core::{ConversationId, TenantId, VisitorId};

use super::audit_hook::{self, Actor, Outcome, SERVICE_LOG};
use super::conversations::{self, AppendInput, Appended, Conversation};
use super::exchange;
use super::records::{ConversationMeta, ConversationState, Turn};
use super::tenants::{self, DeleteReport, SettingsUpdate, TenantInfo};
use super::watch::Watchers;
use super::writer::Writer;
use super::{Store, WriteCtx, first_turns, tables, visitors};
use crate::audit::{self, Checkpoint, CheckpointFile, VerifyReport};
use crate::crypto::Key;
use crate::{Error, Result};

/// Most messages one transcript read returns.
pub const MAX_TRANSCRIPT: usize = 10_000;

/// Storage with its writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    pub(super) store: Arc<Store>,
    pub(super) writer: Writer,
    checkpoints: Option<Arc<CheckpointFile>>,
    watchers: Arc<Watchers>,
    pub(super) knowledge: Arc<crate::kb::Knowledge>,
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::ShuttingDown)?
}

/// Conversations added to the visitor index per write transaction while
/// an older tenant's index is built.
pub const INDEX_BATCH: usize = 1024;

/// Conversations removed per write transaction by a retention purge or a
/// tenant's deletion: a first sweep over years of data, or a large tenant,
/// must not hold the writer (every tenant's writes wait behind it) for long.
pub const PURGE_BATCH: usize = 256;

pub(super) fn master(store: &Store) -> Result<Key> {
    store
        .master()
        .cloned()
        .ok_or_else(|| Error::Invalid("the service has no master key".into()))
}

impl Storage {
    /// Joins an open store and its writer.
    pub fn new(store: Arc<Store>, writer: Writer) -> Storage {
        Storage {
            store,
            writer,
            checkpoints: None,
            watchers: Arc::default(),
            knowledge: Arc::default(),
        }
    }

    /// Uses `embedder` for knowledge-base publishing and queries.
    pub fn with_embedder(mut self, embedder: Option<Arc<dyn kefu_kb::Embedder>>) -> Storage {
        self.knowledge = Arc::new(crate::kb::Knowledge::with_embedder(embedder));
        self
    }

    /// The knowledge bases.
    pub fn knowledge(&self) -> &Arc<crate::kb::Knowledge> {
        &self.knowledge
    }

    /// The long-poll wake-ups: signalled after every committed change to a
    /// conversation.
    pub fn watchers(&self) -> &Arc<Watchers> {
        &self.watchers
    }

    /// Adds the audit checkpoint file: verification checks against it and
    /// [`Storage::checkpoint_all`] appends to it.
    pub fn with_checkpoints(mut self, file: Arc<CheckpointFile>) -> Storage {
        self.checkpoints = Some(file);
        self
    }

    /// Verifies every audit chain (each tenant's and the service log, plus any
    /// tenant the checkpoint file names) against its latest checkpoint, and
    /// records a new checkpoint for each chain that verifies. A chain that
    /// fails is reported and never checkpointed, so a tampered log is not
    /// blessed. Returns the reports of the chains that failed.
    pub async fn checkpoint_all(&self) -> Result<Vec<VerifyReport>> {
        let (store, file) = (self.store.clone(), self.checkpoints.clone());
        blocking(move || {
            let txn = store.read()?;
            let mut names: std::collections::BTreeSet<String> = audit::tenants(&txn)?.into_iter().collect();
            let latest = match &file {
                Some(f) => f.latest_all()?,
                None => Default::default(),
            };
            names.extend(latest.keys().cloned());
            let mut bad = Vec::new();
            for t in names {
                let report = audit::verify(&txn, &t, latest.get(&t))?;
                if !report.ok {
                    tracing::error!(tenant = %t, first_bad = ?report.first_bad, problem = ?report.problem, "audit chain does not verify");
                    bad.push(report);
                    continue;
                }
                if let Some(f) = &file {
                    let cp = audit::checkpoint(&txn, &t, super::now_ms())?;
                    if latest.get(&t).is_none_or(|old| old.count != cp.count || old.head_hash != cp.head_hash) {
                        f.append(&cp)?;
                    }
                }
            }
            Ok(bad)
        })
        .await
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Maps an API key to its tenant's handle; `None` for an unknown key.
    /// The caller audits the failure ([`Storage::audit_failed_auth`]).
    pub async fn authenticate(&self, api_key: String) -> Result<Option<TenantStore>> {
        let store = self.store.clone();
        let found = blocking(move || {
            let txn = store.read()?;
            match tenants::authenticate(&txn, &api_key) {
                Ok(t) => Ok(Some(t)),
                Err(Error::Unauthenticated) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(found.map(|tenant| TenantStore {
            storage: self.clone(),
            tenant,
        }))
    }

    /// The handle for a tenant named in a frame the edge signed. The caller
    /// must have verified the signature: the edge is trusted for every
    /// tenant, and this is its only way in. An unknown tenant is
    /// [`Error::NotFound`].
    pub async fn for_signed_edge_frame(&self, tenant: TenantId) -> Result<TenantStore> {
        let store = self.store.clone();
        let t = tenant.clone();
        let exists =
            blocking(move || Ok(tenants::get(&store.read()?, t.as_str())?.is_some())).await?;
        if !exists {
            return Err(Error::NotFound);
        }
        Ok(TenantStore {
            storage: self.clone(),
            tenant,
        })
    }

    /// The tenant behind a public widget key, for the edge (the caller has
    /// verified the edge's signature); `None` for an unknown key.
    pub async fn for_widget_key(
        &self,
        widget_key: String,
    ) -> Result<Option<tenants::WidgetTenant>> {
        let store = self.store.clone();
        blocking(move || tenants::for_widget_key(&store.read()?, &master(&store)?, &widget_key))
            .await
    }

    /// Records a failed authentication attempt in the service log.
    pub async fn audit_failed_auth(&self, source: String, action: &'static str) -> Result<()> {
        let actor = Actor {
            who: "unknown".into(),
            source,
        };
        self.writer
            .run(move |ctx| {
                audit_hook::record(ctx, &actor, SERVICE_LOG, action, "-", Outcome::Denied)
            })
            .await
    }

    /// Records a service-wide operator action (no tenant's) in the service
    /// audit chain.
    pub async fn audit_service(
        &self,
        actor: Actor,
        action: &'static str,
        target: String,
    ) -> Result<()> {
        self.writer
            .run(move |ctx| {
                audit_hook::record(ctx, &actor, SERVICE_LOG, action, &target, Outcome::Ok)
            })
            .await
    }

    /// Creates a tenant; returns it and its API key (shown once).
    pub async fn create_tenant(
        &self,
        actor: Actor,
        id: String,
        name: String,
    ) -> Result<(TenantInfo, String)> {
        self.writer
            .run(move |ctx| {
                let out = tenants::create(ctx, &id, &name)?;
                audit_hook::record(ctx, &actor, &id, "tenant.create", &id, Outcome::Ok)?;
                Ok(out)
            })
            .await
    }

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

    /// `tenant`'s conversations erased within the last
    /// [`kefu_core::wire::ERASED_LISTED_MS`], newest first (for the edges).
    pub async fn recently_erased(
        &self,
        tenant: String,
        now_ms: u64,
    ) -> Result<Vec<ConversationId>> {
        let store = self.store.clone();
        blocking(move || {
            super::erase::recent(
                &store.read()?,
                &tenant,
                now_ms.saturating_sub(kefu_core::wire::ERASED_LISTED_MS),
                kefu_core::wire::MAX_ERASED_LISTED,
            )
        })
        .await
    }

    /// Every tenant.
    pub async fn list_tenants(&self) -> Result<Vec<TenantInfo>> {
        let store = self.store.clone();
        blocking(move || tenants::list(&store.read()?)).await
    }

    /// One tenant.
    pub async fn tenant(&self, id: String) -> Result<TenantInfo> {
        let store = self.store.clone();
        blocking(move || tenants::info(&store.read()?, &id)).await
    }

    /// Replaces a tenant's API key; returns the new one (shown once).
    pub async fn rotate_api_key(&self, actor: Actor, id: String) -> Result<String> {
        self.writer
            .run(move |ctx| {
                let key = tenants::rotate_api_key(ctx, &id)?;
                audit_hook::record(ctx, &actor, &id, "tenant.rotate_api_key", &id, Outcome::Ok)?;
                Ok(key)
            })
            .await
    }

    /// Adds a data-key version for new records; returns it.
    pub async fn rotate_data_key(&self, actor: Actor, id: String) -> Result<u32> {
        self.writer
            .run(move |ctx| {
                let v = tenants::rotate_data_key(ctx, &id)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    &id,
                    "tenant.rotate_data_key",
                    &format!("{id}/v{v}"),
                    Outcome::Ok,
                )?;
                Ok(v)
            })
            .await
    }

    /// Changes a tenant's widget settings.
    pub async fn update_settings(
        &self,
        actor: Actor,
        id: String,
        u: SettingsUpdate,
    ) -> Result<TenantInfo> {
        self.writer
            .run(move |ctx| {
                let info = tenants::update_settings(ctx, &id, &u)?;
                audit_hook::record(ctx, &actor, &id, "tenant.update_settings", &id, Outcome::Ok)?;
                Ok(info)
            })
            .await
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

/// Everything a tenant owns, scoped to that tenant. Only
/// [`Storage::authenticate`] makes one, so the tenant always comes from a
/// verified API key; no method takes a tenant id.
#[derive(Debug, Clone)]
pub struct TenantStore {
    pub(super) storage: Storage,
    pub(super) tenant: TenantId,
}

impl TenantStore {
    /// The authenticated tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub(super) fn actor(&self, source: &str) -> Actor {
        Actor {
            who: format!("tenant:{}", self.tenant),
            source: source.to_owned(),
        }
    }

    /// Starts a conversation.
    pub async fn create_conversation(&self, visitor: Option<VisitorId>) -> Result<Conversation> {
        let t = self.tenant.clone();
        self.storage
            .writer
            .run(move |ctx| conversations::create(ctx, t.as_str(), visitor.as_ref()))
            .await
    }

    /// Appends a message; acknowledged only after its commit.
    pub async fn append(
        &self,
        conv: ConversationId,
        input: AppendInput,
        max_chars: usize,
    ) -> Result<Appended> {
        let (t, c) = (self.tenant.clone(), conv.clone());
        let out = self
            .storage
            .writer
            .run(move |ctx| conversations::append(ctx, t.as_str(), conv.as_str(), input, max_chars))
            .await?;
        if !out.duplicate {
            self.changed(&c);
        }
        Ok(out)
    }

    /// Runs `change` (given the tenant id) in the writer and audits it as
    /// `action` on `object` by `actor` in the same transaction: both land
    /// or neither does.
    pub(super) async fn audited<T: Send + 'static>(
        &self,
        actor: Actor,
        action: &'static str,
        object: String,
        change: impl FnOnce(&WriteCtx<'_>, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let t = self.tenant.as_str().to_owned();
        self.storage
            .writer
            .run(move |ctx| {
                let out = change(ctx, &t)?;
                audit_hook::record(ctx, &actor, &t, action, &object, Outcome::Ok)?;
                Ok(out)
            })
            .await
    }

    pub(super) fn changed(&self, conv: &ConversationId) {
        self.storage
            .watchers
            .notify(self.tenant.as_str(), conv.as_str());
    }

    /// A page of conversations, ordered by id, after `after`.
    pub async fn list(&self, after: Option<String>, limit: usize) -> Result<Vec<Conversation>> {
        let (store, t) = (self.storage.store.clone(), self.tenant.clone());
        blocking(move || {
            conversations::list(
                &store.read()?,
                &master(&store)?,
                t.as_str(),
                after.as_deref(),
                limit,
            )
        })
        .await
    }

    /// The full transcript; the read is audited in the same transaction.
    pub async fn transcript(
        &self,
        source: &str,
        conv: ConversationId,
    ) -> Result<(ConversationMeta, Vec<Turn>)> {
        let (t, actor) = (self.tenant.clone(), self.actor(source));
        self.storage
            .writer
            .run(move |ctx| {
                let out =
                    conversations::transcript_in(ctx, t.as_str(), conv.as_str(), MAX_TRANSCRIPT)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    t.as_str(),
                    "conversation.read",
                    conv.as_str(),
                    Outcome::Ok,
                )?;
                Ok(out)
            })
            .await
    }

    /// Messages after `since` (not audited: this is the live polling path).
    pub async fn messages_since(
        &self,
        conv: ConversationId,
        since: u64,
        limit: usize,
    ) -> Result<(ConversationMeta, Vec<Turn>)> {
        let (store, t) = (self.storage.store.clone(), self.tenant.clone());
        blocking(move || {
            conversations::messages_since(
                &store.read()?,
                &master(&store)?,
                t.as_str(),
                conv.as_str(),
                since,
                limit,
            )
        })
        .await
    }

    /// The conversation's meta and its last `n` turns (not audited: the
    /// edge's session sync); `None` if there is no such conversation.
    pub async fn window(
        &self,
        conv: ConversationId,
        n: usize,
    ) -> Result<Option<(ConversationMeta, Vec<Turn>)>> {
        let (store, t) = (self.storage.store.clone(), self.tenant.clone());
        blocking(move || {
            conversations::window(
                &store.read()?,
                &master(&store)?,
                t.as_str(),
                conv.as_str(),
                n,
            )
        })
        .await
    }

    /// The wake-up for `conv`, signalled after each committed change to it.
    pub fn watch(&self, conv: &ConversationId) -> Arc<tokio::sync::Notify> {
        self.storage
            .watchers
            .subscribe(self.tenant.as_str(), conv.as_str())
    }

    /// Recomputes this tenant's audit chain, against its latest checkpoint
    /// when there is one. Returns the report and the checkpoint used.
    pub async fn audit_verify(&self) -> Result<(VerifyReport, Option<Checkpoint>)> {
        let (store, file, t) = (
            self.storage.store.clone(),
            self.storage.checkpoints.clone(),
            self.tenant.clone(),
        );
        blocking(move || {
            let cp = match &file {
                Some(f) => f.latest(t.as_str())?,
                None => None,
            };
            let report = audit::verify(&store.read()?, t.as_str(), cp.as_ref())?;
            Ok((report, cp))
        })
        .await
    }

    /// Up to `limit` entries of this tenant's audit chain from index `from`.
    pub async fn audit_entries(&self, from: u64, limit: usize) -> Result<Vec<audit::StoredEntry>> {
        let (store, t) = (self.storage.store.clone(), self.tenant.clone());
        blocking(move || Ok(audit::entries(&store.read()?, t.as_str(), from, limit)?)).await
    }

    /// The current head of this tenant's audit chain, for the tenant to keep
    /// outside kefu (a later [`TenantStore::audit_verify`] can't detect a
    /// rewrite without some saved checkpoint).
    pub async fn audit_checkpoint(&self) -> Result<Checkpoint> {
        let (store, t) = (self.storage.store.clone(), self.tenant.clone());
        blocking(move || {
            Ok(audit::checkpoint(
                &store.read()?,
                t.as_str(),
                super::now_ms(),
            )?)
        })
        .await
    }

    /// Records an attempt to change the audit log (there is no such route).
    pub async fn audit_tamper_attempt(&self, source: &str, what: String) -> Result<()> {
        let (t, actor) = (self.tenant.clone(), self.actor(source));
        self.storage
            .writer
            .run(move |ctx| {
                audit_hook::record(
                    ctx,
                    &actor,
                    t.as_str(),
                    "audit.tamper_attempt",
                    &what,
                    Outcome::Denied,
                )
            })
            .await
    }

    /// Stores a visitor question and its answer in one transaction;
    /// idempotent by the question's client message id.
    pub async fn exchange(
        &self,
        q: exchange::Question,
        max_chars: usize,
        answer: impl FnOnce(ConversationState) -> exchange::Reply + Send + 'static,
    ) -> Result<exchange::Exchange> {
        let t = self.tenant.clone();
        let ex = self
            .storage
            .writer
            .run(move |ctx| exchange::record(ctx, t.as_str(), &q, max_chars, answer))
            .await?;
        if !ex.duplicate {
            self.changed(&ex.conversation);
        }
        Ok(ex)
    }

    /// Changes the conversation's state (handoff, closing); audited.
    pub async fn set_state(
        &self,
        source: &str,
        conv: ConversationId,
        state: ConversationState,
    ) -> Result<ConversationMeta> {
        let (t, actor, c) = (self.tenant.clone(), self.actor(source), conv.clone());
        let (meta, changed) = self
            .storage
            .writer
            .run(move |ctx| {
                let (meta, changed) =
                    conversations::set_state(ctx, t.as_str(), conv.as_str(), state)?;
                if changed {
                    super::handoff::follow_state(ctx, t.as_str(), conv.as_str(), state)?;
                    let action = match state {
                        ConversationState::QueuedForHuman | ConversationState::WithAgent => {
                            "conversation.handoff"
                        }
                        ConversationState::Ai => "conversation.return_to_ai",
                        ConversationState::Closed => "conversation.close",
                    };
                    audit_hook::record(
                        ctx,
                        &actor,
                        t.as_str(),
                        action,
                        conv.as_str(),
                        Outcome::Ok,
                    )?;
                }
                Ok((meta, changed))
            })
            .await?;
        if changed {
            self.changed(&c);
        }
        Ok(meta)
    }
}
