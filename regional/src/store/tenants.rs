//! Tenants: creation, listing, API-key rotation, settings, deletion, and
//! authenticating an API key.
//!
//! API keys are 256-bit random strings shown once at creation or rotation;
//! only their SM3 digest is stored. Lookup goes through the digest, and the
//! stored digest is compared in constant time ([`subtle`]).

use redb::{ReadTransaction, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::{WriteCtx, keys, records, tables};
use crate::crypto;
use crate::{Error, Result};
use kefu_core::TenantId;

/// Prefix of secret API keys.
pub const API_KEY_PREFIX: &str = "kefu_sk_";
/// Prefix of public widget keys.
pub const WIDGET_KEY_PREFIX: &str = "kefu_pk_";
/// Longest tenant display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most allowed widget origins per tenant.
pub const MAX_ORIGINS: usize = 32;

/// Per-tenant widget settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantSettings {
    /// Origins (`https://shop.example`) allowed to embed the widget.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether the edge must see an HMAC-signed visitor id.
    #[serde(default)]
    pub require_signed_identity: bool,
    /// Days to keep conversations; `null` uses the service default.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Whether answers may be cached at all: the edge's cache of repeated
    /// questions (same words), and, with `similar_answers`, reuse across
    /// paraphrases. Off: every question reaches the knowledge base.
    #[serde(default = "yes")]
    pub semantic_cache_allowed: bool,
    /// Opt-in: reuse a model's answer for a question asked again in other
    /// words (query embeddings at least `SIMILAR_MIN_COSINE_E5` apart, same
    /// knowledge-base version and language). Needs an embedding model and
    /// `semantic_cache_allowed`.
    #[serde(default)]
    pub similar_answers: bool,
}

fn yes() -> bool {
    true
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            allowed_origins: Vec::new(),
            require_signed_identity: false,
            retention_days: None,
            semantic_cache_allowed: true,
            similar_answers: false,
        }
    }
}

/// A tenant as stored (JSON in [`tables::TENANTS`]). No conversation content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Display name.
    pub name: String,
    /// SM3 of the API key, hex.
    pub api_key_hash: String,
    /// Public widget key.
    pub widget_key: String,
    /// Widget settings.
    pub settings: TenantSettings,
    /// Created, ms since the epoch.
    pub created_ms: u64,
    /// The data key new records are sealed with.
    pub data_key_version: u32,
    /// The visitor-identity secret, sealed under the data key (hex).
    #[serde(default)]
    pub identity_secret: Option<String>,
}

/// A tenant as the operator API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantInfo {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Public widget key.
    pub widget_key: String,
    /// Created, ms since the epoch.
    pub created_ms: u64,
    /// Current data-key version.
    pub data_key_version: u32,
    /// Widget settings.
    pub settings: TenantSettings,
    /// Whether a visitor-identity secret is set (the secret is never shown).
    pub identity_secret_set: bool,
}

impl TenantInfo {
    fn from_record(id: &str, r: &TenantRecord) -> TenantInfo {
        TenantInfo {
            id: id.to_owned(),
            name: r.name.clone(),
            widget_key: r.widget_key.clone(),
            created_ms: r.created_ms,
            data_key_version: r.data_key_version,
            settings: r.settings.clone(),
            identity_secret_set: r.identity_secret.is_some(),
        }
    }
}

/// A settings change; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// New allowed origins (`https://host[:port]`).
    #[schema(max_items = 32, inline)]
    pub allowed_origins: Option<Vec<Origin>>,
    /// Require a signed visitor identity.
    pub require_signed_identity: Option<bool>,
    /// Retention in days (1..=36500).
    #[serde(default, deserialize_with = "crate::json_int::opt_u32")]
    #[schema(minimum = 1, maximum = 36500)]
    pub retention_days: Option<u32>,
    /// Allow answer caching.
    pub semantic_cache_allowed: Option<bool>,
    /// Reuse answers across paraphrased questions (opt-in).
    pub similar_answers: Option<bool>,
    /// New visitor-identity secret (16..=256 characters); write-only.
    #[schema(min_length = 16, max_length = 256)]
    pub identity_secret: Option<String>,
}

