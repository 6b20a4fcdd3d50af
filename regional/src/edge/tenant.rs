//! `POST` [`paths::TENANT_CONFIG`](kefu_core::wire::paths::TENANT_CONFIG):
//! which tenant a widget key belongs to, and how the edge treats its
//! visitors.
//!
//! Built from the tenant's settings: allowed origins, the signed-visitor
//! requirement and its secret (HMAC-SHA256 over the visitor id, the host
//! page's usual tool), and the cache switch (`semantic_cache_allowed`: the
//! edge's cache of repeated questions; the regional service's reuse across
//! paraphrases also needs the tenant's opt-in, `similar_answers`). The config names the tenant's current knowledge-base
//! version; the edge's cache keys carry it, so after a publish old answers
//! become unreachable as soon as the edge sees the new version (a fresh
//! config, at most [`TENANT_CONFIG_TTL_MS`] later, or any answer resting on
//! the new version, whichever comes first).

use kefu_core::wire::{TenantConfig, TenantConfigRequest, VisitorSigAlg, WIRE_VERSION};
use kefu_core::{KbVersion, ratelimit::LimitOverrides};

use crate::store::Storage;
use crate::{Error, Result};

/// How long the edge may keep a tenant config before asking again, ms.
/// Settings changes reach the edge within this time.
pub const TENANT_CONFIG_TTL_MS: u64 = 60_000;

/// The config for `req.widget_key`; `None` for a key no tenant has.
pub async fn tenant_config(
    storage: &Storage,
    req: TenantConfigRequest,
) -> Result<Option<TenantConfig>> {
    let Some(t) = storage.for_widget_key(req.widget_key.clone()).await? else {
        return Ok(None);
    };
    let kb_version = KbVersion(storage.kb_version(t.id.as_str()).await?);
    let erased = storage
        .recently_erased(t.id.as_str().to_owned(), crate::store::now_ms())
        .await?;
    let visitor_key = t.identity_secret.as_ref().map(|s| s.as_bytes().to_vec());
    let config = TenantConfig {
        v: WIRE_VERSION,
        tenant: t.id,
        widget_key: req.widget_key,
        allowed_origins: t.settings.allowed_origins,
        require_signed_visitor: t.settings.require_signed_identity,
        visitor_key,
        visitor_sig_alg: VisitorSigAlg::HmacSha256,
        cache_answers: t.settings.semantic_cache_allowed,
        semantic_cache: t.settings.semantic_cache_allowed,
        limits: LimitOverrides::default(),
        kb_version,
        brownout: 0,
        ttl_ms: TENANT_CONFIG_TTL_MS,
        erased,
    };
    kefu_core::wire::Frame::check(&config).map_err(|e| {
        // Stored settings the frame cannot carry: a bug or an old record.
        tracing::error!(error = %e, "a tenant's settings do not fit a TenantConfig frame");
        Error::Core(e)
    })?;
    Ok(Some(config))
}
