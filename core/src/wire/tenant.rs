//! Tenant resolution: the edge asks the regional service which tenant a
//! widget key belongs to and how to treat its visitors.
//!
//! [`TenantConfigRequest`] goes `POST` [`super::paths::TENANT_CONFIG`],
//! signed like every edge -> regional request; the answer is a
//! [`TenantConfig`] (HTTP 200) or HTTP 404 for a widget key no tenant has.
//! The edge keeps the answer for [`TenantConfig::ttl_ms`] and may keep
//! using a stale copy while the regional service is unreachable.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::frames::check_brownout;
use super::{Frame, WIRE_VERSION};
use crate::codec::DecodeLimits;
use crate::ratelimit::LimitOverrides;
use crate::{ConversationId, Error, KbVersion, Result, TenantId};

/// The longest widget key, in bytes.
pub const MAX_WIDGET_KEY_BYTES: usize = 128;
/// The most allowed origins one tenant may list.
pub const MAX_ORIGINS: usize = 32;
/// The longest allowed origin, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 256;
/// The longest visitor-signature key, in bytes.
pub const MAX_VISITOR_KEY_BYTES: usize = 256;
/// The shortest visitor-signature key, in bytes.
pub const MIN_VISITOR_KEY_BYTES: usize = 16;
/// The most recently erased conversations one config lists.
pub const MAX_ERASED_LISTED: usize = 256;
/// How far back a config lists erased conversations, ms: as long as an
/// edge keeps a session copy.
pub const ERASED_LISTED_MS: u64 = 24 * 3_600_000;

/// Checks a widget key: 1..=[`MAX_WIDGET_KEY_BYTES`] bytes of printable
/// ASCII without spaces (safe in store keys and URLs).
pub fn check_widget_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_WIDGET_KEY_BYTES {
        return Err(Error::Invalid("widget key must be 1..=128 bytes"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid("widget key must be printable ASCII"));
    }
    Ok(())
}

/// "Which tenant owns this widget key?"
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfigRequest {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The public key the widget was embedded with.
    pub widget_key: String,
}

impl TenantConfigRequest {
    /// A request at [`WIRE_VERSION`].
    pub fn new(widget_key: impl Into<String>) -> TenantConfigRequest {
        TenantConfigRequest {
            v: WIRE_VERSION,
            widget_key: widget_key.into(),
        }
    }
}

impl Frame for TenantConfigRequest {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 512,
        max_depth: 2,
        max_str_len: MAX_WIDGET_KEY_BYTES,
        max_bin_len: 0,
        max_array_len: 0,
        max_map_len: 8,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        check_widget_key(&self.widget_key)
    }
}

/// How the tenant's visitors sign their ids (the host page's server computes
/// `hex(HMAC(visitor_key, visitor_id))` and hands it to the widget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitorSigAlg {
    /// HMAC-SHA256 (RFC 2104 over FIPS 180-4): what most web stacks have.
    #[default]
    HmacSha256,
    /// HMAC-SM3 (RFC 2104 over GB/T 32905-2016).
    HmacSm3,
}

/// What the edge needs to know about one tenant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// Frame version: [`WIRE_VERSION`].
    pub v: u8,
    /// The tenant.
    pub tenant: TenantId,
    /// The widget key this answers for (echoed, so a cached answer can be
    /// checked against the key it is stored under).
    pub widget_key: String,
    /// Browser origins (`https://shop.example`) allowed to call the public
    /// API; compared exactly (ASCII case-insensitive). Empty: none.
    pub allowed_origins: Vec<String>,
    /// Whether every chat request must carry a valid `visitor_sig`.
    pub require_signed_visitor: bool,
    /// The key visitor signatures are checked with. A secret: never in
    /// `Debug` output. Required when `require_signed_visitor` is set.
    #[serde(with = "serde_bytes")]
    pub visitor_key: Option<Vec<u8>>,
    /// The MAC `visitor_key` is used with.
    pub visitor_sig_alg: VisitorSigAlg,
    /// Whether answers may be cached and replayed to other visitors.
    pub cache_answers: bool,
    /// Whether the (regional) semantic cache may be used.
    pub semantic_cache: bool,
    /// The tenant's changes to the deployment's rate limits.
    pub limits: LimitOverrides,
    /// The tenant's newest published knowledge-base version.
    pub kb_version: KbVersion,
    /// The tenant's brownout level, 0..=[`super::MAX_BROWNOUT`].
    pub brownout: u8,
    /// How long the edge may use this answer before asking again, ms.
    pub ttl_ms: u64,
    /// Conversations of this tenant erased on request within
    /// [`ERASED_LISTED_MS`], newest first, at most [`MAX_ERASED_LISTED`]:
    /// an edge drops its copies of them and treats them as erased. Added
    /// in v1 (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<ConversationId>,
}

impl Frame for TenantConfig {
    const LIMITS: DecodeLimits = DecodeLimits {
        max_bytes: 32 * 1024,
        max_depth: 4,
        max_str_len: MAX_ORIGIN_BYTES,
        max_bin_len: MAX_VISITOR_KEY_BYTES,
        max_array_len: MAX_ERASED_LISTED,
        max_map_len: 32,
    };
    fn version(&self) -> u8 {
        self.v
    }
    fn check(&self) -> Result<()> {
        check_widget_key(&self.widget_key)?;
        check_brownout(self.brownout)?;
        if self.allowed_origins.len() > MAX_ORIGINS {
            return Err(Error::TooLarge("more than MAX_ORIGINS origins"));
        }
        if self.erased.len() > MAX_ERASED_LISTED {
            return Err(Error::TooLarge("more than MAX_ERASED_LISTED erased"));
        }
        if self
            .allowed_origins
            .iter()
            .any(|o| o.is_empty() || o.len() > MAX_ORIGIN_BYTES)
        {
            return Err(Error::Invalid("origin must be 1..=256 bytes"));
        }
        match &self.visitor_key {
            Some(k) if k.len() < MIN_VISITOR_KEY_BYTES || k.len() > MAX_VISITOR_KEY_BYTES => {
                Err(Error::InvalidKey("visitor key must be 16..=256 bytes"))
            }
            None if self.require_signed_visitor => {
                Err(Error::Invalid("require_signed_visitor needs a visitor_key"))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantConfig")
            .field("v", &self.v)
            .field("tenant", &self.tenant)
            .field("widget_key", &self.widget_key)
            .field("allowed_origins", &self.allowed_origins)
            .field("require_signed_visitor", &self.require_signed_visitor)
            .field(
                "visitor_key",
                &self.visitor_key.as_ref().map(|_| "<redacted>"),
            )
            .field("visitor_sig_alg", &self.visitor_sig_alg)
            .field("cache_answers", &self.cache_answers)
            .field("semantic_cache", &self.semantic_cache)
            .field("limits", &self.limits)
            .field("kb_version", &self.kb_version)
            .field("brownout", &self.brownout)
            .field("ttl_ms", &self.ttl_ms)
            .field("erased", &self.erased.len())
            .finish()
    }
}
