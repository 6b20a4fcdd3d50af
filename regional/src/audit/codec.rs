//! The canonical byte encoding of audit entries and the SM3 chain hash.
//!
//! Canonical entry bytes (`CANONICAL_V1`), all integers big-endian:
//!
//! ```text
//! len32(actor) actor | len32(tenant) tenant | len32(action) action |
//! len32(object) object | at_ms u64 | len32(source) source | outcome u8 (0 ok, 1 denied, 2 failed)
//! ```
//!
//! A stored record is `0x01 | prev_hash[32] | hash[32] | canonical entry bytes`;
//! the leading byte is the record format version.

use sm3::{Digest, Sm3};

use super::{AuditEntry, Error, Outcome, Result, StoredEntry};

/// Longest accepted field, in bytes. Audit fields are ids and short names.
pub const MAX_FIELD_BYTES: usize = 4096;

const RECORD_V1: u8 = 1;
const HASH_DOMAIN: &[u8] = b"kefu-audit-v1";
const GENESIS_DOMAIN: &[u8] = b"kefu-audit-genesis";

/// The `prev_hash` of a tenant's entry 0: `SM3("kefu-audit-genesis" | tenant)`.
pub fn genesis_hash(tenant: &str) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(GENESIS_DOMAIN);
    h.update(tenant.as_bytes());
    h.finalize().into()
}

/// The chain hash of entry `index` of `tenant`, given its predecessor's hash
/// and its canonical bytes.
pub(crate) fn chain_hash(tenant: &str, index: u64, prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(HASH_DOMAIN);
    // Tenant lengths are checked at append; a longer stored one saturates, and its
    // hash then simply fails to match.
    h.update(
        u32::try_from(tenant.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    h.update(tenant.as_bytes());
    h.update(index.to_be_bytes());
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

fn outcome_byte(o: Outcome) -> u8 {
    match o {
        Outcome::Ok => 0,
        Outcome::Denied => 1,
        Outcome::Failed => 2,
    }
}

/// Checks the limits [`super::append`] enforces.
pub(crate) fn validate(e: &AuditEntry) -> Result<()> {
    if e.tenant.is_empty() {
        return Err(Error::InvalidEntry("tenant is empty"));
    }
    for f in [&e.actor, &e.tenant, &e.action, &e.object, &e.source] {
        if f.len() > MAX_FIELD_BYTES {
            return Err(Error::InvalidEntry(
                "a field is longer than MAX_FIELD_BYTES",
            ));
        }
    }
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // validate() caps every field far below u32::MAX.
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The canonical bytes of an entry (call [`validate`] first).
pub(crate) fn canonical(e: &AuditEntry) -> Vec<u8> {
    let len = 4 * 5 + 8 + 1 + e.actor.len() + e.tenant.len() + e.action.len();
    let mut out = Vec::with_capacity(len + e.object.len() + e.source.len());
    put_str(&mut out, &e.actor);
    put_str(&mut out, &e.tenant);
    put_str(&mut out, &e.action);
    put_str(&mut out, &e.object);
    out.extend_from_slice(&e.at_ms.to_be_bytes());
    put_str(&mut out, &e.source);
    out.push(outcome_byte(e.outcome));
    out
}

/// Encodes a stored record.
pub(crate) fn encode_record(prev: &[u8; 32], hash: &[u8; 32], canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + canonical.len());
    out.push(RECORD_V1);
    out.extend_from_slice(prev);
    out.extend_from_slice(hash);
    out.extend_from_slice(canonical);
    out
}

/// A decoded record: its hashes, its entry, and the canonical bytes it was decoded
/// from (which the hash covers).
pub(crate) struct Record<'a> {
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub canonical: &'a [u8],
    pub entry: AuditEntry,
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(Error::Corrupt("record is truncated".into()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn string(&mut self) -> Result<String> {
        let len = u32::from_be_bytes(self.array()?);
        let len = usize::try_from(len).map_err(|_| Error::Corrupt("field too long".into()))?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Corrupt("field is not UTF-8".into()))
    }
}

/// Decodes a stored record; never panics on malformed bytes.
pub(crate) fn decode_record(bytes: &[u8]) -> Result<Record<'_>> {
    let mut r = Reader { rest: bytes };
    let [version] = r.array::<1>()?;
    if version != RECORD_V1 {
        return Err(Error::Corrupt(format!("unknown record version {version}")));
    }
    let prev_hash = r.array()?;
    let hash = r.array()?;
    let canonical = r.rest;
    let actor = r.string()?;
    let tenant = r.string()?;
    let action = r.string()?;
    let object = r.string()?;
    let at_ms = u64::from_be_bytes(r.array()?);
    let source = r.string()?;
    let outcome = match r.array::<1>()? {
        [0] => Outcome::Ok,
        [1] => Outcome::Denied,
        [2] => Outcome::Failed,
        [b] => return Err(Error::Corrupt(format!("unknown outcome byte {b}"))),
    };
    if !r.rest.is_empty() {
        return Err(Error::Corrupt("trailing bytes after entry".into()));
    }
    let entry = AuditEntry {
        actor,
        tenant,
        action,
        object,
        at_ms,
        source,
        outcome,
    };
    Ok(Record {
        prev_hash,
        hash,
        canonical,
        entry,
    })
}

impl Record<'_> {
    pub(crate) fn into_stored(self, index: u64) -> StoredEntry {
        StoredEntry {
            index,
            prev_hash: self.prev_hash,
            hash: self.hash,
            entry: self.entry,
        }
    }
}

/// Heads-table value: `count u64 BE | head_hash[32]`.
pub(crate) fn encode_head(count: u64, head: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&count.to_be_bytes());
    out[8..].copy_from_slice(head);
    out
}

/// Decodes a heads-table value.
pub(crate) fn decode_head(bytes: &[u8]) -> Result<(u64, [u8; 32])> {
    let mut r = Reader { rest: bytes };
    let count = u64::from_be_bytes(r.array()?);
    let head = r.array()?;
    if !r.rest.is_empty() {
        return Err(Error::Corrupt("heads value has trailing bytes".into()));
    }
    Ok((count, head))
}

/// Serde helper: a 32-byte hash as 64 lowercase hex digits.
pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}
