//! The one error type of kefu-regional's library code.
//!
//! HTTP status mapping lives in one place, `http::error::ApiError`; this type
//! says *what* went wrong, never *how to answer*. No variant carries key
//! material or conversation plaintext.

use std::path::PathBuf;

/// Everything the service's library code can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist for this tenant. Another tenant's object is
    /// reported exactly like a missing one.
    #[error("not found")]
    NotFound,
    /// The conversation was erased on request ([`crate::store::erase`]):
    /// nothing may bring it back. Answers like a missing one.
    #[error("the conversation was erased")]
    Erased,
    /// A tenant with this id already exists.
    #[error("tenant already exists")]
    TenantExists,
    /// The request conflicts with the stored state (e.g. an expected seq).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value the caller supplied is out of its domain.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A value exceeds a stated limit (the message states it).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The batch this change was part of failed to commit; nothing of it is stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// No valid credential was presented.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The embedded database failed.
    #[error("storage: {0}")]
    Storage(#[from] redb::Error),
    /// Another process (a running server, or another CLI command) holds the data dir.
    #[error(
        "the data dir {0} is in use by another kefu-regional process; stop the server before running this command"
    )]
    Locked(PathBuf),
    /// The audit log failed; the change it records is rolled back with it.
    #[error("{0}")]
    Audit(#[from] crate::audit::Error),
    /// A stored record failed to decode or authenticate.
    #[error("record: {0}")]
    Core(#[from] kefu_core::Error),
    /// The master key cannot open this data dir's records.
    #[error("the master key does not match this data dir (wrong KEFU_MASTER_KEY?)")]
    WrongMasterKey,
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The writer has stopped (the service is shutting down).
    #[error("the service is shutting down")]
    ShuttingDown,
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Storage(e.into())
            }
        }
    )*};
}
redb_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// `Result` with kefu-regional's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
