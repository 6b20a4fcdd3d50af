//! Published knowledge bases: building, sealing, persisting and loading
//! each tenant's [`KbIndex`].
//!
//! Publishing reads the tenant's draft entries ([`crate::store::kb`]),
//! chunks them, builds the index on a blocking thread, seals its bytes with
//! the tenant's current data key (SM4-GCM; AAD names the tenant, the
//! version and the kind `kb-index`) and writes `kb/<tenant>/<version>.kbi`
//! under the data dir with an atomic rename. Only then does redb record the
//! version as current, so a crash mid-publish leaves the previous version
//! serving. After a restart the current version's file is loaded on first
//! use, not rebuilt; the load time is logged.
//!
//! With an embedding model configured ([`load_embedder`]), every chunk is
//! embedded at publish and the index searches hybrid (BM25 + vectors,
//! fused); without one it is lexical (BM25 over jieba + English tokens),
//! and the startup log says so. An index built by another model than the
//! configured one is searched lexically (vectors of two models do not mix).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use kefu_kb::{Chunk, ChunkConfig, EmbedKind, Embedder, KbIndex, chunk_document, faq_chunk};

use crate::config::EmbedderConfig;

use crate::crypto::{self, RecordAad};
use crate::store::Store;
use crate::store::kb::{self as kbstore, KbEntry};
use crate::{Error, Result};

const KIND: &str = "kb-index";

/// One tenant's published version, ready to search.
#[derive(Debug)]
pub struct Published {
    /// Its version (1, 2, ...).
    pub version: u64,
    /// The index.
    pub index: KbIndex,
}

/// What a publish did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PublishReport {
    /// The new version.
    pub kb_version: u64,
    /// Entries published.
    pub entries: usize,
    /// Chunks indexed.
    pub chunks: usize,
    /// `"lexical"` (BM25 only) or the embedding model's id.
    pub retrieval: String,
    /// Build time, ms.
    pub build_ms: u64,
}

/// Where a publish job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Building.
    Running,
    /// Published: `kb_version` is served.
    Done,
    /// Nothing changed: see `error`.
    Failed,
}

/// A publish, as `GET /v1/kb/jobs/{job_id}` shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PublishJob {
    /// The job's id.
    pub job_id: String,
    /// Running, done or failed.
    pub status: JobStatus,
    /// `chunk`, `tokenize`, `embed` (the slow part with a model), `hnsw`,
    /// `seal`, `done`.
    pub phase: String,
    /// Items done in this phase.
    pub done: usize,
    /// Items in this phase.
    pub total: usize,
    /// The version published (when done).
    pub kb_version: Option<u64>,
    /// What the publish did (when done).
    pub report: Option<PublishReport>,
    /// Why it failed (when failed).
    pub error: Option<String>,
    /// Started, ms since the epoch.
    pub started_ms: u64,
    /// Finished, ms since the epoch.
    pub finished_ms: Option<u64>,
}

/// Jobs kept per tenant (the newest).
pub const JOBS_KEPT: usize = 20;

/// The loaded indexes of every tenant, the publish lock, publish jobs and
/// the embedder.
#[derive(Debug, Default)]
pub struct Knowledge {
    loaded: RwLock<HashMap<String, Arc<Published>>>,
    publishing: Mutex<Vec<String>>,
    jobs: Mutex<HashMap<String, std::collections::VecDeque<PublishJob>>>,
    embedder: Option<Arc<dyn Embedder>>,
    /// Answers reused across paraphrases, for tenants that opt in; `None`
    /// when the embedding model has no measured bar (or there is none).
    similar: Option<kefu_kb::SimilarAnswers<kefu_core::session::Turn>>,
}

/// Loads the configured embedding model (blocking; at startup).
pub fn load_embedder(config: &EmbedderConfig) -> Result<Option<Arc<dyn Embedder>>> {
    let started = Instant::now();
    let e: Arc<dyn Embedder> = match config {
        EmbedderConfig::None => {
            tracing::info!(
                "no embedding model configured: knowledge-base search is lexical only (BM25)"
            );
            return Ok(None);
        }
        EmbedderConfig::Local(dir) => {
            let q4 = dir.join("e5-small-q4.bin");
            let r = if q4.exists() {
                kefu_kb::BertEmbedder::load_e5_q4(&q4, dir.join("tokenizer.json"))
            } else {
                kefu_kb::BertEmbedder::load_dir(dir)
            };
            Arc::new(
                r.map_err(|e| Error::Invalid(format!("embedding model {}: {e}", dir.display())))?,
            )
        }
        EmbedderConfig::Remote {
            url,
            model,
            api_key,
            ca_pem,
        } => {
            let e = kefu_kb::OpenAiEmbedder::new(
                url,
                api_key.as_ref().map(|k| k.expose().to_owned()),
                model,
            );
            Arc::new(match ca_pem {
                Some(pem) => e
                    .with_ca_pem(pem)
                    .map_err(|e| Error::Invalid(format!("embedding server {url}: {e}")))?,
                None => e,
            })
        }
    };
    tracing::info!(
        model = e.model_id(),
        dim = e.dim(),
        ms = started.elapsed().as_millis() as u64,
        "embedding model ready: hybrid search (BM25 + vectors)"
    );
    Ok(Some(e))
}

