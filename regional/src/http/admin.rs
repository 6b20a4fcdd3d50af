//! Operator routes (`/admin/v1/...`): tenants, their keys and settings.
//! Thin: authenticate, call storage, shape the answer.

use axum::extract::State;
use axum::http::StatusCode;

use super::api::{ApiKeyRotated, CreateTenant, DataKeyRotated, TenantCreated, TenantList};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Operator, PathId};
use crate::store::tenants::{DeleteReport, SettingsUpdate};
use crate::store::{TenantInfo, TenantSettings};

type Result<T> = std::result::Result<T, ApiError>;

/// Create a tenant.
#[utoipa::path(post, path = "/admin/v1/tenants", tag = "admin",
    request_body = CreateTenant,
    security(("operator_token" = [])),
    responses(
        (status = 201, description = "Created; the API key is shown only now", body = TenantCreated),
        (status = 400, description = "Malformed JSON or invalid id/name", body = ErrorBody),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 409, description = "Tenant exists", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn create_tenant(
    op: Operator,
    Json(req): Json<CreateTenant>,
) -> Result<(StatusCode, axum::Json<TenantCreated>)> {
    let (info, api_key) = op.storage.create_tenant(op.actor, req.id, req.name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TenantCreated {
            id: info.id,
            api_key,
            widget_key: info.widget_key,
        }),
    ))
}

/// List tenants.
#[utoipa::path(get, path = "/admin/v1/tenants", tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Every tenant", body = TenantList),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn list_tenants(op: Operator) -> Result<axum::Json<TenantList>> {
    Ok(axum::Json(TenantList {
        tenants: op.storage.list_tenants().await?,
    }))
}

/// One tenant.
#[utoipa::path(get, path = "/admin/v1/tenants/{tenant_id}", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The tenant", body = TenantInfo),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn get_tenant(op: Operator, PathId(id): PathId) -> Result<axum::Json<TenantInfo>> {
    Ok(axum::Json(op.storage.tenant(id).await?))
}

/// Delete a tenant: its data keys are destroyed (crypto-shred) and its rows removed.
#[utoipa::path(delete, path = "/admin/v1/tenants/{tenant_id}", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Deleted", body = DeleteReport),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn delete_tenant(
    State(state): State<super::AppState>,
    op: Operator,
    PathId(id): PathId,
) -> Result<axum::Json<DeleteReport>> {
    let report = op.storage.delete_tenant(op.actor, id.clone()).await?;
    // Its agents' sessions went with its rows; forget the memory of them.
    state.console.sign_out(&id, None);
    Ok(axum::Json(report))
}

/// Replace the tenant's API key.
#[utoipa::path(post, path = "/admin/v1/tenants/{tenant_id}/api-key", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The new key; the old one stops working", body = ApiKeyRotated),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn rotate_api_key(op: Operator, PathId(id): PathId) -> Result<axum::Json<ApiKeyRotated>> {
    let api_key = op.storage.rotate_api_key(op.actor, id.clone()).await?;
    Ok(axum::Json(ApiKeyRotated { id, api_key }))
}

/// Add a data-key version; new records use it, old records stay readable.
#[utoipa::path(post, path = "/admin/v1/tenants/{tenant_id}/data-key", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The new current version", body = DataKeyRotated),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn rotate_data_key(
    op: Operator,
    PathId(id): PathId,
) -> Result<axum::Json<DataKeyRotated>> {
    let v = op.storage.rotate_data_key(op.actor, id.clone()).await?;
    Ok(axum::Json(DataKeyRotated {
        id,
        data_key_version: v,
    }))
}

/// The tenant's widget settings.
#[utoipa::path(get, path = "/admin/v1/tenants/{tenant_id}/settings", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Settings", body = TenantSettings),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn get_settings(op: Operator, PathId(id): PathId) -> Result<axum::Json<TenantSettings>> {
    Ok(axum::Json(op.storage.tenant(id).await?.settings))
}

/// Change the tenant's widget settings; absent fields stay as they are.
#[utoipa::path(patch, path = "/admin/v1/tenants/{tenant_id}/settings", tag = "admin",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    request_body = SettingsUpdate,
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The tenant after the change", body = TenantInfo),
        (status = 400, description = "Malformed JSON or invalid value", body = ErrorBody),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn update_settings(
    op: Operator,
    PathId(id): PathId,
    Json(u): Json<SettingsUpdate>,
) -> Result<axum::Json<TenantInfo>> {
    Ok(axum::Json(
        op.storage.update_settings(op.actor, id, u).await?,
    ))
}

/// Write a backup of the data dir while the service runs: the database
/// copied from one consistent snapshot, the published knowledge-base
/// indexes and the audit checkpoints, into a new directory under the
/// configured backup dir (`[backup] dir`, `KEFU_BACKUP_DIR`; default
/// `<data_dir>/backups`). Records stay sealed; the master key is not in it.
/// Restore by starting the service on that directory with the same key.
#[utoipa::path(post, path = "/admin/v1/backups", tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 201, description = "Written", body = crate::store::backup::BackupReport),
        (status = 401, description = "Missing or wrong operator token", body = ErrorBody),
        (status = 403, description = "Operator API disabled", body = ErrorBody),
        (status = 409, description = "A backup of the same millisecond exists", body = ErrorBody),
        (status = 429, description = "Too many failed authentications", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "The backup could not be written (the message says where)", body = ErrorBody),
    ))]
pub async fn create_backup(
    State(state): State<super::AppState>,
    op: Operator,
) -> Result<(
    axum::http::StatusCode,
    axum::Json<crate::store::backup::BackupReport>,
)> {
    let report = op
        .storage
        .backup(
            op.actor,
            state.config.backup_dir.clone(),
            state.config.audit.checkpoint_file.clone(),
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(report)))
}
