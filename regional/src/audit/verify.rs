//! Recomputing a tenant's chain and comparing it with the heads table and a checkpoint.

use redb::ReadTransaction;

use super::codec::{self, genesis_hash};
use super::store::{ENTRIES, HEADS, open_read, read_head};
use super::{Checkpoint, Error, Result, VerifyReport};

/// Recomputes `tenant`'s chain from index 0 and reports the first problem.
///
/// Checked, in this order of evidence:
/// - every index from 0 is present, without gaps (`gap`);
/// - every record decodes and names `tenant` (`undecodable`, `tenant mismatch`);
/// - each entry's `prev_hash` is its predecessor's hash, or the genesis hash
///   (`prev link broken`);
/// - each stored hash matches the hash recomputed from the entry (`hash mismatch`);
/// - with a checkpoint: the chain's hash after `cp.count` entries is
///   `cp.head_hash` (`rewrite`), and the chain has at least `cp.count` entries
///   (`truncation`);
/// - the heads table agrees with the chain (`head disagrees`).
///
/// `first_bad` is the lowest index the log can no longer vouch for: for a bad
/// hash, the entry itself; for a missing index, that index; for a broken link
/// between `i - 1` and `i`, index `i - 1` (either side may have been altered);
/// for a truncation, the first missing index; for a rewrite, 0, since a
/// recomputed chain could differ from the checkpointed one anywhere before it.
/// When several problems are found the lowest `first_bad` wins.
///
/// # Errors
///
/// [`Error::CheckpointTenant`] if `against` is for another tenant; redb errors.
/// Tampering is never an `Err`: it is a report with `ok == false`.
pub fn verify(
    txn: &ReadTransaction,
    tenant: &str,
    against: Option<&Checkpoint>,
) -> Result<VerifyReport> {
    if let Some(cp) = against
        && cp.tenant != tenant
    {
        return Err(Error::CheckpointTenant {
            expected: tenant.to_owned(),
            found: cp.tenant.clone(),
        });
    }
    let genesis = genesis_hash(tenant);
    let cp_count = against.map(|cp| cp.count);
    let mut prev = genesis;
    let mut valid = 0u64; // length of the verified prefix
    let mut total = 0u64;
    let mut hash_at_cp = (cp_count == Some(0)).then_some(genesis);
    let mut fault: Option<(u64, String)> = None;

    if let Some(table) = open_read(txn, ENTRIES)? {
        for row in table.range((tenant, 0)..=(tenant, u64::MAX))? {
            let (k, v) = row?;
            total += 1;
            if fault.is_some() {
                continue; // only counting now
            }
            match check_one(tenant, valid, &prev, k.value().1, v.value()) {
                Ok(hash) => {
                    prev = hash;
                    valid += 1;
                    if cp_count == Some(valid) {
                        hash_at_cp = Some(hash);
                    }
                }
                Err(f) => fault = Some(f),
            }
        }
    }

    let mut problems: Vec<(u64, String)> = Vec::new();
    if let (Some(cp), Some(h)) = (against, hash_at_cp)
        && h != cp.head_hash
    {
        problems.push((
            0,
            format!(
                "rewrite: the chain's hash after {} entries differs from the checkpoint taken at {} ms",
                cp.count, cp.at_ms
            ),
        ));
    }
    let chain_ok = fault.is_none();
    problems.extend(fault);
    if chain_ok {
        if let Some(cp) = against
            && valid < cp.count
        {
            problems.push((
                valid,
                format!(
                    "truncation: {valid} entries, the checkpoint saw {}",
                    cp.count
                ),
            ));
        }
        let head = match open_read(txn, HEADS)? {
            Some(heads) => read_head(&heads, tenant)?,
            None => None,
        };
        match head {
            None if valid == 0 => {}
            None => problems.push((0, format!("head disagrees: no head row, {valid} entries"))),
            Some((count, _)) if count != valid => problems.push((
                count.min(valid),
                format!("head disagrees: head count {count}, chain has {valid} entries"),
            )),
            Some((_, hash)) if hash != prev => problems.push((
                valid.saturating_sub(1),
                format!(
                    "head disagrees: head hash differs from entry {}",
                    valid.saturating_sub(1)
                ),
            )),
            Some(_) => {}
        }
    }

    // min_by_key keeps the first of equal keys: the earlier, stronger evidence.
    let worst = problems.into_iter().min_by_key(|(i, _)| *i);
    Ok(VerifyReport {
        tenant: tenant.to_owned(),
        entries: total,
        ok: worst.is_none(),
        first_bad: worst.as_ref().map(|(i, _)| *i),
        problem: worst.map(|(_, p)| p),
        head_hash: prev,
    })
}

/// Checks the record stored at `index`, expected to be entry `expected` following
/// `prev`. Returns its hash, or `(first_bad, problem)`.
fn check_one(
    tenant: &str,
    expected: u64,
    prev: &[u8; 32],
    index: u64,
    bytes: &[u8],
) -> Result<[u8; 32], (u64, String)> {
    if index != expected {
        return Err((
            expected,
            format!("gap: index {expected} is missing, next is {index}"),
        ));
    }
    let record = codec::decode_record(bytes)
        .map_err(|e| (index, format!("undecodable: entry {index}: {e}")))?;
    if record.entry.tenant != tenant {
        return Err((
            index,
            format!("tenant mismatch: entry {index} names another tenant"),
        ));
    }
    if record.prev_hash != *prev {
        return Err(match index.checked_sub(1) {
            Some(before) => (
                before,
                format!("prev link broken between entries {before} and {index}"),
            ),
            None => (
                0,
                "prev link broken: entry 0 does not follow the genesis hash".to_owned(),
            ),
        });
    }
    let hash = codec::chain_hash(tenant, index, prev, record.canonical);
    if hash != record.hash {
        return Err((
            index,
            format!("hash mismatch: entry {index} differs from its stored hash"),
        ));
    }
    Ok(hash)
}
