//! Online backup: a consistent copy of the data dir while the service runs.
//!
//! The database is copied table by table from one read transaction (redb's
//! snapshot: writers go on meanwhile, and nothing written after it is in
//! the copy) into a new database file, written under a temporary name and
//! renamed when complete. The published knowledge-base index files and the
//! audit checkpoints are copied next to it. Records stay sealed as they
//! are; the master key is not in the backup (keep it apart: a backup
//! without its key cannot be read).
//!
//! Every table of the source must be one this module copies: a table it
//! does not know fails the backup, so a table added later cannot be left
//! out silently.

use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableHandle};

use super::{DB_FILE, Store, tables};
use crate::{Error, Result};

/// What a backup wrote.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BackupReport {
    /// The backup's directory (a data dir to restore from).
    pub path: String,
    /// Tables copied.
    pub tables: usize,
    /// Rows copied, over all tables.
    pub rows: u64,
    /// Knowledge-base index files copied.
    pub kb_files: usize,
    /// Bytes written, database and files.
    pub bytes: u64,
    /// How long it took, ms.
    pub ms: u64,
}

/// Copies one table; returns its rows.
fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &redb::WriteTransaction,
    def: TableDefinition<'_, K, V>,
    copied: &mut Vec<String>,
) -> Result<u64> {
    copied.push(def.name().to_owned());
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(redb::Error::from(e).into()),
    };
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// Every table of the service, copied from `src` into `dst`. Returns the
/// rows and the names copied.
fn copy_all(src: &ReadTransaction, dst: &redb::WriteTransaction) -> Result<(u64, Vec<String>)> {
    use super::{agent_sessions, erase, first_turns, handoff, kb, tenants, visitors};
    let mut names = Vec::new();
    let n = &mut names;
    let rows = copy(src, dst, tables::META, n)?
        + copy(src, dst, tables::TENANTS, n)?
        + copy(src, dst, tables::API_KEYS, n)?
        + copy(src, dst, tables::WIDGET_KEYS, n)?
        + copy(src, dst, tables::DATA_KEYS, n)?
        + copy(src, dst, tables::CONVERSATIONS, n)?
        + copy(src, dst, tables::MESSAGES, n)?
        + copy(src, dst, tables::IDEMPOTENCY, n)?
        + copy(src, dst, kb::KB_ENTRIES, n)?
        + copy(src, dst, kb::KB_VERSIONS, n)?
        + copy(src, dst, handoff::AGENTS, n)?
        + copy(src, dst, handoff::HANDOFFS, n)?
        + copy(src, dst, handoff::CANNED, n)?
        + copy(src, dst, handoff::SETTINGS, n)?
        + copy(src, dst, agent_sessions::AGENT_SESSIONS, n)?
        + copy(src, dst, erase::ERASED, n)?
        + copy(src, dst, erase::SUCCESSORS, n)?
        + copy(src, dst, erase::ERASED_AT, n)?
        + copy(src, dst, tenants::DELETING, n)?
        + copy(src, dst, visitors::INDEX, n)?
        + copy(src, dst, visitors::READY, n)?
        + copy(src, dst, first_turns::FIRST_TURNS, n)?
        + copy(src, dst, crate::audit::store::ENTRIES, n)?
        + copy(src, dst, crate::audit::store::HEADS, n)?;
    Ok((rows, names))
}

/// Writes a backup of `store` into a new directory under `out_dir`
/// (`kefu-backup-<ms since the epoch>`), with the audit checkpoints from
/// `checkpoints` when that file exists. Blocking: run it on a blocking
/// thread. Returns what it wrote.
pub fn write(store: &Store, out_dir: &Path, checkpoints: &Path) -> Result<BackupReport> {
    let started = Instant::now();
    let snapshot = store.read()?;
    // Named by the time, ms since the epoch: sorts, and never repeats
    // within one data dir's backups.
    let name = format!("kefu-backup-{}", super::now_ms());
    let dest = out_dir.join(&name);
    if dest.exists() {
        return Err(Error::Conflict(format!(
            "{} exists already",
            dest.display()
        )));
    }
    let partial = out_dir.join(format!(".{name}.partial"));
    std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    let db_path = partial.join(DB_FILE);
    let (rows, copied) = {
        let db = redb::Database::create(&db_path)?;
        let mut w = db.begin_write()?;
        w.set_durability(redb::Durability::Immediate)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let out = copy_all(&snapshot, &w)?;
        w.commit()?;
        out
    };
    let present: Vec<String> = snapshot
        .list_tables()?
        .map(|t| t.name().to_owned())
        .collect();
    if let Some(missing) = present.iter().find(|t| !copied.contains(t)) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(Error::Invalid(format!(
            "backup: table {missing} is not one the backup knows; nothing was kept"
        )));
    }
    let mut bytes = file_len(&db_path);
    let mut kb_files = 0;
    let kb_dir = store.data_dir().join("kb");
    if kb_dir.is_dir() {
        for (from, rel) in files_under(&kb_dir)? {
            let to = partial.join("kb").join(&rel);
            if let Some(p) = to.parent() {
                std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
            }
            bytes += std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            kb_files += 1;
        }
    }
    if checkpoints.is_file() {
        let to = partial.join(
            checkpoints
                .file_name()
                .unwrap_or(std::ffi::OsStr::new("audit-checkpoints.jsonl")),
        );
        bytes += std::fs::copy(checkpoints, &to).map_err(|e| Error::io(checkpoints, e))?;
    }
    std::fs::rename(&partial, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(BackupReport {
        path: dest.display().to_string(),
        tables: copied.len(),
        rows,
        kb_files,
        bytes,
        ms: started.elapsed().as_millis() as u64,
    })
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Every file under `root`, with its path relative to `root`.
fn files_under(root: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push((p.clone(), rel.to_path_buf()));
            }
        }
    }
    Ok(out)
}
