//! Extractors whose failures answer in the [`ApiError`] shape, and the two
//! credentials: the operator token and a tenant API key.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{AppState, error::ApiError};
use crate::store::audit_hook::Actor;
use crate::store::{Storage, TenantStore, now_ms};

/// A JSON object body; malformed or not an object → 400, wrong content type
/// → 415, too big → 413 stating the limit.
#[derive(Debug)]
pub struct Json<T>(pub T);

fn is_json(parts: &axum::http::HeaderMap) -> bool {
    let Some(ct) = parts
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_json(req, state, b"{").await.map(Json)
    }
}

/// A JSON body that may be an object or an array (bulk uploads); otherwise
/// exactly like [`Json`].
#[derive(Debug)]
pub struct JsonBatch<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBatch<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_json(req, state, b"{[").await.map(JsonBatch)
    }
}

async fn read_json<T: DeserializeOwned>(
    req: Request,
    state: &AppState,
    starts: &[u8],
) -> Result<T, ApiError> {
    let limit = state.config.limits.max_body_bytes;
    if !is_json(req.headers()) {
        return Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/json".into(),
        ));
    }
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "request body exceeds the limit of {limit} bytes"
                ))
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })?;
    // serde would also read a struct from a JSON array; say which shapes
    // the route takes.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if !first.is_some_and(|b| starts.contains(b)) {
        return Err(ApiError::BadRequest(if starts == b"{" {
            "the request body must be a JSON object".into()
        } else {
            "the request body must be a JSON object or array".into()
        }));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::BadRequest(format!("malformed JSON: {e}"))
        } else {
            ApiError::BadRequest(format!("invalid request body: {e}"))
        }
    })
}

/// Query parameters; invalid → 400.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::BadRequest(format!("invalid query: {}", e.body_text())))
    }
}

/// One path parameter. An id that cannot exist answers 404, like a missing one.
#[derive(Debug)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathId(p.0))
            .map_err(|_| ApiError::NotFound)
    }
}

/// The caller's address (`ip:port`), or `unknown` when not served over TCP
/// (in-process tests).
#[derive(Debug, Clone)]
pub struct Source(pub String);

impl Source {
    pub(super) fn of(parts: &Parts) -> Source {
        Source(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string()),
        )
    }

    fn ip(&self) -> &str {
        self.0
            .rsplit_once(':')
            .map_or(self.0.as_str(), |(ip, _)| ip)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Source::of(parts))
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

pub(super) fn storage(state: &AppState) -> Result<Storage, ApiError> {
    state
        .storage()
        .ok_or_else(|| ApiError::Unavailable("storage is not open yet".into()))
}

/// Refuses a source that has failed authentication too often this minute.
pub(super) fn check_failures(state: &AppState, src: &Source) -> Result<(), ApiError> {
    match state.limiter.over(
        src.ip(),
        state.config.limits.failed_auth_per_minute,
        now_ms(),
    ) {
        Some(retry) => {
            state.metrics.record_rate_limited();
            Err(ApiError::RateLimited(retry))
        }
        None => Ok(()),
    }
}

pub(super) async fn failed(
    state: &AppState,
    storage: &Storage,
    src: &Source,
    action: &'static str,
) -> ApiError {
    state.metrics.record_auth_failure();
    let _ = state.limiter.hit(src.ip(), u32::MAX, now_ms());
    if let Err(e) = storage.audit_failed_auth(src.0.clone(), action).await {
        tracing::warn!(error = %e, "could not audit a failed authentication");
    }
    ApiError::Unauthorized
}

/// The operator, authenticated by `Authorization: Bearer $KEFU_OPERATOR_TOKEN`.
#[derive(Debug)]
pub struct Operator {
    /// The storage to act on.
    pub storage: Storage,
    /// For audit entries.
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let src = Source::of(parts);
        let Some(expected) = &state.config.operator_token else {
            return Err(ApiError::Forbidden(
                "the operator API is disabled: KEFU_OPERATOR_TOKEN is not set".into(),
            ));
        };
        check_failures(state, &src)?;
        let storage = storage(state)?;
        match bearer(parts) {
            Some(t) if expected.matches(&t) => Ok(Operator {
                storage,
                actor: Actor {
                    who: "operator".into(),
                    source: src.0,
                },
            }),
            _ => Err(failed(state, &storage, &src, "operator.authenticate").await),
        }
    }
}

/// A tenant, authenticated by its API key. The only source of a
/// [`TenantStore`] in the HTTP layer.
#[derive(Debug)]
pub struct Tenant {
    /// Everything the tenant owns.
    pub store: TenantStore,
    /// The caller's address, for audit entries.
    pub source: Source,
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let src = Source::of(parts);
        check_failures(state, &src)?;
        let storage = storage(state)?;
        let Some(key) = bearer(parts) else {
            return Err(failed(state, &storage, &src, "tenant.authenticate").await);
        };
        let store = match storage.authenticate(key).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(failed(state, &storage, &src, "tenant.authenticate").await),
            Err(e) => return Err(e.into()),
        };
        if let Err(retry) = state.limiter.hit(
            &format!("tenant:{}", store.tenant()),
            state.config.limits.tenant_requests_per_minute,
            now_ms(),
        ) {
            state.metrics.record_rate_limited();
            return Err(ApiError::RateLimited(retry));
        }
        Ok(Tenant { store, source: src })
    }
}
