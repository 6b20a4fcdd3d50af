//! The edge's configuration: where the regional service is, the key frames
//! are signed with, the widget bytes, limits and timeouts. Built once per
//! instance (from platform settings or by hand), validated, then read-only.

use core::fmt;
use std::sync::Arc;

use kefu_core::overload::BreakerConfig;
use kefu_core::ratelimit::LimitPolicy;
use kefu_core::wire::{self, MAX_SESSION_WAIT_MS};

use crate::platform::Platform;

/// Names of the platform settings [`EdgeConfig::from_platform`] reads.
/// They are valid Spin variable names and Workers binding names.
pub mod settings {
    /// The regional service's base URL, e.g. `https://cn-east.kefu.example`.
    pub const REGIONAL_URL: &str = "regional_url";
    /// The key edge -> regional frames are signed with (a secret; at least
    /// 16 bytes; its UTF-8 bytes are the HMAC key, as in kefu-regional).
    pub const REGIONAL_SECRET: &str = "regional_secret";
    /// Optional: the deployment's rate limits as JSON
    /// ([`kefu_core::ratelimit::LimitPolicy`]); defaults otherwise.
    pub const LIMITS_JSON: &str = "limits_json";
    /// Optional: the circuit breaker as JSON
    /// ([`kefu_core::overload::BreakerConfig`]); defaults otherwise.
    pub const BREAKER_JSON: &str = "breaker_json";
    /// Optional: how many turns answered at the edge an instance queues
    /// before it reports them (1..=64; default 16). 1 reports each at once:
    /// for a store that is neither durable nor shared (plain `wasmtime
    /// serve`), where a queued turn dies with its instance.
    pub const OUTBOX_BATCH: &str = "outbox_batch";
}

/// A configuration problem, naming the setting. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting at fault.
    pub setting: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// A secret string; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The widget script and its content hash.
#[derive(Clone, PartialEq, Eq)]
pub struct WidgetAsset {
    bytes: Arc<[u8]>,
    hash: String,
}

/// The chat widget (`edge/widget/kefu-widget.js`), compiled in so every
/// platform serves the same bytes under the same content hash.
const WIDGET: &[u8] = include_bytes!("../widget/kefu-widget.js");

impl WidgetAsset {
    /// A widget from its bytes; the hash is the first 16 hex digits of
    /// their SM3 digest.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> WidgetAsset {
        let bytes = bytes.into();
        let digest = wire::body_digest(&bytes);
        let hash = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        WidgetAsset { bytes, hash }
    }

    /// The bundled chat widget.
    pub fn bundled() -> WidgetAsset {
        WidgetAsset::new(WIDGET)
    }

    /// The script.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The content hash: pages load `/widget.js?v=<hash>`.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl fmt::Debug for WidgetAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WidgetAsset")
            .field("len", &self.bytes.len())
            .field("hash", &self.hash)
            .finish()
    }
}

/// Everything the edge is configured with.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// The regional service's base URL, without a trailing `/`.
    pub regional_url: String,
    /// The edge <-> regional signing key.
    pub regional_secret: Secret,
    /// The widget script served at `/widget.js`.
    pub widget: WidgetAsset,
    /// The deployment's rate limits (tenants may override them).
    pub limits: LimitPolicy,
    /// The circuit breaker around regional calls.
    pub breaker: BreakerConfig,
    /// Deadline of a forwarded turn (the regional may run an LLM), ms.
    pub turn_timeout_ms: u64,
    /// Deadline of other regional calls (config, session, report), ms.
    pub call_timeout_ms: u64,
    /// How long a long poll waits for new messages, ms.
    pub poll_wait_ms: u32,
    /// How long a tenant config may still be used, past its TTL, while the
    /// regional service cannot be asked again, ms.
    pub tenant_stale_ms: u64,
    /// How long "no tenant has this widget key" is remembered, ms.
    pub unknown_widget_ttl_ms: u64,
    /// How long an idle session stays in the edge store, ms.
    pub session_ttl_ms: u64,
    /// How long a brownout level reported by the regional service counts
    /// without being reported again, ms.
    pub brownout_fresh_ms: u64,
    /// Turns answered at the edge an instance queues before it reports
    /// them ([`settings::OUTBOX_BATCH`]); 1 = each at once.
    pub outbox_batch: usize,
}

