//! Group commit: one writer thread owns every write transaction.
//!
//! Callers send a change (a closure over [`WriteCtx`]) and wait. The writer
//! takes the first queued change, then whatever else is queued (up to
//! `max_batch`, lingering up to `max_wait` for more), runs them in order in one
//! redb transaction with [`redb::Durability::Immediate`], commits once (one
//! fsync for the whole batch), and only then answers each caller. A change is
//! therefore acknowledged only after it is durable, and many concurrent
//! conversations share each fsync.
//!
//! If any change in a batch fails with a storage error (or panics), the whole
//! batch is aborted and every caller in it gets an error: nothing of it is
//! stored, and nothing was acknowledged. Logical errors (not found, conflict)
//! fail only their own change, which by the [`WriteCtx`] contract has written
//! nothing.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Store, WriteCtx, now_ms};
use crate::config::CommitConfig;
use crate::metrics::Metrics;
use crate::{Error, Result};

type Completion = Box<dyn FnOnce(Option<&str>) + Send>;
type Job = Box<dyn FnOnce(&WriteCtx<'_>) -> (Completion, bool) + Send>;

enum Msg {
    Job(Job),
    Close,
}

/// A handle for submitting changes to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// The writer thread; join it after [`Writer::close`] to be sure the last
/// batch is committed.
#[derive(Debug)]
pub struct WriterThread(Option<JoinHandle<()>>);

impl WriterThread {
    /// Waits for the writer to finish its queue and exit.
    pub fn join(mut self) {
        if let Some(h) = self.0.take()
            && h.join().is_err()
        {
            tracing::error!("the writer thread panicked");
        }
    }
}

fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Storage(_) | Error::Io { .. } | Error::CommitFailed(_)
    )
}

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn start(
        store: Arc<Store>,
        cfg: CommitConfig,
        metrics: Arc<Metrics>,
    ) -> (Writer, WriterThread) {
        let (tx, rx) = mpsc::channel(cfg.max_batch.saturating_mul(4).max(64));
        let h = std::thread::Builder::new()
            .name("kefu-writer".into())
            .spawn(move || run(store, cfg, metrics, rx))
            .map_err(|e| tracing::error!(error = %e, "cannot start the writer thread"))
            .ok();
        (Writer { tx }, WriterThread(h))
    }

    /// Runs `f` in the next batch and returns its result once the batch is
    /// durably committed.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |ctx| {
            let out = f(ctx);
            let fatal = out.as_ref().err().is_some_and(is_fatal);
            let done: Completion = Box::new(move |commit_err| {
                let res = match (out, commit_err) {
                    (Ok(v), None) => Ok(v),
                    (Ok(_), Some(e)) => Err(Error::CommitFailed(e.to_owned())),
                    (Err(e), _) => Err(e),
                };
                let _ = otx.send(res);
            });
            (done, fatal)
        });
        self.tx
            .send(Msg::Job(job))
            .await
            .map_err(|_| Error::ShuttingDown)?;
        orx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Asks the writer to commit what is queued and stop. Later changes fail
    /// with [`Error::ShuttingDown`].
    pub async fn close(&self) {
        let _ = self.tx.send(Msg::Close).await;
    }
}

fn run(store: Arc<Store>, cfg: CommitConfig, metrics: Arc<Metrics>, mut rx: mpsc::Receiver<Msg>) {
    let mut closing = false;
    while !closing {
        let first = match rx.blocking_recv() {
            Some(Msg::Job(j)) => j,
            Some(Msg::Close) | None => break,
        };
        let mut batch = vec![first];
        let deadline = Instant::now() + cfg.max_wait;
        while batch.len() < cfg.max_batch {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Close) => {
                    closing = true;
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(_) => break,
            }
        }
        commit_batch(&store, &metrics, batch);
    }
    // Closing: commit whatever is still queued, then refuse the rest.
    rx.close();
    let mut rest = Vec::new();
    while let Ok(m) = rx.try_recv() {
        if let Msg::Job(j) = m {
            rest.push(j);
        }
        if rest.len() >= cfg.max_batch {
            commit_batch(&store, &metrics, std::mem::take(&mut rest));
        }
    }
    if !rest.is_empty() {
        commit_batch(&store, &metrics, rest);
    }
    tracing::info!("writer stopped");
}

