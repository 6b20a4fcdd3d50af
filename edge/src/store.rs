//! The records the edge keeps in the platform's key-value store, and typed
//! access to them.
//!
//! | bucket | key | value |
//! |---|---|---|
//! | `Tenants` | widget key | [`TenantEntry`]: a [`TenantConfig`] frame or "unknown", and when it was fetched |
//! | `Sessions` | conversation id | [`Session`] record (kefu-core's MessagePack) |
//! | `Sessions` | `first {tenant} {visitor} {client_msg_id}` | the conversation id a first message opened (1 h), so its retry does not open another |
//! | `Limits` | `{kind}:{subject}` | [`SlidingWindow`] (three integers) |
//! | `Cache` | [`kefu_core::CacheKey::encode`] | [`CachedAnswer`] |
//! | `Outbox` | `o/{conversation}/{at_ms:013}-{client_msg_id}` | an [`EdgeReport`] frame of one turn |
//! | `State` | `regional` | [`RegionalState`] |
//! | `State` | `outbox` | since when a turn waits in the outbox (ms), a hint for [`crate::pipeline::outbox::after_add`] |
//!
//! Everything is MessagePack through [`kefu_core::codec`] with bounded
//! decoding. A record that does not decode reads as absent (and is
//! overwritten by the next write), so a damaged entry costs a refetch, never
//! a failed request.

use kefu_core::codec::{self, DecodeLimits};
use kefu_core::session::{Citation, Session, Source};
use kefu_core::wire::{EdgeReport, Frame, TenantConfig};
use kefu_core::{KbVersion, SlidingWindow};
use serde::{Deserialize, Serialize};

use crate::platform::{KvBucket, Platform, PlatformError};

/// Bounds for the edge's own small records.
const SMALL: DecodeLimits = DecodeLimits {
    max_bytes: 32 * 1024,
    max_depth: 4,
    max_str_len: 16 * 1024,
    max_bin_len: 16 * 1024,
    max_array_len: 64,
    max_map_len: 16,
};

/// Bounds for a cached answer (text and citations as in a turn).
const ANSWER: DecodeLimits = DecodeLimits {
    max_bytes: 64 * 1024,
    max_depth: 4,
    max_str_len: kefu_core::session::MAX_TURN_TEXT_BYTES,
    max_bin_len: 0,
    max_array_len: 16,
    max_map_len: 16,
};

/// A tenant config as the edge keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TenantEntry {
    /// When the regional service answered, ms since the epoch.
    pub fetched_ms: u64,
    /// The encoded [`TenantConfig`] frame; `None`: no tenant has the key.
    #[serde(with = "serde_bytes")]
    pub frame: Option<Vec<u8>>,
}

impl TenantEntry {
    /// The config, decoded and checked; `None` for an unknown key or a
    /// frame that no longer decodes.
    pub fn config(&self) -> Option<TenantConfig> {
        self.frame
            .as_deref()
            .and_then(|b| TenantConfig::decode(b).ok())
    }
}

/// An answer kept for the repeated question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The answer text (plaintext, but a cacheable one: no PII by rule).
    pub answer: String,
    /// Where the original answer came from.
    pub source: Source,
    /// The original citations.
    pub citations: Vec<Citation>,
    /// The knowledge-base version it rests on.
    pub kb_version: KbVersion,
}

/// What the edge last heard about the regional service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionalState {
    /// The regional-wide brownout level last reported.
    pub brownout: u8,
    /// When it was reported, ms since the epoch.
    pub brownout_at_ms: u64,
    /// Until when the regional service counts as down (a breaker on some
    /// instance opened), ms since the epoch; 0 if not.
    pub down_until_ms: u64,
}

/// The key of [`RegionalState`] in [`KvBucket::State`].
pub const REGIONAL_STATE_KEY: &str = "regional";

async fn get_record<P: Platform, T: serde::de::DeserializeOwned>(
    p: &P,
    bucket: KvBucket,
    key: &str,
    limits: &DecodeLimits,
) -> Result<Option<T>, PlatformError> {
    Ok(p.kv_get(bucket, key)
        .await?
        .and_then(|b| codec::decode(&b, limits).ok()))
}

async fn put_record<P: Platform, T: Serialize>(
    p: &P,
    bucket: KvBucket,
    key: &str,
    value: &T,
    ttl_ms: Option<u64>,
) -> Result<(), PlatformError> {
    let bytes = codec::encode(value).map_err(|e| PlatformError::Kv(e.to_string()))?;
    p.kv_put(bucket, key, &bytes, ttl_ms).await
}

/// Reads a tenant entry.
pub async fn tenant<P: Platform>(
    p: &P,
    widget_key: &str,
) -> Result<Option<TenantEntry>, PlatformError> {
    get_record(p, KvBucket::Tenants, widget_key, &SMALL).await
}