/// A web origin, `http(s)://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^https?://[A-Za-z0-9.:\\[\\]-]{1,253}$")]
pub struct Origin(pub String);

/// Checks a tenant id for use in URLs and keys: letters, digits, `-`, `_`,
/// `.`; not starting with `_` or `.` (reserved for the service).
pub fn check_tenant_id(id: &str) -> Result<TenantId> {
    let t = TenantId::new(id).map_err(|e| Error::Invalid(format!("tenant id: {e}")))?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::Invalid(
            "tenant id may contain only letters, digits, '-', '_' and '.'".into(),
        ));
    }
    if id.starts_with(['_', '.']) {
        return Err(Error::Invalid(
            "tenant id may not start with '_' or '.'".into(),
        ));
    }
    Ok(t)
}

fn check_name(name: &str) -> Result<()> {
    let bad = |c: char| c.is_control();
    if name.chars().all(super::records::is_blank)
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(bad)
    {
        return Err(Error::Invalid(format!(
            "name must be 1..={MAX_NAME_CHARS} characters, not blank, without control characters"
        )));
    }
    Ok(())
}

fn check_origin(o: &str) -> Result<()> {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    let ok = match rest {
        Some(host) => {
            !host.is_empty()
                && host.len() <= 253
                && host.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
                })
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "allowed origins must look like https://host[:port]".into(),
        ))
    }
}

fn hash_api_key(key: &str) -> [u8; 32] {
    crypto::sm3(key.as_bytes())
}

fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", crate::rng::hex_token(32))
}

fn get_record<T>(t: &T, id: &str) -> Result<Option<TenantRecord>>
where
    T: ReadableTable<&'static str, &'static [u8]>,
{
    match t.get(id)? {
        None => Ok(None),
        Some(g) => serde_json::from_slice(g.value())
            .map(Some)
            .map_err(|e| Error::Core(kefu_core::Error::Decode(format!("tenant record: {e}")))),
    }
}

fn put_record(ctx: &WriteCtx<'_>, id: &str, r: &TenantRecord) -> Result<()> {
    let bytes = serde_json::to_vec(r).map_err(|e| Error::Invalid(e.to_string()))?;
    ctx.txn
        .open_table(tables::TENANTS)?
        .insert(id, bytes.as_slice())?;
    Ok(())
}

/// Reads one tenant's record.
pub fn get(txn: &ReadTransaction, id: &str) -> Result<Option<TenantRecord>> {
    get_record(&txn.open_table(tables::TENANTS)?, id)
}

/// Reads one tenant's record inside a write.
pub fn get_in(ctx: &WriteCtx<'_>, id: &str) -> Result<Option<TenantRecord>> {
    get_record(&ctx.txn.open_table(tables::TENANTS)?, id)
}

