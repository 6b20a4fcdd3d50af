//! A tenant's knowledge-base entries and published versions in redb.
//!
//! Entries (curated FAQs and documents) are the *draft*: added, replaced by
//! id and deleted freely. Publishing snapshots them into an immutable
//! [`kefu_kb::KbIndex`], whose sealed bytes live in a file beside the
//! database (`kb/<tenant>/<version>.kbi`, see [`crate::kb`]); redb records
//! which version is current. Entry bodies are sealed records like
//! conversation turns (AAD: tenant, `kb:<entry id>`, kind `kb-entry`).

use redb::{ReadTransaction, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::keys::KeyRing;
use super::records::{open_json, seal_json};
use super::{WriteCtx, tables, tenants};
use crate::crypto::Key;
use crate::{Error, Result};

/// (tenant, entry id) -> sealed [`KbEntry`].
pub const KB_ENTRIES: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("kb_entries");

/// tenant -> the current published KB version.
pub const KB_VERSIONS: TableDefinition<'_, &str, u64> = TableDefinition::new("kb_versions");

const KIND: &str = "kb-entry";

/// One draft entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KbEntry {
    /// A curated question and answer.
    Faq {
        /// The question.
        question: String,
        /// The answer, returned verbatim.
        answer: String,
        /// Other phrasings.
        #[serde(default)]
        alternates: Vec<String>,
    },
    /// A Markdown or plain-text document.
    Document {
        /// Title.
        title: String,
        /// Body.
        text: String,
        /// Where to read it.
        #[serde(default)]
        url: Option<String>,
    },
}

fn row(id: &str) -> String {
    format!("kb:{id}")
}

fn key_for(ctx: &WriteCtx<'_>, tenant: &str) -> Result<(u32, Key)> {
    let version = tenants::get_in(ctx, tenant)?
        .ok_or(Error::NotFound)?
        .data_key_version;
    let master = ctx.master.ok_or(Error::WrongMasterKey)?;
    let t = ctx.txn.open_table(tables::DATA_KEYS)?;
    Ok((version, super::keys::load(&t, master, tenant, version)?))
}

/// Stores (or replaces) entries; returns how many replaced an existing id.
pub fn put(ctx: &WriteCtx<'_>, tenant: &str, entries: &[(String, KbEntry)]) -> Result<usize> {
    let (v, key) = key_for(ctx, tenant)?;
    let mut t = ctx.txn.open_table(KB_ENTRIES)?;
    let mut replaced = 0;
    for (id, e) in entries {
        let sealed = seal_json(&key, v, tenant, &row(id), 0, KIND, e)?;
        if t.insert((tenant, id.as_str()), sealed.as_slice())?
            .is_some()
        {
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// Replaces existing entry `id` (of the same type); [`Error::NotFound`]
/// when the tenant has no such entry.
pub fn replace(ctx: &WriteCtx<'_>, tenant: &str, id: &str, entry: &KbEntry) -> Result<()> {
    let want_faq = matches!(entry, KbEntry::Faq { .. });
    delete(ctx, tenant, id, want_faq)?;
    put(ctx, tenant, &[(id.to_owned(), entry.clone())]).map(|_| ())
}

/// Deletes entry `id` whose type is `faq` (`want_faq`) or document.
pub fn delete(ctx: &WriteCtx<'_>, tenant: &str, id: &str, want_faq: bool) -> Result<()> {
    let master = ctx.master.ok_or(Error::WrongMasterKey)?;
    let keys = ctx.txn.open_table(tables::DATA_KEYS)?;
    let mut ring = KeyRing::new(keys, master, tenant);
    let mut t = ctx.txn.open_table(KB_ENTRIES)?;
    let existing = match t.get((tenant, id))? {
        None => return Err(Error::NotFound),
        Some(g) => {
            open_json::<KbEntry>(&mut |v| ring.get(v), tenant, &row(id), 0, KIND, g.value())?
        }
    };
    if matches!(existing, KbEntry::Faq { .. }) != want_faq {
        return Err(Error::NotFound);
    }
    t.remove((tenant, id))?;
    Ok(())
}

/// Every draft entry of `tenant`, by id.
pub fn list(txn: &ReadTransaction, master: &Key, tenant: &str) -> Result<Vec<(String, KbEntry)>> {
    let keys = txn.open_table(tables::DATA_KEYS)?;
    let mut ring = KeyRing::new(keys, master, tenant);
    let t = txn.open_table(KB_ENTRIES)?;
    let mut out = Vec::new();
    for item in t.range((tenant, "")..)? {
        let (k, v) = item?;
        let (tn, id) = k.value();
        if tn != tenant {
            break;
        }
        let e = open_json(
            &mut |ver| ring.get(ver),
            tenant,
            &row(id),
            0,
            KIND,
            v.value(),
        )?;
        out.push((id.to_owned(), e));
    }
    Ok(out)
}

/// The current published version (0: never published).
pub fn current_version(txn: &ReadTransaction, tenant: &str) -> Result<u64> {
    let t = txn.open_table(KB_VERSIONS)?;
    Ok(t.get(tenant)?.map_or(0, |g| g.value()))
}

/// Records `version` as current (it must be newer than the current one).
pub fn set_version(ctx: &WriteCtx<'_>, tenant: &str, version: u64) -> Result<()> {
    let mut t = ctx.txn.open_table(KB_VERSIONS)?;
    let cur = t.get(tenant)?.map_or(0, |g| g.value());
    if version <= cur {
        return Err(Error::Conflict(format!(
            "kb version {version} is not newer than {cur}"
        )));
    }
    t.insert(tenant, version)?;
    Ok(())
}

/// The tenant's current data key (for sealing an index file).
pub fn data_key(txn: &ReadTransaction, master: &Key, tenant: &str) -> Result<(u32, Key)> {
    let v = tenants::get(txn, tenant)?
        .ok_or(Error::NotFound)?
        .data_key_version;
    let t = txn.open_table(tables::DATA_KEYS)?;
    Ok((v, super::keys::load(&t, master, tenant, v)?))
}

/// The data key of `version` (for opening an index file).
pub fn data_key_version(
    txn: &ReadTransaction,
    master: &Key,
    tenant: &str,
    version: u32,
) -> Result<Key> {
    let t = txn.open_table(tables::DATA_KEYS)?;
    super::keys::load(&t, master, tenant, version)
}

/// Removes every KB row of `tenant` (tenant deletion).
pub fn purge(ctx: &WriteCtx<'_>, tenant: &str) -> Result<usize> {
    let n = super::tables::remove_tenant_rows(ctx, KB_ENTRIES, tenant)?;
    ctx.txn.open_table(KB_VERSIONS)?.remove(tenant)?;
    Ok(n)
}