fn dir(store: &Store, tenant: &str) -> PathBuf {
    store.data_dir().join("kb").join(tenant)
}

fn file(store: &Store, tenant: &str, version: u64) -> PathBuf {
    dir(store, tenant).join(format!("{version}.kbi"))
}

fn aad(tenant: &str, version: u64, key_version: u32) -> RecordAad<'_> {
    RecordAad {
        tenant,
        conversation: "kb",
        seq: version,
        key_version,
        kind: KIND,
    }
}

/// The chunks of a set of draft entries.
pub fn chunks_of(entries: &[(String, KbEntry)]) -> Vec<Chunk> {
    let cfg = ChunkConfig::default();
    let mut out = Vec::new();
    for (id, e) in entries {
        match e {
            KbEntry::Faq {
                question,
                answer,
                alternates,
            } => out.push(faq_chunk(id, question, answer, alternates)),
            KbEntry::Document { title, text, url } => {
                out.extend(chunk_document(id, title, text, url.as_deref(), &cfg))
            }
        }
    }
    out
}

struct PublishGuard<'a>(&'a Mutex<Vec<String>>, String);

impl Drop for PublishGuard<'_> {
    fn drop(&mut self) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.retain(|t| t != &self.1);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        crate::store::ensure_dir(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::Invalid(format!("write kb index: {e}")))?;
    let f = std::fs::File::open(&tmp).map_err(|e| Error::Invalid(format!("sync kb index: {e}")))?;
    f.sync_all()
        .map_err(|e| Error::Invalid(format!("sync kb index: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::Invalid(format!("rename kb index: {e}")))
}

impl Knowledge {
    /// Whether a publish of `tenant` is running.
    pub fn is_publishing(&self, tenant: &str) -> bool {
        self.publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|t| t == tenant)
    }

    /// Records a new running job for `tenant`.
    pub fn job_start(&self, tenant: &str) -> PublishJob {
        let job = PublishJob {
            job_id: format!("job_{}", crate::rng::hex_token(12)),
            status: JobStatus::Running,
            phase: "queued".into(),
            done: 0,
            total: 0,
            kb_version: None,
            report: None,
            error: None,
            started_ms: crate::store::now_ms(),
            finished_ms: None,
        };
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let list = jobs.entry(tenant.to_owned()).or_default();
        list.push_back(job.clone());
        while list.len() > JOBS_KEPT {
            list.pop_front();
        }
        job
    }

    fn job_update(&self, tenant: &str, id: &str, f: impl FnOnce(&mut PublishJob)) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = jobs
            .get_mut(tenant)
            .and_then(|l| l.iter_mut().find(|j| j.job_id == id))
        {
            f(j);
        }
    }

    /// Records a job's progress.
    pub fn job_progress(&self, tenant: &str, id: &str, phase: &str, done: usize, total: usize) {
        self.job_update(tenant, id, |j| {
            j.phase = phase.to_owned();
            j.done = done;
            j.total = total;
        });
    }

    /// Records how a job ended.
    pub fn job_finish(&self, tenant: &str, id: &str, result: &Result<PublishReport>) {
        let now = crate::store::now_ms();
        self.job_update(tenant, id, |j| {
            j.finished_ms = Some(now);
            match result {
                Ok(r) => {
                    j.status = JobStatus::Done;
                    j.phase = "done".into();
                    j.done = r.chunks;
                    j.total = r.chunks;
                    j.kb_version = Some(r.kb_version);
                    j.report = Some(r.clone());
                }
                Err(e) => {
                    j.status = JobStatus::Failed;
                    j.error = Some(e.to_string());
                }
            }
        });
    }

    /// `tenant`'s job `id`, if kept.
    pub fn job(&self, tenant: &str, id: &str) -> Option<PublishJob> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(tenant)?.iter().find(|j| j.job_id == id).cloned()
    }

    /// `tenant`'s kept jobs, newest first.
    pub fn jobs(&self, tenant: &str) -> Vec<PublishJob> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(tenant)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Knowledge with `embedder` for publishing and queries.
    pub fn with_embedder(embedder: Option<Arc<dyn Embedder>>) -> Knowledge {
        let similar = embedder
            .as_ref()
            .and_then(|e| kefu_kb::measured_bar(e.model_id()))
            .map(kefu_kb::SimilarAnswers::new);
        Knowledge {
            embedder,
            similar,
            ..Knowledge::default()
        }
    }

    /// The similar-question answers, when the embedding model allows them.
    pub fn similar(&self) -> Option<&kefu_kb::SimilarAnswers<kefu_core::session::Turn>> {
        self.similar.as_ref()
    }

    /// The query's vector for `index`, when the index has vectors from the
    /// configured model (blocking).
    pub fn query_vector(&self, index: &KbIndex, query: &str) -> Option<Vec<f32>> {
        let e = self.embedder.as_ref()?;
        if index.embedder_model() != Some(e.model_id()) {
            return None;
        }
        let masked = kefu_core::pii::redact(query).text;
        match e.embed(&[masked.as_str()], EmbedKind::Query) {
            Ok(mut v) => v.pop(),
            Err(err) => {
                tracing::warn!(error = %err, "query embedding failed; searching lexically");
                None
            }
        }
    }

    /// Builds and persists a new version of `tenant`'s draft (blocking:
    /// call on a blocking thread). Refuses a second concurrent publish.
    pub fn publish_blocking(
        &self,
        store: &Store,
        tenant: &str,
        version: u64,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<(PublishReport, Arc<Published>)> {
        {
            let mut p = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
            if p.iter().any(|t| t == tenant) {
                return Err(Error::Conflict(
                    "a publish of this knowledge base is already running".into(),
                ));
            }
            p.push(tenant.to_owned());
        }
        let _guard = PublishGuard(&self.publishing, tenant.to_owned());
        let started = Instant::now();
        let master = store.master().ok_or(Error::WrongMasterKey)?.clone();
        let txn = store.read()?;
        let entries = kbstore::list(&txn, &master, tenant)?;
        if entries.is_empty() {
            return Err(Error::Invalid(
                "the knowledge base has no entries to publish".into(),
            ));
        }
        let (key_version, key) = kbstore::data_key(&txn, &master, tenant)?;
        drop(txn);
        progress("chunk", 0, entries.len());
        let chunks = chunks_of(&entries);
        let n_chunks = chunks.len();
        let index = KbIndex::build(chunks, self.embedder.as_deref(), &mut |p| {
            progress(p.stage, p.done, p.total)
        })
        .map_err(|e| Error::Invalid(e.to_string()))?;
        progress("seal", 0, 1);
        let bytes = zeroize::Zeroizing::new(
            index
                .to_bytes()
                .map_err(|e| Error::Invalid(e.to_string()))?,
        );
        let sealed = crypto::seal(
            &key,
            crate::rng::nonce(),
            &aad(tenant, version, key_version),
            &bytes,
        );
        write_atomic(&file(store, tenant, version), &sealed)?;
        let report = PublishReport {
            kb_version: version,
            entries: entries.len(),
            chunks: n_chunks,
            retrieval: index.embedder_model().unwrap_or("lexical").to_owned(),
            build_ms: started.elapsed().as_millis() as u64,
        };
        Ok((report, Arc::new(Published { version, index })))
    }

    /// Makes `p` the served version of `tenant` (after redb recorded it).
    pub fn install(&self, tenant: &str, p: Arc<Published>) {
        let mut m = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        m.insert(tenant.to_owned(), p);
    }

    /// The served version of `tenant`: the loaded one if it is current,
    /// else the current version's file, opened (blocking).
    pub fn current_blocking(&self, store: &Store, tenant: &str) -> Result<Option<Arc<Published>>> {
        let txn = store.read()?;
        let version = kbstore::current_version(&txn, tenant)?;
        if version == 0 {
            return Ok(None);
        }
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .filter(|p| p.version == version)
            .cloned();
        if loaded.is_some() {
            return Ok(loaded);
        }
        let started = Instant::now();
        let path = file(store, tenant, version);
        let sealed = std::fs::read(&path)
            .map_err(|e| Error::Invalid(format!("kb index {version} unreadable: {e}")))?;
        let master = store.master().ok_or(Error::WrongMasterKey)?;
        let kv = crypto::sealed_key_version(&sealed)?;
        let key = kbstore::data_key_version(&txn, master, tenant, kv)?;
        let bytes =
            zeroize::Zeroizing::new(crypto::open(&key, &aad(tenant, version, kv), &sealed)?);
        let index = KbIndex::from_bytes(&bytes).map_err(|e| Error::Invalid(e.to_string()))?;
        tracing::info!(
            tenant,
            kb_version = version,
            chunks = index.chunks().len(),
            ms = started.elapsed().as_millis() as u64,
            "knowledge base loaded from disk (no rebuild)"
        );
        let p = Arc::new(Published { version, index });
        self.install(tenant, p.clone());
        Ok(Some(p))
    }

    /// Forgets `tenant` and removes its index files (tenant deletion; the
    /// files are already unreadable once its keys are shredded).
    pub fn forget(&self, store: &Store, tenant: &str) {
        self.loaded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant);
        if let Some(s) = &self.similar {
            s.forget(tenant);
        }
        let _ = std::fs::remove_dir_all(dir(store, tenant));
    }
}
