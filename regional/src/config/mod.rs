//! Two-phase configuration: a TOML [`RawConfig`] (unknown fields rejected),
//! overridden by `KEFU_*` environment variables and command-line flags, then
//! validated once into an immutable [`Config`].
//!
//! Precedence, lowest first: defaults, the file (`KEFU_CONFIG` or `--config`),
//! the environment, command-line flags. Every error names where the bad value
//! came from (`KEFU_LISTEN (environment)`, `listen in kefu.toml`, ...) and
//! never repeats a secret.

mod raw;
mod secret;
mod sections;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::RawConfig;
pub use secret::Secret;
use sections::InFile;
pub use values::parse_master_key;
use values::{check_token, parse_bool};

use crate::crypto::Key;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default listen address of the public widget API (in-process edge).
pub const DEFAULT_PUBLIC_LISTEN: &str = "127.0.0.1:8081";
/// The default data dir (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "kefu-data";
/// The file dev mode keeps its generated master key in, inside the data dir.
pub const DEV_MASTER_KEY_FILE: &str = "dev-master.key";

/// A config value that failed validation, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the value came from, e.g. `KEFU_LISTEN (environment)`.
    pub origin: String,
    /// What is wrong with it (never the secret itself).
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(origin: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        origin: origin.into(),
        message: message.into(),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Request and content limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Longest message text, in characters (longer: 413).
    pub max_message_chars: usize,
    /// Requests per minute per tenant (more: 429).
    pub tenant_requests_per_minute: u32,
    /// Failed authentications per minute per source address (more: 429).
    pub failed_auth_per_minute: u32,
}

/// Group-commit tuning.
#[derive(Debug, Clone)]
pub struct CommitConfig {
    /// Most write requests folded into one transaction.
    pub max_batch: usize,
    /// How long the writer lingers for more requests after the first.
    pub max_wait: Duration,
}

/// Audit checkpoint settings.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
    /// The checkpoint file.
    pub checkpoint_file: PathBuf,
}

/// Retention sweeper settings.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Time between sweeps.
    pub sweep_interval: Duration,
    /// Retention for tenants that set none, in days.
    pub default_days: u32,
}

/// The validated, immutable service configuration. `Debug` is safe to log:
/// the operator token and master key print as `<redacted>`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (operator, tenant and edge-frame API).
    pub listen: SocketAddr,
    /// Listen address of the public widget API served by the in-process
    /// edge (`/v1/chat`, the long poll, `/widget.js`); `None` (`off`) when
    /// a separate edge deployment serves it. A separate listener keeps the
    /// operator and tenant API off the address browsers reach.
    pub public_listen: Option<SocketAddr>,
    /// The in-process edge's rate limits (`KEFU_PUBLIC_LIMITS_JSON` /
    /// `public_limits_json`: kefu-core's `LimitPolicy` as JSON); kefu-core's
    /// defaults when unset.
    pub public_limits: Option<kefu_core::ratelimit::LimitPolicy>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Operator bearer token; `None` disables the operator API.
    pub operator_token: Option<Secret>,
    /// The master key, if one was given.
    pub master_key: Option<Key>,
    /// The key the edge signs its frames with; `None` closes the edge door.
    pub edge_key: Option<Secret>,
    /// Dev/demo mode.
    pub dev: bool,
    /// Limits.
    pub limits: Limits,
    /// Group commit.
    pub commit: CommitConfig,
    /// Audit checkpoints.
    pub audit: AuditConfig,
    /// Retention.
    pub retention: RetentionConfig,
    /// Where online backups are written.
    pub backup_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter directive.
    pub log_filter: String,
    /// Generative models (none: curated and extractive answers only).
    pub llm: LlmConfig,
    /// The embedding model (none: lexical search only).
    pub embedder: EmbedderConfig,
}

