//! The two redb tables of the audit log and every operation on them.
//!
//! - `audit_entries`: `(tenant, index) -> record` (see `codec.rs`).
//! - `audit_heads`: `tenant -> count u64 BE | head_hash[32]`, updated in the
//!   same transaction as each append, so the next append is O(log n).

use std::ops::Bound;

use redb::{
    Key, ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableError, Value,
    WriteTransaction,
};

use super::codec::{self, genesis_hash};
use super::{AuditEntry, Checkpoint, Error, Result, StoredEntry};

/// Entries of every tenant, keyed by `(tenant, index)`.
pub(crate) const ENTRIES: TableDefinition<'static, (&'static str, u64), &'static [u8]> =
    TableDefinition::new("audit_entries");
/// Per tenant: how many entries, and the last one's hash.
pub(crate) const HEADS: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("audit_heads");

/// Creates the audit tables if they do not exist, so that read transactions on
/// a new database find them. (The read functions also treat missing tables as
/// an empty log.)
pub fn ensure_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ENTRIES)?;
    txn.open_table(HEADS)?;
    Ok(())
}

/// Opens a table for reading; `None` when it was never created.
pub(crate) fn open_read<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<'_, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads a tenant's head: `(count, head_hash)`, or `(0, genesis)` if it has none.
pub(crate) fn read_head(
    heads: &impl ReadableTable<&'static str, &'static [u8]>,
    tenant: &str,
) -> Result<Option<(u64, [u8; 32])>> {
    match heads.get(tenant)? {
        Some(v) => codec::decode_head(v.value()).map(Some),
        None => Ok(None),
    }
}

/// Appends `entry` to its tenant's chain, inside the caller's write transaction,
/// so the entry commits or rolls back with the change it records.
///
/// The entry must not contain conversation plaintext, keys or tokens; pass
/// client-supplied strings through [`super::sanitize`].
///
/// # Errors
///
/// [`Error::InvalidEntry`] for an empty tenant or a field over
/// [`super::MAX_FIELD_BYTES`]; [`Error::Corrupt`] when the heads table points at
/// an index that already holds an entry (the log was tampered with: this
/// function never overwrites); redb errors. On error the caller should abort
/// its transaction.
pub fn append(txn: &WriteTransaction, entry: &AuditEntry) -> Result<StoredEntry> {
    codec::validate(entry)?;
    let tenant = entry.tenant.as_str();
    let mut heads = txn.open_table(HEADS)?;
    let mut table = txn.open_table(ENTRIES)?;
    let (index, prev_hash) = read_head(&heads, tenant)?.unwrap_or((0, genesis_hash(tenant)));
    if table.get((tenant, index))?.is_some() {
        return Err(Error::Corrupt(format!(
            "tenant {tenant:?}: heads table says the next index is {index}, which already exists"
        )));
    }
    let next = index
        .checked_add(1)
        .ok_or_else(|| Error::Corrupt(format!("tenant {tenant:?}: index overflow")))?;
    let canonical = codec::canonical(entry);
    let hash = codec::chain_hash(tenant, index, &prev_hash, &canonical);
    let record = codec::encode_record(&prev_hash, &hash, &canonical);
    table.insert((tenant, index), record.as_slice())?;
    heads.insert(tenant, codec::encode_head(next, &hash).as_slice())?;
    Ok(StoredEntry {
        index,
        prev_hash,
        hash,
        entry: entry.clone(),
    })
}

/// The current state of `tenant`'s chain as recorded in the heads table, to be
/// stored outside the database (see [`super::CheckpointFile`]).
///
/// It does not re-verify the chain: run [`super::verify`] first (against the
/// previous checkpoint) so that a checkpoint never blesses a tampered log.
pub fn checkpoint(txn: &ReadTransaction, tenant: &str, now_ms: u64) -> Result<Checkpoint> {
    let head = match open_read(txn, HEADS)? {
        Some(heads) => read_head(&heads, tenant)?,
        None => None,
    };
    let (count, head_hash) = head.unwrap_or((0, genesis_hash(tenant)));
    Ok(Checkpoint {
        tenant: tenant.to_owned(),
        count,
        head_hash,
        at_ms: now_ms,
    })
}

/// Up to `limit` entries of `tenant` with index `>= from`, in index order.
///
/// It decodes but does not verify; [`super::verify`] does that.
pub fn entries(
    txn: &ReadTransaction,
    tenant: &str,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredEntry>> {
    let Some(table) = open_read(txn, ENTRIES)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in table
        .range((tenant, from)..=(tenant, u64::MAX))?
        .take(limit)
    {
        let (k, v) = row?;
        let index = k.value().1;
        let record = codec::decode_record(v.value())
            .map_err(|e| Error::Corrupt(format!("tenant {tenant:?} index {index}: {e}")))?;
        out.push(record.into_stored(index));
    }
    Ok(out)
}

/// Every tenant that has a head or at least one entry, sorted.
///
/// Both tables are read, so deleting a tenant's head does not hide its entries.
pub fn tenants(txn: &ReadTransaction) -> Result<Vec<String>> {
    let mut out = std::collections::BTreeSet::new();
    if let Some(heads) = open_read(txn, HEADS)? {
        for row in heads.iter()? {
            out.insert(row?.0.value().to_owned());
        }
    }
    if let Some(table) = open_read(txn, ENTRIES)? {
        // Skip from one tenant to the next: O(tenants * log n), not O(entries).
        let mut next = table.first()?.map(|(k, _)| k.value().0.to_owned());
        while let Some(t) = next {
            let after = (Bound::Excluded((t.as_str(), u64::MAX)), Bound::Unbounded);
            next = match table.range::<(&str, u64)>(after)?.next() {
                Some(row) => Some(row?.0.value().0.to_owned()),
                None => None,
            };
            out.insert(t);
        }
    }
    Ok(out.into_iter().collect())
}
