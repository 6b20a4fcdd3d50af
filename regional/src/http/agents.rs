//! Tenant routes for the human side: agents, canned replies and the
//! handoff settings (routing thresholds, keywords, business hours, queue
//! timeout, assignment). Bearer API key, like every tenant route.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::console::{CannedList, CannedQuery};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, PathId, Query, Tenant};
use crate::console::hash_password;
use crate::store::handoff::{AgentRecord, CannedReply, HandoffSettings, check_id};

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /v1/agents`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Login id (letters, digits, `-`, `_`, `.`).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    /// Display name, shown to visitors.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Password (10..=256 characters); stored as an argon2id hash.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Skill/group tags.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Conversations at once (1..=100, default 5).
    #[schema(minimum = 1, maximum = 100)]
    pub max_concurrent: Option<u32>,
}

/// An agent (never the password or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// Login id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Conversations at once.
    pub max_concurrent: u32,
    /// Created, ms since the epoch.
    pub created_ms: u64,
}

impl AgentView {
    fn of(id: String, r: AgentRecord) -> AgentView {
        AgentView {
            id,
            name: r.name,
            groups: r.groups,
            max_concurrent: r.max_concurrent,
            created_ms: r.created_ms,
        }
    }
}

/// `GET /v1/agents`
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    /// Every agent, by id.
    pub agents: Vec<AgentView>,
}

/// Create an agent.
#[utoipa::path(post, path = "/v1/agents", tag = "agents",
    request_body = CreateAgent,
    security(("tenant_key" = [])),
    responses(
        (status = 201, description = "Created", body = AgentView),
        (status = 400, description = "Invalid id, name, password or groups", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "An agent with this id exists", body = ErrorBody),
        (status = 413, description = "Too many agents", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn create(
    t: Tenant,
    Json(c): Json<CreateAgent>,
) -> Result<(StatusCode, axum::Json<AgentView>)> {
    check_id(&c.id, "agent id")?;
    let name = c.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "name must have 1..=100 characters and no control characters".into(),
        ));
    }
    if c.groups.len() > 16 {
        return Err(ApiError::BadRequest("at most 16 groups".into()));
    }
    for g in &c.groups {
        check_id(g, "group")?;
    }
    let max_concurrent = c.max_concurrent.unwrap_or(5);
    if !(1..=100).contains(&max_concurrent) {
        return Err(ApiError::BadRequest(
            "max_concurrent must be 1..=100".into(),
        ));
    }
    let password = c.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| ApiError::Internal)??;
    let rec = AgentRecord {
        name,
        password_hash,
        groups: c.groups,
        max_concurrent,
        created_ms: crate::store::now_ms(),
    };
    t.store
        .create_agent(&t.source.0, c.id.clone(), rec.clone())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(AgentView::of(c.id, rec))))
}

/// List the agents.
#[utoipa::path(get, path = "/v1/agents", tag = "agents",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Agents", body = AgentList),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn list(t: Tenant) -> Result<axum::Json<AgentList>> {
    Ok(axum::Json(AgentList {
        agents: t
            .store
            .agents()
            .await?
            .into_iter()
            .map(|a| AgentView::of(a.id, a.record))
            .collect(),
    }))
}

/// Delete an agent: signed out at once; what they held returns to the queue.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path, description = "Agent id")),
    security(("tenant_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    t: Tenant,
    PathId(id): PathId,
) -> Result<StatusCode> {
    t.store.delete_agent(&t.source.0, id.clone()).await?;
    state.console.sign_out(t.store.tenant().as_str(), Some(&id));
    Ok(StatusCode::NO_CONTENT)
}

/// List or search canned replies.
#[utoipa::path(get, path = "/v1/canned-replies", tag = "agents",
    params(CannedQuery),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Replies", body = CannedList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn canned(t: Tenant, Query(q): Query<CannedQuery>) -> Result<axum::Json<CannedList>> {
    Ok(axum::Json(CannedList {
        replies: t.store.canned(q.q.unwrap_or_default()).await?,
    }))
}

/// Add or replace a canned reply (by id).
#[utoipa::path(post, path = "/v1/canned-replies", tag = "agents",
    request_body = CannedReply,
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Stored", body = CannedReply),
        (status = 400, description = "Invalid id, title or text", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 413, description = "Too many replies", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn put_canned(t: Tenant, Json(r): Json<CannedReply>) -> Result<axum::Json<CannedReply>> {
    t.store.put_canned(&t.source.0, r.clone()).await?;
    Ok(axum::Json(r))
}

/// Delete a canned reply.
#[utoipa::path(delete, path = "/v1/canned-replies/{reply_id}", tag = "agents",
    params(("reply_id" = String, Path, description = "Reply id")),
    security(("tenant_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such reply", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn delete_canned(t: Tenant, PathId(id): PathId) -> Result<StatusCode> {
    t.store.delete_canned(&t.source.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The handoff settings.
#[utoipa::path(get, path = "/v1/handoff/settings", tag = "agents",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Settings", body = HandoffSettings),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn settings(t: Tenant) -> Result<axum::Json<HandoffSettings>> {
    Ok(axum::Json(t.store.handoff_settings().await?))
}

/// Replace the handoff settings (omitted fields take their defaults).
#[utoipa::path(put, path = "/v1/handoff/settings", tag = "agents",
    request_body = HandoffSettings,
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Stored", body = HandoffSettings),
        (status = 400, description = "Invalid settings (the message says which)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn put_settings(
    t: Tenant,
    Json(s): Json<HandoffSettings>,
) -> Result<axum::Json<HandoffSettings>> {
    t.store.put_handoff_settings(&t.source.0, s.clone()).await?;
    Ok(axum::Json(s))
}
