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
use super::tenants::{self, SettingsUpdate, TenantInfo};
use super::watch::Watchers;
use super::writer::Writer;
use super::{Store, WriteCtx};
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
