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
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::RawConfig;
pub use secret::Secret;
pub use values::parse_master_key;
use values::{check_token, parse_bool, positive, read_secret_file};

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

    /// Validates a parsed file against the overrides in `src`.
    pub fn validate(raw: RawConfig, file: &str, src: &Sources) -> Result<Config, ConfigError> {
        let in_file = |field: &str| format!("{field} in {file}");

        // listen
        let (listen_s, origin) = if let Some(v) = &src.cli.listen {
            (v.clone(), "--listen (command line)".to_owned())
        } else if let Some(v) = src.env("KEFU_LISTEN") {
            (v.to_owned(), "KEFU_LISTEN (environment)".to_owned())
        } else if let Some(v) = raw.listen {
            (v, in_file("listen"))
        } else {
            (
                DEFAULT_LISTEN.to_owned(),
                "default listen address".to_owned(),
            )
        };
        let listen: SocketAddr = listen_s.parse().map_err(|_| {
            err(
                &origin,
                format!(
                    "`{listen_s}` is not a socket address (expected host:port, e.g. 127.0.0.1:8080)"
                ),
            )
        })?;

        // public listener (in-process edge)
        let (public_s, origin) = if let Some(v) = src.env("KEFU_PUBLIC_LISTEN") {
            (v.to_owned(), "KEFU_PUBLIC_LISTEN (environment)".to_owned())
        } else if let Some(v) = raw.public_listen {
            (v, in_file("public_listen"))
        } else {
            (
                DEFAULT_PUBLIC_LISTEN.to_owned(),
                "default public listen address".to_owned(),
            )
        };
        let public_listen = if public_s.trim().eq_ignore_ascii_case("off") {
            None
        } else {
            let addr: SocketAddr = public_s.parse().map_err(|_| {
                err(
                    &origin,
                    format!("`{public_s}` is not a socket address (host:port) or `off`"),
                )
            })?;
            if addr == listen && addr.port() != 0 {
                return Err(err(
                    &origin,
                    "must differ from the main listen address (or be `off`)",
                ));
            }
            Some(addr)
        };

        let public_limits = match src
            .env("KEFU_PUBLIC_LIMITS_JSON")
            .map(|v| {
                (
                    v.to_owned(),
                    "KEFU_PUBLIC_LIMITS_JSON (environment)".to_owned(),
                )
            })
            .or_else(|| {
                raw.public_limits_json
                    .clone()
                    .map(|v| (v, in_file("public_limits_json")))
            }) {
            None => None,
            Some((json, origin)) => Some(
                serde_json::from_str(&json)
                    .map_err(|e| err(&origin, format!("not a limit policy ({e})")))?,
            ),
        };

        // data dir
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

        // dev mode
        let dev = if src.cli.dev {
            true
        } else if let Some(v) = src.env("KEFU_DEV") {
            parse_bool("KEFU_DEV (environment)", v)?
        } else {
            raw.dev.unwrap_or(false)
        };

        // operator token
        let operator_token = match (
            src.env("KEFU_OPERATOR_TOKEN"),
            src.env("KEFU_OPERATOR_TOKEN_FILE"),
        ) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "KEFU_OPERATOR_TOKEN and KEFU_OPERATOR_TOKEN_FILE (environment)",
                    "set only one of them",
                ));
            }
            (Some(t), None) => Some(check_token("KEFU_OPERATOR_TOKEN (environment)", t)?),
            (None, Some(p)) => {
                let o = "KEFU_OPERATOR_TOKEN_FILE (environment)";
                Some(check_token(o, &read_secret_file(o, Path::new(p))?)?)
            }
            (None, None) => match raw.operator_token_file {
                Some(p) => {
                    let o = in_file("operator_token_file");
                    Some(check_token(&o, &read_secret_file(&o, &p)?)?)
                }
                None => None,
            },
        };

        // master key
        let master_key = match (src.env("KEFU_MASTER_KEY"), src.env("KEFU_MASTER_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "KEFU_MASTER_KEY and KEFU_MASTER_KEY_FILE (environment)",
                    "set only one of them",
                ));
            }
            (Some(k), None) => Some(parse_master_key("KEFU_MASTER_KEY (environment)", k)?),
            (None, Some(p)) => {
                let o = format!("KEFU_MASTER_KEY_FILE (environment) {p}");
                Some(parse_master_key(&o, &read_secret_file(&o, Path::new(p))?)?)
            }
            (None, None) => match raw.master_key_file {
                Some(p) => {
                    let o = format!("master_key_file in {file} ({})", p.display());
                    Some(parse_master_key(&o, &read_secret_file(&o, &p)?)?)
                }
                None => None,
            },
        };

        // edge signing key
        let check_edge = |origin: &str, k: &str| -> Result<Secret, ConfigError> {
            if k.len() < kefu_core::wire::MIN_KEY_LEN {
                return Err(err(
                    origin,
                    format!("must be at least {} bytes", kefu_core::wire::MIN_KEY_LEN),
                ));
            }
            Ok(Secret::new(k.to_owned()))
        };
        let edge_key = match (src.env("KEFU_EDGE_KEY"), src.env("KEFU_EDGE_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "KEFU_EDGE_KEY and KEFU_EDGE_KEY_FILE (environment)",
                    "set only one of them",
                ));
            }
            (Some(k), None) => Some(check_edge("KEFU_EDGE_KEY (environment)", k)?),
            (None, Some(p)) => {
                let o = "KEFU_EDGE_KEY_FILE (environment)";
                Some(check_edge(o, &read_secret_file(o, Path::new(p))?)?)
            }
            (None, None) => match raw.edge_key_file {
                Some(p) => {
                    let o = in_file("edge_key_file");
                    Some(check_edge(&o, &read_secret_file(&o, &p)?)?)
                }
                None => None,
            },
        };

        let l = raw.limits;
        let limits = Limits {
            max_body_bytes: positive(
                &in_file("limits.max_body_bytes"),
                l.max_body_bytes.unwrap_or(64 * 1024),
                16 << 20,
            )?,
            max_message_chars: positive(
                &in_file("limits.max_message_chars"),
                l.max_message_chars
                    .unwrap_or(crate::store::conversations::MAX_TEXT_CHARS),
                crate::store::conversations::MAX_TEXT_CHARS,
            )?,
            tenant_requests_per_minute: positive(
                &in_file("limits.tenant_requests_per_minute"),
                l.tenant_requests_per_minute.unwrap_or(60_000),
                u32::MAX,
            )?,
            failed_auth_per_minute: positive(
                &in_file("limits.failed_auth_per_minute"),
                l.failed_auth_per_minute.unwrap_or(30),
                u32::MAX,
            )?,
        };
        let commit = CommitConfig {
            max_batch: positive(
                &in_file("commit.max_batch"),
                raw.commit.max_batch.unwrap_or(256),
                65_536,
            )?,
            max_wait: Duration::from_micros(raw.commit.max_wait_us.unwrap_or(0).min(100_000)),
        };
        let audit = AuditConfig {
            checkpoint_interval: Duration::from_secs(positive(
                &in_file("audit.checkpoint_interval_secs"),
                raw.audit.checkpoint_interval_secs.unwrap_or(60),
                86_400,
            )?),
            checkpoint_file: raw
                .audit
                .checkpoint_file
                .unwrap_or_else(|| data_dir.join("audit-checkpoints.jsonl")),
        };
        let retention = RetentionConfig {
            sweep_interval: Duration::from_secs(positive(
                &in_file("retention.sweep_interval_secs"),
                raw.retention.sweep_interval_secs.unwrap_or(3600),
                7 * 86_400,
            )?),
            default_days: positive(
                &in_file("retention.default_days"),
                raw.retention.default_days.unwrap_or(365),
                36_500,
            )?,
        };
        let log_format = match src
            .env("KEFU_LOG_FORMAT")
            .map(str::to_owned)
            .or(raw.log.format)
        {
            None => LogFormat::Text,
            Some(f) => match f.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(err(
                        "log format (KEFU_LOG_FORMAT or log.format)",
                        format!("`{other}` is not `text` or `json`"),
                    ));
                }
            },
        };
        let log_filter = src
            .env("KEFU_LOG")
            .map(str::to_owned)
            .or(raw.log.filter)
            .unwrap_or_else(|| "info".to_owned());

        let rl = raw.llm;
        let mut llm_backends = Vec::new();
        for (i, b) in rl.backends.into_iter().enumerate() {
            let api_key = match b.api_key_file {
                None => None,
                Some(f) => Some(Secret::new(
                    std::fs::read_to_string(&f)
                        .map_err(|e| {
                            err(
                                in_file(&format!("llm.backends[{i}].api_key_file")),
                                e.to_string(),
                            )
                        })?
                        .trim()
                        .to_owned(),
                )),
            };
            let ca_pem = match b.ca_file {
                None => None,
                Some(f) => Some(std::fs::read(&f).map_err(|e| {
                    err(
                        in_file(&format!("llm.backends[{i}].ca_file")),
                        format!("{}: {e}", f.display()),
                    )
                })?),
            };
            llm_backends.push(LlmBackendConfig {
                url: b.url,
                model: b.model,
                api_key,
                ca_pem,
            });
        }
        // KEFU_LLM_URL + KEFU_LLM_MODEL: one server, in place of the file's.
        if let Some(url) = src.env("KEFU_LLM_URL") {
            let model = src.env("KEFU_LLM_MODEL").ok_or_else(|| {
                err(
                    "KEFU_LLM_MODEL (environment)",
                    "required with KEFU_LLM_URL".to_owned(),
                )
            })?;
            let api_key = match src.env("KEFU_LLM_API_KEY_FILE") {
                None => None,
                Some(f) => Some(Secret::new(
                    std::fs::read_to_string(f)
                        .map_err(|e| err("KEFU_LLM_API_KEY_FILE (environment)", e.to_string()))?
                        .trim()
                        .to_owned(),
                )),
            };
            let ca_pem = match src.env("KEFU_LLM_CA_FILE") {
                None => None,
                Some(f) => Some(
                    std::fs::read(f)
                        .map_err(|e| err("KEFU_LLM_CA_FILE (environment)", format!("{f}: {e}")))?,
                ),
            };
            llm_backends = vec![LlmBackendConfig {
                url: url.to_owned(),
                model: model.to_owned(),
                api_key,
                ca_pem,
            }];
        }
        for b in &llm_backends {
            if !(b.url.starts_with("http://") || b.url.starts_with("https://"))
                || b.model.trim().is_empty()
            {
                return Err(err(
                    "llm backend",
                    format!("`{}` needs an http(s) URL and a model name", b.url),
                ));
            }
        }
        let gguf = src.env("KEFU_LLM_GGUF").map(PathBuf::from).or(rl.gguf);
        if let Some(p) = &gguf
            && !p.is_file()
        {
            return Err(err(
                "llm.gguf / KEFU_LLM_GGUF",
                format!(
                    "{} is not a file (a GGUF model, e.g. from scripts/fetch-models.sh)",
                    p.display()
                ),
            ));
        }
        let llm = LlmConfig {
            backends: llm_backends,
            gguf,
            capacity: positive(&in_file("llm.capacity"), rl.capacity.unwrap_or(8), 10_000)?,
            per_tenant: positive(
                &in_file("llm.per_tenant"),
                rl.per_tenant.unwrap_or(4),
                10_000,
            )?,
            per_backend: rl.per_backend.unwrap_or(0).min(10_000),
            max_tokens: positive(
                &in_file("llm.max_tokens"),
                rl.max_tokens.unwrap_or(256),
                8192,
            )?,
            answer_timeout: Duration::from_secs(positive(
                &in_file("llm.answer_timeout_secs"),
                rl.answer_timeout_secs.unwrap_or(30),
                600,
            )?),
            reader: match src.env("KEFU_LLM_READER") {
                Some(v) => parse_bool("KEFU_LLM_READER (environment)", v)?,
                None => rl.reader.unwrap_or(false),
            },
            reader_timeout: Duration::from_millis(positive(
                &in_file("llm.reader_timeout_ms"),
                rl.reader_timeout_ms
                    .unwrap_or(crate::answer::reader::READER_TIMEOUT_MS),
                60_000,
            )?),
        };

        let re = raw.embedder;
        let embedder = match (
            src.env("KEFU_EMBEDDER").map(PathBuf::from).or(re.path),
            src.env("KEFU_EMBEDDER_URL").map(str::to_owned).or(re.url),
        ) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "embedder (KEFU_EMBEDDER / embedder.path, KEFU_EMBEDDER_URL / embedder.url)",
                    "set a model path or a server URL, not both".to_owned(),
                ));
            }
            (Some(p), None) => EmbedderConfig::Local(p),
            (None, Some(url)) => EmbedderConfig::Remote {
                url,
                api_key: match src
                    .env("KEFU_EMBEDDER_API_KEY_FILE")
                    .map(PathBuf::from)
                    .or(re.api_key_file)
                {
                    None => None,
                    Some(f) => Some(Secret::new(
                        std::fs::read_to_string(&f)
                            .map_err(|e| {
                                err(
                                    "KEFU_EMBEDDER_API_KEY_FILE / embedder.api_key_file",
                                    format!("{}: {e}", f.display()),
                                )
                            })?
                            .trim()
                            .to_owned(),
                    )),
                },
                ca_pem: match src
                    .env("KEFU_EMBEDDER_CA_FILE")
                    .map(PathBuf::from)
                    .or(re.ca_file)
                {
                    None => None,
                    Some(f) => Some(std::fs::read(&f).map_err(|e| {
                        err(
                            "KEFU_EMBEDDER_CA_FILE / embedder.ca_file",
                            format!("{}: {e}", f.display()),
                        )
                    })?),
                },
                model: src
                    .env("KEFU_EMBEDDER_MODEL")
                    .map(str::to_owned)
                    .or(re.model)
                    .ok_or_else(|| {
                        err(
                            "KEFU_EMBEDDER_MODEL / embedder.model",
                            "required with an embeddings URL".to_owned(),
                        )
                    })?,
            },
            (None, None) => EmbedderConfig::None,
        };

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