/// Where embeddings come from.
#[derive(Debug, Clone)]
pub enum EmbedderConfig {
    /// None: BM25 only.
    None,
    /// An in-process model directory.
    Local(PathBuf),
    /// An OpenAI-compatible embeddings server.
    Remote {
        /// Base URL.
        url: String,
        /// Model name.
        model: String,
        /// Bearer token (`embedder.api_key_file`, `KEFU_EMBEDDER_API_KEY_FILE`).
        api_key: Option<Secret>,
        /// Extra CA certificates, PEM (`embedder.ca_file`, `KEFU_EMBEDDER_CA_FILE`).
        ca_pem: Option<Vec<u8>>,
    },
}

/// One OpenAI-compatible model server.
#[derive(Debug, Clone)]
pub struct LlmBackendConfig {
    /// Base URL without `/v1`.
    pub url: String,
    /// Model name.
    pub model: String,
    /// Bearer key.
    pub api_key: Option<Secret>,
    /// Extra trusted CA certificates (PEM) for `https://`.
    pub ca_pem: Option<Vec<u8>>,
}

/// Generative models and how they are shared.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Servers in fallback order.
    pub backends: Vec<LlmBackendConfig>,
    /// A GGUF model run in-process (`[llm] gguf`, `KEFU_LLM_GGUF`), tried
    /// after the servers. No servers and no file means no model.
    pub gguf: Option<PathBuf>,
    /// Generations at once across tenants.
    pub capacity: usize,
    /// Generations at once for one tenant.
    pub per_tenant: usize,
    /// Generations at once on one backend (0: no cap).
    pub per_backend: usize,
    /// The most tokens one answer may have.
    pub max_tokens: u32,
    /// How long one answer may take in all.
    pub answer_timeout: Duration,
    /// Whether the model checks retrieved passages before they are used
    /// (`[llm] reader`, `KEFU_LLM_READER`; default off: with the small
    /// models measured it refused most answerable questions, BENCHMARKS.md
    /// "The reader").
    pub reader: bool,
    /// How long one reader check may take (`[llm] reader_timeout_ms`).
    pub reader_timeout: Duration,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// `--config`
    pub config_file: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--dev`
    pub dev: bool,
}

/// Where config comes from: the environment (captured, so tests can inject
/// one) and the command line.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `KEFU_*` variables.
    pub env: BTreeMap<String, String>,
    /// Command-line flags.
    pub cli: CliOverrides,
}

impl Sources {
    /// Captures the process environment's `KEFU_*` variables.
    pub fn from_process(cli: CliOverrides) -> Sources {
        let env = std::env::vars()
            .filter(|(k, _)| k.starts_with("KEFU_"))
            .collect();
        Sources { env, cli }
    }

    fn env(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Loads the config file (if any), applies environment and command-line
    /// overrides and validates the result.
    pub fn load(src: &Sources) -> Result<Config, ConfigError> {
        let (raw, file_name) = match src
            .cli
            .config_file
            .clone()
            .or_else(|| src.env("KEFU_CONFIG").map(PathBuf::from))
        {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("config file {}", path.display()), e.to_string()))?;
                (Self::parse_file(&path, &text)?, path.display().to_string())
            }
            None => (RawConfig::default(), String::new()),
        };
        Self::validate(raw, &file_name, src)
    }

    /// Parses TOML text into a [`RawConfig`], naming the file in errors.
    pub fn parse_file(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
        let origin = format!("config file {}", path.display());
        if let Ok(table) = text.parse::<toml::Table>() {
            for secret in ["master_key", "operator_token"] {
                if table.contains_key(secret) {
                    return Err(err(
                        origin,
                        format!(
                            "`{secret}` may not be written in the config file; use the environment (KEFU_{}) or `{secret}_file`",
                            secret.to_ascii_uppercase()
                        ),
                    ));
                }
            }
        }
        toml::from_str(text).map_err(|e| err(origin, e.to_string().trim().to_owned()))
    }

    /// Validates a parsed file against the overrides in `src`: each part of
    /// the file in its own function ([`sections`]).
    pub fn validate(raw: RawConfig, file: &str, src: &Sources) -> Result<Config, ConfigError> {
        let in_file = InFile(file);
        let (listen, public_listen, public_limits) = sections::listeners(
            raw.listen,
            raw.public_listen,
            raw.public_limits_json,
            &in_file,
            src,
        )?;

        let data_dir = if let Some(v) = &src.cli.data_dir {
            v.clone()
        } else if let Some(v) = src.env("KEFU_DATA_DIR") {
            PathBuf::from(v)
        } else {
            raw.data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
        };
        if data_dir.as_os_str().is_empty() {
            return Err(err("data dir", "is empty"));
        }

        let dev = if src.cli.dev {
            true
        } else if let Some(v) = src.env("KEFU_DEV") {
            parse_bool("KEFU_DEV (environment)", v)?
        } else {
            raw.dev.unwrap_or(false)
        };

        let from_file = |field: &str, p: Option<PathBuf>| p.map(|p| (in_file.at(field), p));
        let operator_token = sections::secret(
            src,
            "KEFU_OPERATOR_TOKEN",
            "KEFU_OPERATOR_TOKEN_FILE",
            from_file("operator_token_file", raw.operator_token_file),
        )?
        .map(|(origin, t)| check_token(&origin, &t))
        .transpose()?;
        let master_key = sections::secret(
            src,
            "KEFU_MASTER_KEY",
            "KEFU_MASTER_KEY_FILE",
            from_file("master_key_file", raw.master_key_file),
        )?
        .map(|(origin, k)| parse_master_key(&origin, &k))
        .transpose()?;
        let edge_key = sections::secret(
            src,
            "KEFU_EDGE_KEY",
            "KEFU_EDGE_KEY_FILE",
            from_file("edge_key_file", raw.edge_key_file),
        )?
        .map(|(origin, k)| sections::edge_key(&origin, &k))
        .transpose()?;

        let limits = sections::limits(raw.limits, &in_file)?;
        let (commit, audit, retention) =
            sections::storage(raw.commit, raw.audit, raw.retention, &data_dir, &in_file)?;
        let backup_dir = src
            .env("KEFU_BACKUP_DIR")
            .map(PathBuf::from)
            .or(raw.backup.dir)
            .unwrap_or_else(|| data_dir.join("backups"));
        let (log_format, log_filter) = sections::log(raw.log, src)?;
        let llm = sections::llm(raw.llm, &in_file, src)?;
        let embedder = sections::embedder(raw.embedder, src)?;

        Ok(Config {
            listen,
            public_listen,
            public_limits,
            data_dir,
            operator_token,
            master_key,
            edge_key,
            dev,
            limits,
            commit,
            audit,
            retention,
            backup_dir,
            log_format,
            log_filter,
            llm,
            embedder,
        })
    }

    /// The master key `serve` and the key-handling commands run with: the
    /// configured one, or in dev mode the key in `<data_dir>/dev-master.key`,
    /// generated (mode 0600) on first use. Returns whether it is a dev key so
    /// the caller can warn loudly.
    pub fn master_key_or_dev(&self) -> crate::Result<(Key, bool)> {
        if let Some(k) = &self.master_key {
            return Ok((k.clone(), false));
        }
        if !self.dev {
            return Err(crate::Error::Invalid(
                "no master key: set KEFU_MASTER_KEY or KEFU_MASTER_KEY_FILE (32 hex digits), or run with --dev / KEFU_DEV=1 for a throwaway demo key".into(),
            ));
        }
        crate::store::ensure_dir(&self.data_dir)?;
        let path = self.data_dir.join(DEV_MASTER_KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| crate::Error::io(&path, e))?;
            let key = parse_master_key(&path.display().to_string(), &text)
                .map_err(|e| crate::Error::Invalid(e.to_string()))?;
            return Ok((key, true));
        }
        let key = Key::generate(&mut crate::rng::OsNonces);
        write_private(&path, format!("{}\n", hex::encode(key.expose())).as_bytes())?;
        Ok((key, true))
    }
}

/// Writes a file readable only by its owner (0600), failing if it exists.
fn write_private(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| crate::Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| crate::Error::io(path, e))
}

#[cfg(test)]
mod tests;
