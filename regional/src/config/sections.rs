//! [`Config::validate`](super::Config::validate), one function per part of
//! the file: each takes its raw section and the overrides, and returns the
//! validated values or an error naming where the bad one came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kefu_core::ratelimit::LimitPolicy;

use super::raw::{RawAudit, RawCommit, RawEmbedder, RawLimits, RawLlm, RawLog, RawRetention};
use super::values::{parse_bool, positive, read_secret_file};
use super::{
    AuditConfig, CommitConfig, ConfigError, DEFAULT_LISTEN, DEFAULT_PUBLIC_LISTEN, EmbedderConfig,
    Limits, LlmBackendConfig, LlmConfig, LogFormat, RetentionConfig, Secret, Sources, err,
};

/// Names a field of the config file in errors: `field in kefu.toml`.
pub(super) struct InFile<'a>(pub &'a str);

impl InFile<'_> {
    pub(super) fn at(&self, field: &str) -> String {
        format!("{field} in {}", self.0)
    }
}

/// The main and public listen addresses, and the public API's limit policy.
pub(super) fn listeners(
    listen: Option<String>,
    public_listen: Option<String>,
    public_limits_json: Option<String>,
    file: &InFile<'_>,
    src: &Sources,
) -> Result<(SocketAddr, Option<SocketAddr>, Option<LimitPolicy>), ConfigError> {
    let (listen_s, origin) = if let Some(v) = &src.cli.listen {
        (v.clone(), "--listen (command line)".to_owned())
    } else if let Some(v) = src.env("KEFU_LISTEN") {
        (v.to_owned(), "KEFU_LISTEN (environment)".to_owned())
    } else if let Some(v) = listen {
        (v, file.at("listen"))
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

    let (public_s, origin) = if let Some(v) = src.env("KEFU_PUBLIC_LISTEN") {
        (v.to_owned(), "KEFU_PUBLIC_LISTEN (environment)".to_owned())
    } else if let Some(v) = public_listen {
        (v, file.at("public_listen"))
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

    let limits_json = match src.env("KEFU_PUBLIC_LIMITS_JSON") {
        Some(v) => Some((
            v.to_owned(),
            "KEFU_PUBLIC_LIMITS_JSON (environment)".to_owned(),
        )),
        None => public_limits_json.map(|v| (v, file.at("public_limits_json"))),
    };
    let public_limits = match limits_json {
        None => None,
        Some((json, origin)) => Some(
            serde_json::from_str(&json)
                .map_err(|e| err(&origin, format!("not a limit policy ({e})")))?,
        ),
    };
    Ok((listen, public_listen, public_limits))
}

/// A secret given in the environment (`env`), in a file the environment
/// names (`env_file`), or in a file the config file names (`from_file`:
/// its field and path). Setting both `env` and `env_file` is an error.
/// Returns the secret and where it came from.
pub(super) fn secret(
    src: &Sources,
    env: &str,
    env_file: &str,
    from_file: Option<(String, PathBuf)>,
) -> Result<Option<(String, String)>, ConfigError> {
    match (src.env(env), src.env(env_file)) {
        (Some(_), Some(_)) => Err(err(
            format!("{env} and {env_file} (environment)"),
            "set only one of them",
        )),
        (Some(v), None) => Ok(Some((format!("{env} (environment)"), v.to_owned()))),
        (None, Some(p)) => {
            let origin = format!("{env_file} (environment)");
            let v = read_secret_file(&origin, Path::new(p))?;
            Ok(Some((origin, v)))
        }
        (None, None) => match from_file {
            Some((origin, p)) => {
                let v = read_secret_file(&origin, &p)?;
                Ok(Some((origin, v)))
            }
            None => Ok(None),
        },
    }
}

/// The edge signing key: at least [`kefu_core::wire::MIN_KEY_LEN`] bytes.
pub(super) fn edge_key(origin: &str, k: &str) -> Result<Secret, ConfigError> {
    if k.len() < kefu_core::wire::MIN_KEY_LEN {
        return Err(err(
            origin,
            format!("must be at least {} bytes", kefu_core::wire::MIN_KEY_LEN),
        ));
    }
    Ok(Secret::new(k.to_owned()))
}

/// `[limits]`.
pub(super) fn limits(l: RawLimits, file: &InFile<'_>) -> Result<Limits, ConfigError> {
    let max_text = crate::store::conversations::MAX_TEXT_CHARS;
    Ok(Limits {
        max_body_bytes: positive(
            &file.at("limits.max_body_bytes"),
            l.max_body_bytes.unwrap_or(64 * 1024),
            16 << 20,
        )?,
        max_message_chars: positive(
            &file.at("limits.max_message_chars"),
            l.max_message_chars.unwrap_or(max_text),
            max_text,
        )?,
        tenant_requests_per_minute: positive(
            &file.at("limits.tenant_requests_per_minute"),
            l.tenant_requests_per_minute.unwrap_or(60_000),
            u32::MAX,
        )?,
        failed_auth_per_minute: positive(
            &file.at("limits.failed_auth_per_minute"),
            l.failed_auth_per_minute.unwrap_or(30),
            u32::MAX,
        )?,
    })
}

/// `[commit]`, `[audit]` and `[retention]`: the storage's background work.
pub(super) fn storage(
    c: RawCommit,
    a: RawAudit,
    r: RawRetention,
    data_dir: &Path,
    file: &InFile<'_>,
) -> Result<(CommitConfig, AuditConfig, RetentionConfig), ConfigError> {
    let commit = CommitConfig {
        max_batch: positive(
            &file.at("commit.max_batch"),
            c.max_batch.unwrap_or(256),
            65_536,
        )?,
        max_wait: Duration::from_micros(c.max_wait_us.unwrap_or(0).min(100_000)),
    };
    let audit = AuditConfig {
        checkpoint_interval: Duration::from_secs(positive(
            &file.at("audit.checkpoint_interval_secs"),
            a.checkpoint_interval_secs.unwrap_or(60),
            86_400,
        )?),
        checkpoint_file: a
            .checkpoint_file
            .unwrap_or_else(|| data_dir.join("audit-checkpoints.jsonl")),
    };
    let retention = RetentionConfig {
        sweep_interval: Duration::from_secs(positive(
            &file.at("retention.sweep_interval_secs"),
            r.sweep_interval_secs.unwrap_or(3600),
            7 * 86_400,
        )?),
        default_days: positive(
            &file.at("retention.default_days"),
            r.default_days.unwrap_or(365),
            36_500,
        )?,
    };
    Ok((commit, audit, retention))
}

/// `[log]`, `KEFU_LOG_FORMAT` and `KEFU_LOG`.
pub(super) fn log(l: RawLog, src: &Sources) -> Result<(LogFormat, String), ConfigError> {
    let format = match src.env("KEFU_LOG_FORMAT").map(str::to_owned).or(l.format) {
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
    let filter = src
        .env("KEFU_LOG")
        .map(str::to_owned)
        .or(l.filter)
        .unwrap_or_else(|| "info".to_owned());
    Ok((format, filter))
}

/// A CA certificate (PEM) file, trusted besides the system's store.
fn read_ca(origin: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| err(origin, format!("cannot read {}: {e}", path.display())))
}

/// `[llm]` and `[[llm.backends]]`; `KEFU_LLM_URL` with `KEFU_LLM_MODEL`
/// names one server in place of the file's list.
pub(super) fn llm(rl: RawLlm, file: &InFile<'_>, src: &Sources) -> Result<LlmConfig, ConfigError> {
    let mut backends = Vec::new();
    for (i, b) in rl.backends.into_iter().enumerate() {
        let field = |f: &str| file.at(&format!("llm.backends[{i}].{f}"));
        backends.push(LlmBackendConfig {
            url: b.url,
            model: b.model,
            api_key: match b.api_key_file {
                None => None,
                Some(p) => Some(Secret::new(read_secret_file(&field("api_key_file"), &p)?)),
            },
            ca_pem: match b.ca_file {
                None => None,
                Some(p) => Some(read_ca(&field("ca_file"), &p)?),
            },
        });
    }
    if let Some(url) = src.env("KEFU_LLM_URL") {
        let model = src.env("KEFU_LLM_MODEL").ok_or_else(|| {
            err(
                "KEFU_LLM_MODEL (environment)",
                "required with KEFU_LLM_URL".to_owned(),
            )
        })?;
        let api_key = match src.env("KEFU_LLM_API_KEY_FILE") {
            None => None,
            Some(p) => Some(Secret::new(read_secret_file(
                "KEFU_LLM_API_KEY_FILE (environment)",
                Path::new(p),
            )?)),
        };
        let ca_pem = match src.env("KEFU_LLM_CA_FILE") {
            None => None,
            Some(p) => Some(read_ca("KEFU_LLM_CA_FILE (environment)", Path::new(p))?),
        };
        backends = vec![LlmBackendConfig {
            url: url.to_owned(),
            model: model.to_owned(),
            api_key,
            ca_pem,
        }];
    }
    for b in &backends {
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
    Ok(LlmConfig {
        backends,
        gguf,
        capacity: positive(&file.at("llm.capacity"), rl.capacity.unwrap_or(8), 10_000)?,
        per_tenant: positive(
            &file.at("llm.per_tenant"),
            rl.per_tenant.unwrap_or(4),
            10_000,
        )?,
        per_backend: rl.per_backend.unwrap_or(0).min(10_000),
        max_tokens: positive(
            &file.at("llm.max_tokens"),
            rl.max_tokens.unwrap_or(256),
            8192,
        )?,
        answer_timeout: Duration::from_secs(positive(
            &file.at("llm.answer_timeout_secs"),
            rl.answer_timeout_secs.unwrap_or(30),
            600,
        )?),
        reader: match src.env("KEFU_LLM_READER") {
            Some(v) => parse_bool("KEFU_LLM_READER (environment)", v)?,
            None => rl.reader.unwrap_or(false),
        },
        reader_timeout: Duration::from_millis(positive(
            &file.at("llm.reader_timeout_ms"),
            rl.reader_timeout_ms
                .unwrap_or(crate::answer::reader::READER_TIMEOUT_MS),
            60_000,
        )?),
    })
}

/// `[embedder]`: an in-process model directory or an embeddings server,
/// not both; neither is lexical search only.
pub(super) fn embedder(re: RawEmbedder, src: &Sources) -> Result<EmbedderConfig, ConfigError> {
    let path = src.env("KEFU_EMBEDDER").map(PathBuf::from).or(re.path);
    let url = src.env("KEFU_EMBEDDER_URL").map(str::to_owned).or(re.url);
    Ok(match (path, url) {
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
                Some(p) => Some(Secret::new(read_secret_file(
                    "KEFU_EMBEDDER_API_KEY_FILE / embedder.api_key_file",
                    &p,
                )?)),
            },
            ca_pem: match src
                .env("KEFU_EMBEDDER_CA_FILE")
                .map(PathBuf::from)
                .or(re.ca_file)
            {
                None => None,
                Some(p) => Some(read_ca("KEFU_EMBEDDER_CA_FILE / embedder.ca_file", &p)?),
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
    })
}