/// Creates a tenant with fresh keys. Returns its info and the API key, which
/// is not stored and cannot be shown again.
pub fn create(ctx: &WriteCtx<'_>, id: &str, name: &str) -> Result<(TenantInfo, String)> {
    let tid = check_tenant_id(id)?;
    check_name(name)?;
    ctx.master()?;
    if get_in(ctx, tid.as_str())?.is_some() {
        return Err(Error::TenantExists);
    }
    if ctx.txn.open_table(DELETING)?.get(tid.as_str())?.is_some() {
        return Err(Error::Conflict(format!(
            "tenant {tid} is still being deleted; try again when its deletion has finished"
        )));
    }
    let api_key = new_api_key();
    let widget_key = format!("{WIDGET_KEY_PREFIX}{}", crate::rng::hex_token(16));
    let rec = TenantRecord {
        name: name.trim().to_owned(),
        api_key_hash: hex::encode(hash_api_key(&api_key)),
        widget_key: widget_key.clone(),
        settings: TenantSettings::default(),
        created_ms: ctx.now_ms,
        data_key_version: keys::FIRST_DATA_KEY_VERSION,
        identity_secret: None,
    };
    keys::add(ctx, tid.as_str(), keys::INDEX_KEY_VERSION)?;
    keys::add(ctx, tid.as_str(), keys::FIRST_DATA_KEY_VERSION)?;
    put_record(ctx, tid.as_str(), &rec)?;
    // No conversations yet: its visitor index is complete from the start.
    super::visitors::mark_ready(ctx, tid.as_str())?;
    ctx.txn
        .open_table(tables::API_KEYS)?
        .insert(hash_api_key(&api_key).as_slice(), tid.as_str())?;
    ctx.txn
        .open_table(tables::WIDGET_KEYS)?
        .insert(widget_key.as_str(), tid.as_str())?;
    Ok((TenantInfo::from_record(tid.as_str(), &rec), api_key))
}

/// Lists every tenant, ordered by id.
pub fn list(txn: &ReadTransaction) -> Result<Vec<TenantInfo>> {
    let t = txn.open_table(tables::TENANTS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let rec: TenantRecord = serde_json::from_slice(v.value())
            .map_err(|e| Error::Core(kefu_core::Error::Decode(format!("tenant record: {e}"))))?;
        out.push(TenantInfo::from_record(k.value(), &rec));
    }
    Ok(out)
}

/// One tenant's info.
pub fn info(txn: &ReadTransaction, id: &str) -> Result<TenantInfo> {
    get(txn, id)?
        .map(|r| TenantInfo::from_record(id, &r))
        .ok_or(Error::NotFound)
}

/// Replaces the API key; the old one stops working at commit.
pub fn rotate_api_key(ctx: &WriteCtx<'_>, id: &str) -> Result<String> {
    let mut rec = get_in(ctx, id)?.ok_or(Error::NotFound)?;
    let old = hex::decode(&rec.api_key_hash)
        .map_err(|_| Error::Core(kefu_core::Error::Decode("api key hash".into())))?;
    let api_key = new_api_key();
    let hash = hash_api_key(&api_key);
    rec.api_key_hash = hex::encode(hash);
    let mut t = ctx.txn.open_table(tables::API_KEYS)?;
    t.remove(old.as_slice())?;
    t.insert(hash.as_slice(), id)?;
    drop(t);
    put_record(ctx, id, &rec)?;
    Ok(api_key)
}

/// Adds a data-key version and makes it current. Returns the new version.
pub fn rotate_data_key(ctx: &WriteCtx<'_>, id: &str) -> Result<u32> {
    let mut rec = get_in(ctx, id)?.ok_or(Error::NotFound)?;
    ctx.master()?;
    let next = rec
        .data_key_version
        .checked_add(1)
        .ok_or_else(|| Error::Conflict("data key versions exhausted".into()))?;
    keys::add(ctx, id, next)?;
    rec.data_key_version = next;
    put_record(ctx, id, &rec)?;
    Ok(next)
}