impl EdgeConfig {
    /// A configuration with the defaults: bundled widget, default
    /// limits and breaker, 15 s turn deadline, 3 s for other calls, 25 s
    /// long polls.
    pub fn new(regional_url: &str, regional_secret: Secret) -> Result<EdgeConfig, ConfigError> {
        let c = EdgeConfig {
            regional_url: regional_url.trim_end_matches('/').to_owned(),
            regional_secret,
            widget: WidgetAsset::bundled(),
            limits: LimitPolicy::default(),
            breaker: BreakerConfig::default(),
            turn_timeout_ms: 15_000,
            call_timeout_ms: 3_000,
            poll_wait_ms: 25_000,
            tenant_stale_ms: 24 * 3_600_000,
            unknown_widget_ttl_ms: 60_000,
            session_ttl_ms: 24 * 3_600_000,
            brownout_fresh_ms: 30_000,
            outbox_batch: 16,
        };
        c.validate()?;
        Ok(c)
    }

    /// Reads the [`settings`] from the platform and validates them.
    pub async fn from_platform<P: Platform>(p: &P) -> Result<EdgeConfig, ConfigError> {
        let url = p
            .setting(settings::REGIONAL_URL)
            .await
            .ok_or_else(|| err(settings::REGIONAL_URL, "not set"))?;
        let secret = p
            .setting(settings::REGIONAL_SECRET)
            .await
            .ok_or_else(|| err(settings::REGIONAL_SECRET, "not set"))?;
        let mut c = EdgeConfig::new(&url, Secret::new(secret))?;
        if let Some(j) = p.setting(settings::LIMITS_JSON).await {
            c.limits =
                serde_json::from_str(&j).map_err(|e| err(settings::LIMITS_JSON, e.to_string()))?;
        }
        if let Some(j) = p.setting(settings::BREAKER_JSON).await {
            c.breaker =
                serde_json::from_str(&j).map_err(|e| err(settings::BREAKER_JSON, e.to_string()))?;
        }
        if let Some(n) = p.setting(settings::OUTBOX_BATCH).await {
            c.outbox_batch = n
                .trim()
                .parse()
                .map_err(|_| err(settings::OUTBOX_BATCH, "must be a number"))?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let u = &self.regional_url;
        if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() < 10 {
            return Err(err(settings::REGIONAL_URL, "must be an http(s) URL"));
        }
        if self.regional_secret.expose().len() < wire::MIN_KEY_LEN {
            return Err(err(settings::REGIONAL_SECRET, "must be at least 16 bytes"));
        }
        self.breaker
            .validate()
            .map_err(|e| err(settings::BREAKER_JSON, e.to_string()))?;
        if self.poll_wait_ms > MAX_SESSION_WAIT_MS {
            return Err(err("poll_wait_ms", "at most 30 000"));
        }
        if self.turn_timeout_ms == 0 || self.call_timeout_ms == 0 {
            return Err(err("timeouts", "must be non-zero"));
        }
        if !(1..=wire::MAX_REPORT_TURNS).contains(&self.outbox_batch) {
            return Err(err(settings::OUTBOX_BATCH, "must be 1..=64"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_and_bad_values_are_named() {
        let c =
            EdgeConfig::new("https://r.example/", Secret::new("0123456789abcdef-secret")).unwrap();
        assert_eq!(c.regional_url, "https://r.example");
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        let e = EdgeConfig::new("https://r.example", Secret::new("short")).unwrap_err();
        assert_eq!(e.setting, settings::REGIONAL_SECRET);
        let e = EdgeConfig::new("ftp://r.example", Secret::new("0123456789abcdef")).unwrap_err();
        assert_eq!(e.setting, settings::REGIONAL_URL);
    }

    #[test]
    fn the_widget_hash_follows_the_bytes() {
        let a = WidgetAsset::new(&b"console.log(1)"[..]);
        let b = WidgetAsset::new(&b"console.log(2)"[..]);
        assert_eq!(a.hash().len(), 16);
        assert_ne!(a.hash(), b.hash());
        let w = WidgetAsset::bundled();
        assert!(
            std::str::from_utf8(w.bytes())
                .unwrap()
                .contains("window.Kefu")
        );
    }
}
