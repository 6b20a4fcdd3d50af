//! [`TenantStore`]'s knowledge-base methods: draft entries, publishing and
//! the served version. See [`crate::kb`] and [`super::kb`].

use std::sync::Arc;
use std::time::Instant;

use super::audit_hook::{self, Outcome};
use super::handle::{Storage, TenantStore, blocking};
use super::kb::{self, KbEntry};
use crate::kb::{PublishReport, Published};
use crate::{Error, Result};

impl TenantStore {
    /// Adds or replaces draft entries by id; returns how many replaced one.
    pub async fn kb_put(&self, source: &str, entries: Vec<(String, KbEntry)>) -> Result<usize> {
        let t = self.tenant.clone();
        let actor = self.actor(source);
        self.storage
            .writer
            .run(move |ctx| {
                let n = kb::put(ctx, t.as_str(), &entries)?;
                let object = format!("kb:{} entries", entries.len());
                audit_hook::record(ctx, &actor, t.as_str(), "kb.put", &object, Outcome::Ok)?;
                Ok(n)
            })
            .await
    }

    /// Replaces an existing draft entry by id (404 when there is none).
    pub async fn kb_replace(&self, source: &str, id: String, entry: KbEntry) -> Result<()> {
        let t = self.tenant.clone();
        let actor = self.actor(source);
        self.storage
            .writer
            .run(move |ctx| {
                kb::replace(ctx, t.as_str(), &id, &entry)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    t.as_str(),
                    "kb.replace",
                    &format!("kb:{id}"),
                    Outcome::Ok,
                )
            })
            .await
    }

    /// Deletes a draft FAQ (`faq`) or document.
    pub async fn kb_delete(&self, source: &str, id: String, faq: bool) -> Result<()> {
        let t = self.tenant.clone();
        let actor = self.actor(source);
        self.storage
            .writer
            .run(move |ctx| {
                kb::delete(ctx, t.as_str(), &id, faq)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    t.as_str(),
                    "kb.delete",
                    &format!("kb:{id}"),
                    Outcome::Ok,
                )
            })
            .await
    }

    /// The draft entries.
    pub async fn kb_list(&self) -> Result<Vec<(String, KbEntry)>> {
        let store = self.storage.store.clone();
        let t = self.tenant.clone();
        blocking(move || {
            let master = store.master().ok_or(Error::WrongMasterKey)?.clone();
            kb::list(&store.read()?, &master, t.as_str())
        })
        .await
    }

    /// Publishes the draft as a new immutable version; audited.
    pub async fn kb_publish(&self, source: &str) -> Result<PublishReport> {
        let job = self.kb_publish_start()?;
        self.kb_publish_run(source, &job.job_id).await
    }

    /// Records a new publish job (409 while one runs); run it with
    /// [`TenantStore::kb_publish_run`].
    pub fn kb_publish_start(&self) -> Result<crate::kb::PublishJob> {
        let knowledge = &self.storage.knowledge;
        if knowledge.is_publishing(self.tenant.as_str()) {
            return Err(Error::Conflict(
                "a publish of this knowledge base is already running".into(),
            ));
        }
        Ok(knowledge.job_start(self.tenant.as_str()))
    }

    /// Runs publish job `job_id`: builds, seals and serves a new version,
    /// recording progress and the outcome in the job.
    pub async fn kb_publish_run(&self, source: &str, job_id: &str) -> Result<PublishReport> {
        let r = self.kb_publish_inner(source, job_id).await;
        self.storage
            .knowledge
            .job_finish(self.tenant.as_str(), job_id, &r);
        r
    }

    async fn kb_publish_inner(&self, source: &str, job_id: &str) -> Result<PublishReport> {
        let store = self.storage.store.clone();
        let knowledge = self.storage.knowledge.clone();
        let t = self.tenant.clone();
        let job = job_id.to_owned();
        let (report, published) = blocking(move || {
            let next = kb::current_version(&store.read()?, t.as_str())? + 1;
            let k = knowledge.clone();
            let (tenant, job) = (t.as_str().to_owned(), job.clone());
            let mut last = Instant::now();
            let mut progress = |phase: &str, done: usize, total: usize| {
                // At most ~10 updates a second (the embed loop reports each item).
                if done == 0 || done == total || last.elapsed().as_millis() >= 100 {
                    last = Instant::now();
                    k.job_progress(&tenant, &job, phase, done, total);
                }
            };
            knowledge.publish_blocking(&store, t.as_str(), next, &mut progress)
        })
        .await?;
        let t = self.tenant.clone();
        let actor = self.actor(source);
        let version = report.kb_version;
        self.storage
            .writer
            .run(move |ctx| {
                kb::set_version(ctx, t.as_str(), version)?;
                audit_hook::record(
                    ctx,
                    &actor,
                    t.as_str(),
                    "kb.publish",
                    &format!("kb:v{version}"),
                    Outcome::Ok,
                )
            })
            .await?;
        self.storage
            .knowledge
            .install(self.tenant.as_str(), published);
        tracing::info!(
            tenant = %self.tenant,
            kb_version = version,
            chunks = report.chunks,
            ms = report.build_ms,
            "knowledge base published"
        );
        Ok(report)
    }

    /// The knowledge bases (and the embedder).
    pub fn knowledge(&self) -> &Arc<crate::kb::Knowledge> {
        &self.storage.knowledge
    }

    /// The served (current published) version, loading it from disk after
    /// a restart; `None` before the first publish.
    pub async fn kb_current(&self) -> Result<Option<Arc<Published>>> {
        let store = self.storage.store.clone();
        let knowledge = self.storage.knowledge.clone();
        let t = self.tenant.clone();
        blocking(move || knowledge.current_blocking(&store, t.as_str())).await
    }
}

impl Storage {
    /// `tenant`'s current published KB version (0: none), for the edge's
    /// tenant config: cache keys carry it, so a publish retires old answers.
    pub async fn kb_version(&self, tenant: &str) -> Result<u64> {
        let store = self.store.clone();
        let t = tenant.to_owned();
        blocking(move || kb::current_version(&store.read()?, &t)).await
    }
}