/// Applies a settings change.
pub fn update_settings(ctx: &WriteCtx<'_>, id: &str, u: &SettingsUpdate) -> Result<TenantInfo> {
    let mut rec = get_in(ctx, id)?.ok_or(Error::NotFound)?;
    if let Some(origins) = &u.allowed_origins {
        if origins.len() > MAX_ORIGINS {
            return Err(Error::Invalid(format!(
                "at most {MAX_ORIGINS} allowed origins"
            )));
        }
        origins.iter().try_for_each(|o| check_origin(&o.0))?;
        rec.settings.allowed_origins = origins.iter().map(|o| o.0.clone()).collect();
    }
    if let Some(days) = u.retention_days {
        if !(1..=36_500).contains(&days) {
            return Err(Error::Invalid("retention_days must be 1..=36500".into()));
        }
        rec.settings.retention_days = Some(days);
    }
    if let Some(b) = u.require_signed_identity {
        rec.settings.require_signed_identity = b;
    }
    if let Some(b) = u.similar_answers {
        rec.settings.similar_answers = b;
    }
    if let Some(b) = u.semantic_cache_allowed {
        rec.settings.semantic_cache_allowed = b;
    }
    if let Some(secret) = &u.identity_secret {
        let n = secret.chars().count();
        // The edge uses the secret's UTF-8 bytes as an HMAC key of at most
        // 256 bytes (kefu_core::wire::MAX_VISITOR_KEY_BYTES).
        if !(16..=256).contains(&n) || secret.len() > kefu_core::wire::MAX_VISITOR_KEY_BYTES {
            return Err(Error::Invalid(
                "identity_secret must be 16..=256 characters and at most 256 bytes".into(),
            ));
        }
        let master = ctx.master()?;
        let key = keys::load(
            &ctx.txn.open_table(tables::DATA_KEYS)?,
            master,
            id,
            rec.data_key_version,
        )?;
        let sealed = records::seal_json(
            &key,
            rec.data_key_version,
            id,
            "",
            0,
            records::kind::IDENTITY_SECRET,
            secret,
        )?;
        rec.identity_secret = Some(hex::encode(sealed));
    }
    if rec.settings.require_signed_identity && rec.identity_secret.is_none() {
        return Err(Error::Invalid(
            "require_signed_identity needs an identity_secret".into(),
        ));
    }
    put_record(ctx, id, &rec)?;
    Ok(TenantInfo::from_record(id, &rec))
}

/// What deleting a tenant removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeleteReport {
    /// Conversations removed.
    pub conversations: u64,
    /// Messages removed.
    pub messages: u64,
    /// Wrapped keys destroyed.
    pub keys_destroyed: u64,
}

/// Tenants deleted whose rows are still being removed: id -> when the
/// deletion began, ms. Its id cannot be taken again until it is gone.
pub const DELETING: TableDefinition<'_, &str, u64> = TableDefinition::new("tenants_deleting");

/// The first step of deleting a tenant, in one transaction: its wrapped
/// keys are destroyed (crypto-shred: what it stored is unreadable from
/// here on), its API and widget keys stop working, and it is marked
/// [`DELETING`]. Its rows go afterwards, a batch per transaction
/// ([`remove_rows`]), so a large tenant's deletion does not hold the writer
/// every other tenant waits on. Its audit log stays. Returns the keys
/// destroyed.
pub fn delete(ctx: &WriteCtx<'_>, id: &str) -> Result<u64> {
    let rec = get_in(ctx, id)?.ok_or(Error::NotFound)?;
    let keys_destroyed = keys::shred(ctx, id)? as u64;
    let hash = hex::decode(&rec.api_key_hash).unwrap_or_default();
    ctx.txn
        .open_table(tables::API_KEYS)?
        .remove(hash.as_slice())?;
    ctx.txn
        .open_table(tables::WIDGET_KEYS)?
        .remove(rec.widget_key.as_str())?;
    ctx.txn.open_table(tables::TENANTS)?.remove(id)?;
    ctx.txn.open_table(DELETING)?.insert(id, ctx.now_ms)?;
    Ok(keys_destroyed)
}

