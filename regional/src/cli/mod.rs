//! The `kefu-regional` command line.
//!
//! `serve` runs the service. `kb` talks to a running service's tenant API
//! ([`kb`]). The other commands work on the data dir directly; redb's file
//! lock makes them fail with a clear message while a server has the data dir
//! open.

pub mod kb;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::audit;
use crate::config::{CliOverrides, Config};
use crate::store::audit_hook::{self, Actor, Outcome};
use crate::store::{Store, tenants};
use crate::{Error, Result};

/// kefu-regional: tenants, durable encrypted conversations, audit.
#[derive(Debug, Parser)]
#[command(name = "kefu-regional", version, about)]
pub struct Cli {
    /// Config file (TOML). Also `KEFU_CONFIG`.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory. Also `KEFU_DATA_DIR`.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Dev/demo mode: without a master key, generate one into the data dir.
    #[arg(long, global = true)]
    pub dev: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve {
        /// Listen address (host:port). Also `KEFU_LISTEN`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Manage data keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Load a tenant's knowledge base through a running service.
    #[command(subcommand)]
    Kb(kb::KbCmd),
    /// Write a backup of the data dir while the service is stopped (while
    /// it runs: `POST /admin/v1/backups`). Prints where.
    Backup {
        /// The directory the backup goes under (default: `[backup] dir`).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// `tenant ...`
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant; prints its API key (shown once) and widget key.
    Create(TenantCreate),
    /// List tenants.
    List,
    /// Replace a tenant's API key; prints the new one.
    RotateKey {
        /// Tenant id.
        #[arg(long)]
        id: String,
    },
    /// Delete a tenant: destroys its data keys and removes its conversations.
    Delete {
        /// Tenant id.
        #[arg(long)]
        id: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

/// `tenant create`
#[derive(Debug, Args)]
pub struct TenantCreate {
    /// Tenant id (letters, digits, '-', '_', '.').
    #[arg(long)]
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
}

/// `audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the hash chain and report the first bad entry.
    Verify {
        /// Only this tenant (default: every tenant and the service log).
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// `keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Add a data-key version for a tenant; new records use it.
    Rotate {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
}

impl Cli {
    /// The overrides these flags make to the config.
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides {
            config_file: self.config.clone(),
            listen: match &self.command {
                Command::Serve { listen } => listen.clone(),
                _ => None,
            },
            data_dir: self.data_dir.clone(),
            dev: self.dev,
        }
    }
}

fn open_with_key(config: &Config) -> Result<Store> {
    let (key, dev) = config.master_key_or_dev()?;
    if dev {
        eprintln!("warning: DEV MODE master key from the data dir; never use it for real data");
    }
    Store::open(&config.data_dir, Some(key))
}

/// Prints pretty JSON; a closed stdout (`| head`) is not an error worth a panic.
fn print(v: &serde_json::Value) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    );
}

/// Prints one compact JSON line.
fn print_line(v: &serde_json::Value) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{v}");
}

/// Runs a non-`serve` command. Returns the process exit code.
pub fn run_offline(config: &Config, command: &Command) -> Result<i32> {
    match command {
        Command::Serve { .. } => Err(Error::Invalid("serve is not an offline command".into())),
        Command::Kb(k) => kb::run(k),
        Command::Tenant(TenantCmd::Create(c)) => {
            let store = open_with_key(config)?;
            let (info, api_key) = store.write_now(|ctx| {
                let out = tenants::create(ctx, &c.id, &c.name)?;
                audit_hook::record(
                    ctx,
                    &Actor::cli(),
                    &c.id,
                    "tenant.create",
                    &c.id,
                    Outcome::Ok,
                )?;
                Ok(out)
            })?;
            print(&json!({"id": info.id, "api_key": api_key, "widget_key": info.widget_key}));
            Ok(0)
        }
        Command::Tenant(TenantCmd::List) => {
            let store = Store::open(&config.data_dir, None)?;
            let list = tenants::list(&store.read()?)?;
            print(&serde_json::to_value(list).unwrap_or_default());
            Ok(0)
        }
        Command::Tenant(TenantCmd::RotateKey { id }) => {
            let store = open_with_key(config)?;
            let key = store.write_now(|ctx| {
                let k = tenants::rotate_api_key(ctx, id)?;
                audit_hook::record(
                    ctx,
                    &Actor::cli(),
                    id,
                    "tenant.rotate_api_key",
                    id,
                    Outcome::Ok,
                )?;
                Ok(k)
            })?;
            print(&json!({"id": id, "api_key": key}));
            Ok(0)
        }
        Command::Tenant(TenantCmd::Delete { id, yes }) => {
            if !yes {
                eprintln!(
                    "refusing to delete tenant {id} without --yes (its data cannot be recovered)"
                );
                return Ok(2);
            }
            let store = open_with_key(config)?;
            let keys_destroyed = store.write_now(|ctx| {
                let k = tenants::delete(ctx, id)?;
                audit_hook::record(ctx, &Actor::cli(), id, "tenant.delete", id, Outcome::Ok)?;
                Ok(k)
            })?;
            // Then its rows, a batch per transaction, as the service does
            // (an interrupted run is finished by the service's next start).
            let mut r = tenants::DeleteReport {
                conversations: 0,
                messages: 0,
                keys_destroyed,
            };
            loop {
                let (c, m, done) = store
                    .write_now(|ctx| tenants::remove_rows(ctx, id, crate::store::PURGE_BATCH))?;
                r.conversations += c;
                r.messages += m;
                if done {
                    break;
                }
            }
            print(&serde_json::to_value(r).unwrap_or_default());
            Ok(0)
        }
        Command::Keys(KeysCmd::Rotate { tenant }) => {
            let store = open_with_key(config)?;
            let v = store.write_now(|ctx| {
                let v = tenants::rotate_data_key(ctx, tenant)?;
                audit_hook::record(
                    ctx,
                    &Actor::cli(),
                    tenant,
                    "tenant.rotate_data_key",
                    &format!("{tenant}/v{v}"),
                    Outcome::Ok,
                )?;
                Ok(v)
            })?;
            print(&json!({"id": tenant, "data_key_version": v}));
            Ok(0)
        }
        Command::Audit(AuditCmd::Verify { tenant }) => audit_verify(config, tenant.as_deref()),
        Command::Backup { out } => {
            // The records are copied sealed: no key needed.
            let store = Store::open(&config.data_dir, None)?;
            let out = out.clone().unwrap_or_else(|| config.backup_dir.clone());
            let r = crate::store::backup::write(&store, &out, &config.audit.checkpoint_file)?;
            print(&serde_json::to_value(r).unwrap_or_default());
            Ok(0)
        }
    }
}

/// Verifies audit chains against the checkpoint file; exit code 1 if any fails.
fn audit_verify(config: &Config, only: Option<&str>) -> Result<i32> {
    let store = Store::open(&config.data_dir, None)?;
    let txn = store.read()?;
    let file = if config.audit.checkpoint_file.exists() {
        Some(audit::CheckpointFile::open(&config.audit.checkpoint_file)?)
    } else {
        None
    };
    let latest = match &file {
        Some(f) => f.latest_all()?,
        None => Default::default(),
    };
    let names: Vec<String> = match only {
        Some(t) => vec![t.to_owned()],
        None => {
            let mut all: std::collections::BTreeSet<String> =
                audit::tenants(&txn)?.into_iter().collect();
            all.extend(latest.keys().cloned());
            all.into_iter().collect()
        }
    };
    let mut failed = 0;
    for t in &names {
        let cp = latest.get(t);
        let r = audit::verify(&txn, t, cp)?;
        if !r.ok {
            failed += 1;
        }
        print_line(&json!({
            "tenant": r.tenant,
            "entries": r.entries,
            "ok": r.ok,
            "first_bad": r.first_bad,
            "problem": r.problem,
            "head_hash": hex::encode(r.head_hash),
            "checkpoint_count": cp.map(|c| c.count),
        }));
    }
    if file.is_none() {
        eprintln!(
            "note: no checkpoint file at {}; truncation and rewrites cannot be detected",
            config.audit.checkpoint_file.display()
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
