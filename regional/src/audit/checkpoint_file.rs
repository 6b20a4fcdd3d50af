//! Checkpoints kept outside the database: an append-only JSON-lines file,
//! conventionally `<data_dir>/audit-checkpoints.jsonl`, fsynced on every append.
//!
//! One line per checkpoint, e.g.
//! `{"tenant":"acme","count":3,"head_hash":"<64 hex>","at_ms":1700000000000}`.
//! For a stronger guarantee, also ship each line to a system the database's
//! host cannot write (a WORM bucket, a syslog server, a printed report).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{Checkpoint, Error, Result};

/// The conventional file name under the service's data directory.
pub const CHECKPOINT_FILE_NAME: &str = "audit-checkpoints.jsonl";

/// An append-only file of [`Checkpoint`]s, one JSON object per line.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    /// The file opened for appending; the lock also orders reads after writes.
    file: Mutex<File>,
}

impl CheckpointFile {
    /// Opens (creating if needed) the checkpoint file at `path`.
    ///
    /// A last line without its newline is the remains of an append that never
    /// completed (a crash between write and fsync); it was never acknowledged,
    /// so it is cut off here, which keeps every later line parseable.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let existed = path.try_exists()?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        if existed {
            let mut bytes = Vec::new();
            file.seek(SeekFrom::Start(0))?;
            file.read_to_end(&mut bytes)?;
            if bytes.last().is_some_and(|b| *b != b'\n') {
                let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                file.set_len(u64::try_from(keep).unwrap_or(u64::MAX))?;
                file.sync_all()?;
            }
        } else {
            file.sync_all()?;
            sync_parent_dir(&path)?;
        }
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }

    /// The path this file was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one checkpoint as a JSON line and fsyncs before returning.
    pub fn append(&self, cp: &Checkpoint) -> Result<()> {
        let mut line = serde_json::to_vec(cp).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&line)?;
        file.sync_data()?;
        Ok(())
    }

    /// The newest checkpoint of `tenant` (the last one appended), if any.
    pub fn latest(&self, tenant: &str) -> Result<Option<Checkpoint>> {
        let mut latest = None;
        self.for_each(|cp| {
            if cp.tenant == tenant {
                latest = Some(cp);
            }
        })?;
        Ok(latest)
    }

    /// The newest checkpoint of every tenant in the file. A tenant whose rows
    /// vanished from the database entirely is still named here, so a periodic
    /// check should verify the union of these and [`super::tenants`].
    pub fn latest_all(&self) -> Result<BTreeMap<String, Checkpoint>> {
        let mut all = BTreeMap::new();
        self.for_each(|cp| {
            all.insert(cp.tenant.clone(), cp);
        })?;
        Ok(all)
    }

    /// Calls `f` on every checkpoint in file order. Reads the whole file: it
    /// grows by one short line per checkpoint, so this stays cheap for years of
    /// hourly checkpoints per tenant.
    fn for_each(&self, mut f: impl FnMut(Checkpoint)) -> Result<()> {
        let mut text = String::new();
        {
            let _guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            File::open(&self.path)?.read_to_string(&mut text)?;
        }
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let cp = serde_json::from_str(line).map_err(|e| Error::CheckpointLine {
                line: n + 1,
                reason: e.to_string(),
            })?;
            f(cp);
        }
        Ok(())
    }
}

/// Makes a new file's directory entry durable (a no-op where directories
/// cannot be opened, as on Windows).
fn sync_parent_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