/// Removes up to `batch` conversations of the deleted tenant `id`; once
/// none is left, the rest of its rows (handoff, agents, tombstones,
/// knowledge base) and its [`DELETING`] mark. Returns (conversations,
/// messages, done).
pub fn remove_rows(ctx: &WriteCtx<'_>, id: &str, batch: usize) -> Result<(u64, u64, bool)> {
    let (conversations, messages) = super::conversations::remove_some(ctx, id, batch)?;
    if conversations > 0 {
        return Ok((conversations, messages, false));
    }
    super::handoff::remove_tenant(ctx, id)?;
    super::agent_sessions::remove_agents(ctx, id, None)?;
    super::erase::remove_tenant(ctx, id)?;
    super::kb::purge(ctx, id)?;
    super::visitors::remove_tenant(ctx, id)?;
    super::first_turns::remove_tenant(ctx, id)?;
    ctx.txn.open_table(DELETING)?.remove(id)?;
    Ok((0, 0, true))
}

/// The tenants whose deletion has not finished (a restart resumes them).
pub fn deleting(txn: &ReadTransaction) -> Result<Vec<String>> {
    let t = txn.open_table(DELETING)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(row?.0.value().to_owned());
    }
    Ok(out)
}

/// Maps an API key to its tenant, or [`Error::Unauthenticated`].
pub fn authenticate(txn: &ReadTransaction, api_key: &str) -> Result<TenantId> {
    if !api_key.starts_with(API_KEY_PREFIX) || api_key.len() > 128 {
        return Err(Error::Unauthenticated);
    }
    let hash = hash_api_key(api_key);
    let tenant = match txn.open_table(tables::API_KEYS)?.get(hash.as_slice())? {
        Some(g) => g.value().to_owned(),
        None => return Err(Error::Unauthenticated),
    };
    let rec = get(txn, &tenant)?.ok_or(Error::Unauthenticated)?;
    let stored = hex::decode(&rec.api_key_hash).unwrap_or_default();
    if !bool::from(stored.as_slice().ct_eq(hash.as_slice())) {
        return Err(Error::Unauthenticated);
    }
    TenantId::new(tenant).map_err(|_| Error::Unauthenticated)
}

/// The tenant a public widget key belongs to.
pub fn by_widget_key(txn: &ReadTransaction, widget_key: &str) -> Result<Option<TenantId>> {
    Ok(
        match txn.open_table(tables::WIDGET_KEYS)?.get(widget_key)? {
            Some(g) => TenantId::new(g.value()).ok(),
            None => None,
        },
    )
}

/// What the edge is told about the tenant behind a widget key.
pub struct WidgetTenant {
    /// The tenant.
    pub id: TenantId,
    /// Its widget settings.
    pub settings: TenantSettings,
    /// The visitor-identity secret, opened (a secret: never in `Debug`).
    pub identity_secret: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for WidgetTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WidgetTenant")
            .field("id", &self.id)
            .field("settings", &self.settings)
            .field(
                "identity_secret",
                &self.identity_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The tenant a widget key belongs to, with its identity secret opened;
/// `None` for a key no tenant has.
pub fn for_widget_key(
    txn: &ReadTransaction,
    master: &crate::crypto::Key,
    widget_key: &str,
) -> Result<Option<WidgetTenant>> {
    let Some(id) = by_widget_key(txn, widget_key)? else {
        return Ok(None);
    };
    let Some(rec) = get(txn, id.as_str())? else {
        return Ok(None);
    };
    // The index and the record must agree (a rotated key leaves no stale row,
    // but never trust one).
    if rec.widget_key != widget_key {
        return Ok(None);
    }
    let identity_secret = match &rec.identity_secret {
        None => None,
        Some(h) => {
            let sealed = hex::decode(h)
                .map_err(|_| Error::Core(kefu_core::Error::Decode("identity secret".into())))?;
            let table = txn.open_table(tables::DATA_KEYS)?;
            let mut ring = |v: u32| keys::load(&table, master, id.as_str(), v);
            let s: String = records::open_json(
                &mut ring,
                id.as_str(),
                "",
                0,
                records::kind::IDENTITY_SECRET,
                &sealed,
            )?;
            Some(zeroize::Zeroizing::new(s))
        }
    };
    Ok(Some(WidgetTenant {
        id,
        settings: rec.settings,
        identity_secret,
    }))
}
