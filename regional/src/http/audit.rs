//! The tenant's audit log: verify it, or take a checkpoint to keep. There is
//! deliberately no route that edits or deletes entries; an attempt to change
//! anything under `/v1/audit/` is itself audited ([`tamper_attempt`]).

use axum::http::{Method, Uri};

use super::api::{AuditEntryView, AuditPage, AuditParams, AuditVerifyView, CheckpointView};
use super::error::{ApiError, ErrorBody};
use super::extract::{Query, Tenant};

type Result<T> = std::result::Result<T, ApiError>;

/// Recompute the tenant's audit chain (SM3) and report the first bad entry.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The verification report (ok: false when tampered with)", body = AuditVerifyView),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn verify(t: Tenant) -> Result<axum::Json<AuditVerifyView>> {
    let (r, cp) = t.store.audit_verify().await?;
    Ok(axum::Json(AuditVerifyView {
        tenant: r.tenant,
        entries: r.entries,
        ok: r.ok,
        first_bad: r.first_bad,
        problem: r.problem,
        head_hash: hex::encode(r.head_hash),
        checkpoint: cp.map(CheckpointView::from),
    }))
}

/// The current head of the tenant's audit chain (count + SM3 head hash).
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The chain's current checkpoint", body = CheckpointView),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn checkpoint(t: Tenant) -> Result<axum::Json<CheckpointView>> {
    Ok(axum::Json(t.store.audit_checkpoint().await?.into()))
}

/// Read the tenant's audit chain, oldest first: who read or changed what,
/// when, from where (objects by id, never message text). Page with `from`
/// and `limit`.
#[utoipa::path(get, path = "/v1/audit/entries", tag = "audit",
    params(AuditParams),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn entries(t: Tenant, Query(p): Query<AuditParams>) -> Result<axum::Json<AuditPage>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1..=1000".into()));
    }
    let from = p.from.unwrap_or(0);
    if from > crate::json_int::MAX {
        return Err(ApiError::BadRequest(
            "from is out of range (at most 2^63-1)".into(),
        ));
    }
    let page = t.store.audit_entries(from, limit).await?;
    let next_from = (page.len() == limit)
        .then(|| page.last().map(|e| e.index + 1))
        .flatten();
    Ok(axum::Json(AuditPage {
        entries: page.into_iter().map(AuditEntryView::from).collect(),
        next_from,
    }))
}

/// Answers 405 to any other method on an audit path, and records the attempt.
pub async fn tamper_attempt(t: Tenant, method: Method, uri: Uri) -> ApiError {
    if let Err(e) = t
        .store
        .audit_tamper_attempt(&t.source.0, format!("{method} {}", uri.path()))
        .await
    {
        tracing::warn!(error = %e, "could not audit a tamper attempt");
    }
    ApiError::MethodNotAllowed
}