/// Writes a tenant entry.
pub async fn put_tenant<P: Platform>(
    p: &P,
    widget_key: &str,
    entry: &TenantEntry,
    ttl_ms: u64,
) -> Result<(), PlatformError> {
    put_record(p, KvBucket::Tenants, widget_key, entry, Some(ttl_ms)).await
}

/// Reads a session.
pub async fn session<P: Platform>(
    p: &P,
    conversation: &str,
) -> Result<Option<Session>, PlatformError> {
    Ok(p.kv_get(KvBucket::Sessions, conversation)
        .await?
        .and_then(|b| Session::decode(&b).ok()))
}

/// Writes a session.
pub async fn put_session<P: Platform>(
    p: &P,
    s: &Session,
    ttl_ms: u64,
) -> Result<(), PlatformError> {
    let bytes = s.encode().map_err(|e| PlatformError::Kv(e.to_string()))?;
    p.kv_put(
        KvBucket::Sessions,
        s.conversation().as_str(),
        &bytes,
        Some(ttl_ms),
    )
    .await
}

/// Reads a rate-limit window (a fresh one if absent).
pub async fn window<P: Platform>(p: &P, key: &str) -> Result<SlidingWindow, PlatformError> {
    Ok(get_record(p, KvBucket::Limits, key, &SMALL)
        .await?
        .unwrap_or_default())
}

/// A rate-limit window from its stored bytes (a fresh one if they do not
/// decode), for a platform that keeps [`KvBucket::Limits`] itself
/// ([`Platform::check_limits`]).
pub fn decode_window(stored: Option<&[u8]>) -> SlidingWindow {
    stored
        .and_then(|b| codec::decode(b, &SMALL).ok())
        .unwrap_or_default()
}

/// A rate-limit window's stored bytes.
pub fn encode_window(w: &SlidingWindow) -> Result<Vec<u8>, PlatformError> {
    codec::encode(w).map_err(|e| PlatformError::Kv(e.to_string()))
}

/// Writes a rate-limit window.
pub async fn put_window<P: Platform>(
    p: &P,
    key: &str,
    w: &SlidingWindow,
    ttl_ms: u64,
) -> Result<(), PlatformError> {
    put_record(p, KvBucket::Limits, key, w, Some(ttl_ms)).await
}

/// Reads a cached answer.
pub async fn answer<P: Platform>(p: &P, key: &str) -> Result<Option<CachedAnswer>, PlatformError> {
    get_record(p, KvBucket::Cache, key, &ANSWER).await
}

/// Writes a cached answer.
pub async fn put_answer<P: Platform>(
    p: &P,
    key: &str,
    a: &CachedAnswer,
    ttl_ms: u64,
) -> Result<(), PlatformError> {
    put_record(p, KvBucket::Cache, key, a, Some(ttl_ms)).await
}

/// Reads the regional state (the default if absent).
pub async fn regional<P: Platform>(p: &P) -> Result<RegionalState, PlatformError> {
    Ok(get_record(p, KvBucket::State, REGIONAL_STATE_KEY, &SMALL)
        .await?
        .unwrap_or_default())
}

/// Writes the regional state.
pub async fn put_regional<P: Platform>(p: &P, s: &RegionalState) -> Result<(), PlatformError> {
    put_record(p, KvBucket::State, REGIONAL_STATE_KEY, s, None).await
}

/// Reads one outbox entry.
pub async fn outbox_entry<P: Platform>(
    p: &P,
    key: &str,
) -> Result<Option<EdgeReport>, PlatformError> {
    Ok(p.kv_get(KvBucket::Outbox, key)
        .await?
        .and_then(|b| EdgeReport::decode(&b).ok()))
}

/// The key of the outbox's "waiting since" hint in [`KvBucket::State`].
pub const OUTBOX_SINCE_KEY: &str = "outbox";

/// Since when a turn waits in the outbox, if the hint is set.
pub async fn outbox_since<P: Platform>(p: &P) -> Result<Option<u64>, PlatformError> {
    get_record(p, KvBucket::State, OUTBOX_SINCE_KEY, &SMALL).await
}

/// Sets the outbox's "waiting since" hint.
pub async fn put_outbox_since<P: Platform>(p: &P, since_ms: u64) -> Result<(), PlatformError> {
    put_record(p, KvBucket::State, OUTBOX_SINCE_KEY, &since_ms, None).await
}

/// Clears the outbox's "waiting since" hint.
pub async fn clear_outbox_since<P: Platform>(p: &P) -> Result<(), PlatformError> {
    p.kv_delete(KvBucket::State, OUTBOX_SINCE_KEY).await
}
