//! Resolving a widget key to its tenant's config: from the store while
//! fresh, else from the regional service, else (regional unreachable) from
//! the store while not too stale.

use kefu_core::KbVersion;
use kefu_core::wire::{TenantConfig, TenantConfigRequest, check_widget_key, paths};

use super::regional::{self, CallError, CallKind};
use crate::Error;
use crate::edge::Edge;
use crate::platform::Platform;
use crate::store::{self, TenantEntry};

/// The config for `widget_key`, or why there is none.
pub async fn resolve<P: Platform>(edge: &Edge<P>, widget_key: &str) -> Result<TenantConfig, Error> {
    check_widget_key(widget_key).map_err(|_| {
        Error::bad_request(
            "bad_widget_key",
            "widget_key must be 1..=128 printable ASCII bytes",
        )
    })?;
    let p = &edge.platform;
    let now = p.now_ms();
    // The instance's decoded copy while fresh: no store read, no decode.
    if let Some(known) = edge.memo().tenant(widget_key, now) {
        return known.ok_or(Error::UnknownWidgetKey);
    }
    let cached = store::tenant(p, widget_key).await?;
    if let Some(entry) = &cached {
        let config = entry.config();
        let ttl = match &config {
            Some(c) => c.ttl_ms,
            None => edge.config.unknown_widget_ttl_ms,
        };
        if now < entry.fetched_ms.saturating_add(ttl) && now >= entry.fetched_ms {
            edge.memo()
                .put_tenant(widget_key, entry.fetched_ms, ttl, config.clone());
            return config.ok_or(Error::UnknownWidgetKey);
        }
    }
    match fetch(edge, widget_key).await {
        Ok(Some(config)) => Ok(config),
        Ok(None) => Err(Error::UnknownWidgetKey),
        Err(e) => match cached {
            // Degrade: a stale answer is better than none while the
            // regional service cannot be asked (the store's TTL bounds it).
            Some(entry) => entry.config().ok_or(Error::UnknownWidgetKey),
            None if e == CallError::BadFrame => Err(Error::BadUpstream),
            None => Err(Error::Unavailable {
                retry_after_ms: e.retry_after_ms(),
            }),
        },
    }
}

/// Asks the regional service and stores the answer (including "unknown").
async fn fetch<P: Platform>(
    edge: &Edge<P>,
    widget_key: &str,
) -> Result<Option<TenantConfig>, CallError> {
    let req = TenantConfigRequest::new(widget_key);
    let timeout = edge.config.call_timeout_ms;
    let r = regional::call(edge, paths::TENANT_CONFIG, &req, timeout, CallKind::Normal).await?;
    let now = edge.platform.now_ms();
    if r.status == 404 {
        let entry = TenantEntry {
            fetched_ms: now,
            frame: None,
        };
        let ttl = edge.config.unknown_widget_ttl_ms;
        let _ = store::put_tenant(&edge.platform, widget_key, &entry, ttl).await;
        edge.memo().put_tenant(widget_key, now, ttl, None);
        return Ok(None);
    }
    let config: TenantConfig = regional::decode(&r)?;
    if config.widget_key != widget_key {
        return Err(CallError::BadFrame);
    }
    // Copies of conversations erased since the last config go now, whether
    // or not anyone asks about them again.
    let known = match store::tenant(&edge.platform, widget_key).await {
        Ok(Some(entry)) => entry.config().map(|c| c.erased).unwrap_or_default(),
        _ => Vec::new(),
    };
    for conv in config.erased.iter().filter(|c| !known.contains(c)) {
        super::session::forget(edge, conv).await;
    }
    let entry = TenantEntry {
        fetched_ms: now,
        frame: Some(r.body),
    };
    let ttl = config.ttl_ms.saturating_add(edge.config.tenant_stale_ms);
    let _ = store::put_tenant(&edge.platform, widget_key, &entry, ttl).await;
    edge.memo()
        .put_tenant(widget_key, now, config.ttl_ms, Some(config.clone()));
    Ok(Some(config))
}

/// Raises the stored config's knowledge-base version to `kb` (a regional
/// answer rests on a newer version than the config says), so cache lookups
/// move to the new version without waiting for the config's TTL. A lost
/// race only delays that until the next refresh.
pub async fn note_kb_version<P: Platform>(edge: &Edge<P>, config: &TenantConfig, kb: KbVersion) {
    if kb <= config.kb_version {
        return;
    }
    edge.memo().note_kb_version(&config.widget_key, kb);
    let p = &edge.platform;
    let Ok(Some(entry)) = store::tenant(p, &config.widget_key).await else {
        return;
    };
    let Some(mut stored) = entry.config() else {
        return;
    };
    if kb <= stored.kb_version {
        return;
    }
    stored.kb_version = kb;
    let Ok(frame) = kefu_core::wire::Frame::encode(&stored) else {
        return;
    };
    let updated = TenantEntry {
        fetched_ms: entry.fetched_ms,
        frame: Some(frame),
    };
    let ttl = stored.ttl_ms.saturating_add(edge.config.tenant_stale_ms);
    let _ = store::put_tenant(p, &config.widget_key, &updated, ttl).await;
}
