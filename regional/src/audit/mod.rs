//! The audit log: append-only, per tenant, hash-chained with SM3, kept in the
//! service's redb database beside the data it describes.
//!
//! Banks and insurers ask for a log that shows *who did what to which object,
//! when, from where, and whether it worked*, and that shows when someone has
//! edited it. This module gives each tenant its own chain of [`StoredEntry`]s:
//!
//! ```text
//! genesis(t) = SM3("kefu-audit-genesis" | t)
//! hash(i)    = SM3("kefu-audit-v1" | len32(t) | t | i as u64 BE | prev_hash(i) | canonical(entry i))
//! prev_hash(0) = genesis(t),  prev_hash(i + 1) = hash(i)
//! ```
//!
//! where `canonical` is a length-prefixed, fixed-order byte encoding of the
//! [`AuditEntry`] fields (see `codec.rs`). SM3 is the hash of GB/T 32905-2016
//! (GM/T 0004-2012); the chain construction is the classic linked timestamping
//! of Haber and Stornetta, "How to time-stamp a digital document" (1991).
//!
//! # What it proves, and what it cannot
//!
//! A chain alone catches any edit, deletion, insertion or reordering *inside*
//! the chain ([`verify`] recomputes it from index 0). SM3 is unkeyed, so an
//! attacker who can write the database file can recompute a whole chain, or cut
//! its tail and fix the heads table. Those two are caught only against a
//! [`Checkpoint`] kept outside the database ([`CheckpointFile`], or better, a
//! copy sent to another system): a chain shorter than the checkpoint is a
//! truncation, a chain whose hash at the checkpoint's count differs is a
//! rewrite. Entries appended after the newest checkpoint are protected only by
//! the chain, so the service should checkpoint often.
//!
//! # Invariants
//!
//! - The only mutation is [`append`]; no function here edits or deletes an entry.
//!   `append` refuses to overwrite an index that is already present.
//! - [`append`] runs inside the caller's `WriteTransaction`: the entry commits or
//!   rolls back together with the change it records.
//! - Entries never hold conversation plaintext, keys or tokens. That is the
//!   caller's duty: `object` names a thing by id (`conversation:<id>`), never by
//!   content. [`sanitize`] caps and cleans strings that come from clients.

mod checkpoint_file;
mod codec;
pub(crate) mod store;
mod verify;

#[cfg(test)]
mod tamper_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use checkpoint_file::{CHECKPOINT_FILE_NAME, CheckpointFile};
pub use codec::{MAX_FIELD_BYTES, genesis_hash};
pub use store::{append, checkpoint, ensure_tables, entries, tenants};
pub use verify::verify;

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// redb failed to read or write.
    #[error("audit storage: {0}")]
    Storage(#[from] redb::StorageError),
    /// redb could not open an audit table.
    #[error("audit table: {0}")]
    Table(#[from] redb::TableError),
    /// The entry cannot be appended (empty tenant, a field too long).
    #[error("invalid audit entry: {0}")]
    InvalidEntry(&'static str),
    /// The stored log is not what this module writes: an undecodable record,
    /// or an index that already exists where the next append should go.
    /// Run [`verify`] for the full story.
    #[error("audit log corrupt: {0}")]
    Corrupt(String),
    /// A checkpoint for one tenant was used to verify another.
    #[error("checkpoint is for tenant {found:?}, not {expected:?}")]
    CheckpointTenant {
        /// The tenant being verified.
        expected: String,
        /// The tenant named in the checkpoint.
        found: String,
    },
    /// The checkpoint file could not be opened, read, written or synced.
    #[error("checkpoint file: {0}")]
    Io(#[from] std::io::Error),
    /// A line of the checkpoint file is not a checkpoint.
    #[error("checkpoint file line {line}: {reason}")]
    CheckpointLine {
        /// 1-based line number.
        line: usize,
        /// What the JSON parser said.
        reason: String,
    },
}

/// The audit module's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was done.
    Ok,
    /// It was refused (authentication, authorisation, policy).
    Denied,
    /// It was attempted and failed.
    Failed,
}

/// One audited event, as the caller describes it.
///
/// No field may hold conversation plaintext, keys or tokens: name objects by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted: `"operator"`, `"tenant:<id>"`, `"agent:<id>"`, `"system"`, `"edge"`.
    pub actor: String,
    /// The tenant whose chain records this entry (non-empty).
    pub tenant: String,
    /// Dotted action name, e.g. `"tenant.create"`, `"key.rotate"`, `"conversation.read"`,
    /// `"auth.fail"`, `"retention.purge"`, `"audit.tamper_attempt"`.
    pub action: String,
    /// The object acted on, by id (`"conversation:<id>"`, `"kb:<version>"`).
    pub object: String,
    /// When, in UTC milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The client address the request came from.
    pub source: String,
    /// Whether it worked.
    pub outcome: Outcome,
}

/// An entry as stored in its tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEntry {
    /// Position in the tenant's chain, from 0, without gaps.
    pub index: u64,
    /// The previous entry's hash, or [`genesis_hash`] for index 0.
    #[serde(with = "codec::hex32")]
    pub prev_hash: [u8; 32],
    /// This entry's chain hash.
    #[serde(with = "codec::hex32")]
    pub hash: [u8; 32],
    /// The entry itself.
    pub entry: AuditEntry,
}

/// The state of one tenant's chain at a moment, to be kept outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tenant.
    pub tenant: String,
    /// How many entries the chain had.
    pub count: u64,
    /// The hash of entry `count - 1`, or the genesis hash when `count` is 0.
    #[serde(with = "codec::hex32")]
    pub head_hash: [u8; 32],
    /// When the checkpoint was taken, UTC ms.
    pub at_ms: u64,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The tenant verified.
    pub tenant: String,
    /// How many entries the tenant has in the entries table.
    pub entries: u64,
    /// True when the chain, the heads table and the checkpoint (if given) agree.
    pub ok: bool,
    /// The lowest index the log can no longer vouch for (see [`verify`]).
    pub first_bad: Option<u64>,
    /// What is wrong, in words; `None` when `ok`.
    pub problem: Option<String>,
    /// The hash of the last entry of the verified prefix (genesis if empty).
    #[serde(with = "codec::hex32")]
    pub head_hash: [u8; 32],
}

/// Longest result of [`sanitize`], in characters.
pub const SANITIZE_MAX_CHARS: usize = 256;

/// Makes a client-supplied string fit for an audit field: drops control
/// characters (C0, DEL, C1) and bidirectional overrides and isolates (which
/// can disguise a log line), then keeps at most [`SANITIZE_MAX_CHARS`] characters.
///
/// It does not detect plaintext: callers must not pass message content here.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(SANITIZE_MAX_CHARS)
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}