fn commit_batch(store: &Store, metrics: &Metrics, batch: Vec<Job>) {
    let started = Instant::now();
    let size = batch.len();
    // A batch whose transaction cannot even start: dropping the changes
    // unanswered makes each caller see `Error::ShuttingDown`.
    let fail_all = |batch: Vec<Job>, msg: &str| {
        tracing::error!(error = msg, size, "cannot start a write transaction");
        drop(batch);
    };
    let mut txn = match store.db().begin_write() {
        Ok(t) => t,
        Err(e) => return fail_all(batch, &e.to_string()),
    };
    if let Err(e) = txn.set_durability(redb::Durability::Immediate) {
        return fail_all(batch, &e.to_string());
    }
    let ctx = WriteCtx {
        txn: &txn,
        master: store.master(),
        now_ms: now_ms(),
    };
    let mut done = Vec::with_capacity(size);
    let mut poisoned = false;
    for job in batch {
        match std::panic::catch_unwind(AssertUnwindSafe(|| job(&ctx))) {
            Ok((completion, fatal)) => {
                poisoned |= fatal;
                done.push(completion);
            }
            Err(_) => {
                tracing::error!("a change panicked; aborting its batch");
                poisoned = true;
            }
        }
    }
    let outcome = if poisoned {
        let _ = txn.abort();
        Err("a change in this batch failed; the batch was rolled back".to_owned())
    } else {
        txn.commit().map_err(|e| e.to_string())
    };
    metrics.record_commit(size, started.elapsed(), outcome.is_ok());
    match &outcome {
        Ok(()) => done.into_iter().for_each(|c| c(None)),
        Err(e) => {
            tracing::error!(error = %e, size, "write batch not committed");
            done.into_iter().for_each(|c| c(Some(e)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;
    use crate::store::{tables, tenants};
    use redb::ReadableTableMetadata;

    fn setup(max_wait_ms: u64) -> (tempfile::TempDir, Arc<Store>, Writer, WriterThread) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Some(Key::from_bytes([9; 16]))).unwrap());
        let cfg = CommitConfig {
            max_batch: 64,
            max_wait: Duration::from_millis(max_wait_ms),
        };
        let (w, t) = Writer::start(store.clone(), cfg, Arc::new(Metrics::default()));
        (dir, store, w, t)
    }

    fn tenant_count(store: &Store) -> u64 {
        store
            .read()
            .unwrap()
            .open_table(tables::TENANTS)
            .unwrap()
            .len()
            .unwrap()
    }

    #[tokio::test]
    async fn a_logical_error_fails_only_its_own_change() {
        let (_d, store, w, t) = setup(50);
        let a = w.run(|ctx| tenants::create(ctx, "a", "A"));
        let bad = w.run(|ctx| tenants::rotate_api_key(ctx, "missing"));
        let b = w.run(|ctx| tenants::create(ctx, "b", "B"));
        let (a, bad, b) = tokio::join!(a, bad, b);
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(bad, Err(Error::NotFound)));
        assert_eq!(tenant_count(&store), 2);
        w.close().await;
        t.join();
    }

    #[tokio::test]
    async fn a_storage_error_rolls_back_the_whole_batch_and_acknowledges_nothing() {
        let (_d, store, w, t) = setup(50);
        let a = w.run(|ctx| tenants::create(ctx, "a", "A"));
        let fatal =
            w.run(|_ctx| -> Result<()> { Err(Error::io("disk", std::io::Error::other("full"))) });
        let b = w.run(|ctx| tenants::create(ctx, "b", "B"));
        let (a, fatal, b) = tokio::join!(a, fatal, b);
        assert!(matches!(a, Err(Error::CommitFailed(_))), "{a:?}");
        assert!(matches!(b, Err(Error::CommitFailed(_))), "{b:?}");
        assert!(fatal.is_err());
        assert_eq!(tenant_count(&store), 0, "a rolled-back batch left rows");
        // The writer carries on with the next batch.
        w.run(|ctx| tenants::create(ctx, "c", "C")).await.unwrap();
        assert_eq!(tenant_count(&store), 1);
        w.close().await;
        t.join();
    }

    #[tokio::test]
    async fn after_close_changes_are_refused() {
        let (_d, _store, w, t) = setup(0);
        w.close().await;
        t.join();
        let r = w.run(|ctx| tenants::create(ctx, "late", "L")).await;
        assert!(matches!(r, Err(Error::ShuttingDown)));
    }
}
