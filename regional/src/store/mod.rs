//! Durable storage on redb, with every piece of conversation content sealed
//! under the tenant's SM4 data key.
//!
//! - [`Store`]: the open database and the master key. Operator actions
//!   (tenant create/delete, key rotation) take a tenant id here.
//! - [`TenantStore`]: the only way to reach a tenant's conversations. It is
//!   built from an authenticated API key ([`Store::authenticate`]), so no
//!   conversation call can take a tenant id from a request.
//! - [`writer::Writer`]: the group-commit writer every change goes through.
//! - [`WriteCtx`]: what a change sees inside its (shared) write transaction.
//!
//! Layout: [`tables`]. Sealed payloads: [`records`]. Keys: [`keys`].

pub mod agent_sessions;
pub mod audit_hook;
pub mod backup;
pub mod conversations;
pub mod erase;
pub mod exchange;
pub mod first_turns;
mod handle;
pub mod handoff;
mod handoff_api;
pub mod kb;
mod kb_api;
pub mod keys;
pub mod records;
pub mod tables;
pub mod tenants;
mod upkeep;
pub mod visitors;
pub mod watch;
pub mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    WriteTransaction,
};

pub use handle::{MAX_TRANSCRIPT, Storage, TenantStore};
pub use records::{Citation, ConversationMeta, ConversationState, Role, RouteEvent, Source, Turn};
pub use tenants::{TenantInfo, TenantRecord, TenantSettings};
pub use upkeep::{INDEX_BATCH, PURGE_BATCH};

use crate::crypto::{self, Key, RecordAad};
use crate::{Error, Result};

/// The database file inside the data dir.
pub const DB_FILE: &str = "kefu.redb";

const MASTER_CHECK: &str = "master_check";
const MASTER_CHECK_PLAINTEXT: &[u8] = b"kefu-master-check-v1";

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Creates `dir` (and parents) if missing; new directories are private (0700).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| Error::io(dir, e))
}

/// What one change sees: the shared write transaction, the master key and
/// the batch's clock reading.
///
/// The contract for code running in a `WriteCtx`: check everything that can
/// fail for a *logical* reason (not found, conflict, invalid) before the
/// first write. Several changes share one transaction (group commit), so a
/// change must not leave half its writes behind when it returns an error.
pub struct WriteCtx<'a> {
    /// The transaction shared by this batch.
    pub txn: &'a WriteTransaction,
    /// The master key (wraps data keys).
    pub master: Option<&'a Key>,
    /// Wall-clock milliseconds at the start of the batch.
    pub now_ms: u64,
}

impl std::fmt::Debug for WriteCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCtx")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl WriteCtx<'_> {
    /// The master key, or an error saying the command needs one.
    pub fn master(&self) -> Result<&Key> {
        self.master
            .ok_or_else(|| Error::Invalid("this operation needs the master key".into()))
    }
}

/// The open database and master key.
#[derive(Debug)]
pub struct Store {
    db: Database,
    master: Option<Key>,
    data_dir: PathBuf,
}

impl Store {
    /// Opens (creating on first start) the data dir and its database, and
    /// checks that `master` is the key this data dir was created with. With
    /// `None`, only operations that need no key (listing tenants, audit
    /// verification) work.
    pub fn open(data_dir: &Path, master: Option<Key>) -> Result<Store> {
        ensure_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let db = Database::builder().create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked(data_dir.to_path_buf()),
            other => Error::from(other),
        })?;
        let store = Store {
            db,
            master,
            data_dir: data_dir.to_path_buf(),
        };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        tables::ensure(&txn)?;
        crate::audit::ensure_tables(&txn)?;
        {
            let mut meta = txn.open_table(tables::META)?;
            let aad = RecordAad {
                tenant: "",
                conversation: "",
                seq: 0,
                key_version: 0,
                kind: "master-check",
            };
            let existing = meta.get(MASTER_CHECK)?.map(|g| g.value().to_vec());
            match (existing, &self.master) {
                (Some(sealed), Some(k)) => {
                    crypto::open(k, &aad, &sealed).map_err(|_| Error::WrongMasterKey)?;
                }
                (None, Some(k)) => {
                    let sealed = crypto::seal(k, crate::rng::nonce(), &aad, MASTER_CHECK_PLAINTEXT);
                    meta.insert(MASTER_CHECK, sealed.as_slice())?;
                }
                (_, None) => {}
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The data dir this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The underlying database (for the writer and the audit module).
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The master key, if this store was opened with one.
    pub fn master(&self) -> Option<&Key> {
        self.master.as_ref()
    }

    /// A read snapshot.
    pub fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// Runs `f` in its own durable write transaction, outside the group-commit
    /// writer. For CLI commands (the server is not running then) and startup.
    pub fn write_now<T>(&self, f: impl FnOnce(&WriteCtx<'_>) -> Result<T>) -> Result<T> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let ctx = WriteCtx {
            txn: &txn,
            master: self.master.as_ref(),
            now_ms: now_ms(),
        };
        let out = f(&ctx);
        match out {
            Ok(v) => {
                txn.commit()?;
                Ok(v)
            }
            Err(e) => {
                txn.abort()?;
                Err(e)
            }
        }
    }

    /// Counts stored conversations across tenants (metrics, startup logs).
    pub fn conversation_count(&self) -> Result<u64> {
        let txn = self.read()?;
        Ok(txn.open_table(tables::CONVERSATIONS)?.len()?)
    }
}
