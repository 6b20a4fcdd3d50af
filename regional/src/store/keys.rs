//! Per-tenant keys: SM4 data keys (versions 1..) and the index key
//! (version 0), each stored wrapped by the master key.
//!
//! Rotation adds a version and makes it current; old versions stay, so
//! records sealed under them still open. Deleting a tenant removes every
//! version: without its wrapped keys, nothing the tenant stored can be
//! opened again (crypto-shred), even from an old copy of the database file.

use redb::ReadableTable;

use super::{WriteCtx, tables};
use crate::crypto::{self, Key};
use crate::rng::{self, OsNonces};
use crate::{Error, Result};

/// The version under which the index key is stored.
pub const INDEX_KEY_VERSION: u32 = 0;
/// The first data-key version.
pub const FIRST_DATA_KEY_VERSION: u32 = 1;

/// Generates and stores a fresh key for `tenant` at `version`.
pub fn add(ctx: &WriteCtx<'_>, tenant: &str, version: u32) -> Result<()> {
    let master = ctx.master()?;
    let dk = Key::generate(&mut OsNonces);
    let wrapped = crypto::wrap_key(master, rng::nonce(), tenant, version, &dk);
    let mut t = ctx.txn.open_table(tables::DATA_KEYS)?;
    if t.get((tenant, version))?.is_some() {
        return Err(Error::Conflict(format!(
            "data key version {version} already exists"
        )));
    }
    t.insert((tenant, version), wrapped.as_slice())?;
    Ok(())
}

/// Unwraps `tenant`'s key `version` from a data-keys table (read or write).
pub fn load<T>(table: &T, master: &Key, tenant: &str, version: u32) -> Result<Key>
where
    T: ReadableTable<(&'static str, u32), &'static [u8]>,
{
    let wrapped = table.get((tenant, version))?.ok_or_else(|| {
        Error::Core(kefu_core::Error::Decode(format!(
            "no data key version {version}"
        )))
    })?;
    crypto::unwrap_key(master, tenant, version, wrapped.value()).map_err(|_| Error::WrongMasterKey)
}

/// Removes every key of `tenant` (the crypto-shred). Returns how many.
pub fn shred(ctx: &WriteCtx<'_>, tenant: &str) -> Result<usize> {
    let mut t = ctx.txn.open_table(tables::DATA_KEYS)?;
    let versions: Vec<u32> = t
        .range((tenant, 0u32)..=(tenant, u32::MAX))?
        .map(|r| r.map(|(k, _)| k.value().1))
        .collect::<Result<_, _>>()?;
    for v in &versions {
        t.remove((tenant, *v))?;
    }
    Ok(versions.len())
}

/// A tenant's keys for one transaction: unwraps each version at most once.
pub struct KeyRing<'a, T> {
    table: T,
    master: &'a Key,
    tenant: &'a str,
    cache: Vec<(u32, Key)>,
}

impl<T> std::fmt::Debug for KeyRing<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl<'a, T> KeyRing<'a, T>
where
    T: ReadableTable<(&'static str, u32), &'static [u8]>,
{
    /// A ring over an open data-keys table.
    pub fn new(table: T, master: &'a Key, tenant: &'a str) -> Self {
        KeyRing {
            table,
            master,
            tenant,
            cache: Vec::new(),
        }
    }

    /// The key for `version`.
    pub fn get(&mut self, version: u32) -> Result<Key> {
        if let Some((_, k)) = self.cache.iter().find(|(v, _)| *v == version) {
            return Ok(k.clone());
        }
        let k = load(&self.table, self.master, self.tenant, version)?;
        self.cache.push((version, k.clone()));
        Ok(k)
    }
}
