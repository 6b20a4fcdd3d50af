//! The config file as written: every field optional, unknown fields rejected.
//!
//! Secrets are deliberately absent: the master key and the operator token come
//! from the environment or from files named here, never from the TOML itself.

use std::path::PathBuf;

use serde::Deserialize;

/// The TOML config file, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Socket address to listen on (`host:port`).
    pub listen: Option<String>,
    /// Address of the public widget API (`host:port`), or `off`.
    pub public_listen: Option<String>,
    /// Where the database, the checkpoint file and dev keys live.
    pub data_dir: Option<PathBuf>,
    /// File holding the operator bearer token.
    pub operator_token_file: Option<PathBuf>,
    /// File holding the 128-bit master key as 32 hex digits.
    pub master_key_file: Option<PathBuf>,
    /// File holding the key the edge signs its frames with.
    pub edge_key_file: Option<PathBuf>,
    /// Dev/demo mode: generate a master key into the data dir if none is given.
    pub dev: Option<bool>,
    /// Request and content limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// Group-commit tuning.
    #[serde(default)]
    pub commit: RawCommit,
    /// Audit checkpoints.
    #[serde(default)]
    pub audit: RawAudit,
    /// The retention sweeper.
    #[serde(default)]
    pub retention: RawRetention,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Longest message text in characters.
    pub max_message_chars: Option<usize>,
    /// Requests per minute per tenant before 429.
    pub tenant_requests_per_minute: Option<u32>,
    /// Failed authentications per minute per source address before 429.
    pub failed_auth_per_minute: Option<u32>,
}

/// `[commit]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommit {
    /// Most write requests folded into one transaction.
    pub max_batch: Option<usize>,
    /// How long the writer waits for more requests after the first, in microseconds.
    pub max_wait_us: Option<u64>,
}

/// `[audit]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Seconds between audit checkpoints (head hash + count per tenant).
    pub checkpoint_interval_secs: Option<u64>,
    /// Where checkpoints are appended; default `<data_dir>/audit-checkpoints.jsonl`.
    pub checkpoint_file: Option<PathBuf>,
}

/// `[retention]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Seconds between retention sweeps.
    pub sweep_interval_secs: Option<u64>,
    /// Retention for tenants that set none, in days.
    pub default_days: Option<u32>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A `tracing` env-filter directive, e.g. `info,kefu_regional=debug`.
    pub filter: Option<String>,
}
