//! `GET /admin/v1/llm` and `PUT /admin/v1/llm`: the model backends in
//! service, and switching them without a restart. The new set is built
//! first (an in-process GGUF model is loaded), then swapped in whole
//! ([`crate::answer::GeneratorSlot`]): answers already streaming finish on
//! the old backends, new turns use the new ones. Every switch is audited in
//! the service chain.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Operator};
use crate::config::{LlmBackendConfig, Secret};

/// At most this many backends.
pub const MAX_BACKENDS: usize = 16;

/// One OpenAI-compatible server.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendIn {
    /// Base URL without `/v1`, `http(s)://…`.
    #[schema(max_length = 2048)]
    pub url: String,
    /// The model name to request.
    #[schema(min_length = 1, max_length = 256)]
    pub model: String,
    /// A file on the server holding the bearer key (the key itself never
    /// travels in this request).
    pub api_key_file: Option<String>,
    /// A PEM file on the server with the CA(s) an `https://` server's
    /// certificate chains to (besides the system's trust store).
    pub ca_file: Option<String>,
}

/// The new set of backends, in fallback order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmUpdate {
    /// Servers in fallback order (may be empty).
    #[schema(max_items = 16)]
    pub backends: Vec<BackendIn>,
    /// A GGUF model file on the server, run in-process after the servers.
    pub gguf: Option<String>,
}

/// The backends in service.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmView {
    /// Backend names in fallback order; empty: no model (extractive answers).
    pub backends: Vec<String>,
}

fn view(state: &AppState) -> LlmView {
    LlmView {
        backends: state
            .generator
            .current()
            .map(|g| g.gateway.names())
            .unwrap_or_default(),
    }
}

/// The model backends in service.
#[utoipa::path(get, path = "/admin/v1/llm", tag = "operator",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The backends", body = LlmView),
        (status = 401, description = "Missing or invalid operator token", body = ErrorBody),
    ))]
pub async fn get(
    axum::extract::State(state): axum::extract::State<AppState>,
    _op: Operator,
) -> axum::Json<LlmView> {
    axum::Json(view(&state))
}

/// Switch the model backends without a restart (audited).
#[utoipa::path(put, path = "/admin/v1/llm", tag = "operator", request_body = LlmUpdate,
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Switched: the backends now in service", body = LlmView),
        (status = 400, description = "An invalid backend (named)", body = ErrorBody),
        (status = 401, description = "Missing or invalid operator token", body = ErrorBody),
        (status = 413, description = "Body too large (sixteen backends with the longest URLs the schema allows can exceed the body limit)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ))]
pub async fn put(
    axum::extract::State(state): axum::extract::State<AppState>,
    op: Operator,
    Json(u): Json<LlmUpdate>,
) -> Result<axum::Json<LlmView>, ApiError> {
    if u.backends.len() > MAX_BACKENDS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_BACKENDS} backends"
        )));
    }
    let mut backends = Vec::new();
    for (i, b) in u.backends.into_iter().enumerate() {
        if !(b.url.starts_with("http://") || b.url.starts_with("https://")) || b.url.len() > 2048 {
            return Err(ApiError::BadRequest(format!(
                "backends[{i}].url: an http(s) URL"
            )));
        }
        if b.model.trim().is_empty() || b.model.len() > 256 {
            return Err(ApiError::BadRequest(format!(
                "backends[{i}].model: 1..=256 characters"
            )));
        }
        let api_key = match b.api_key_file {
            None => None,
            Some(f) => Some(Secret::new(
                std::fs::read_to_string(&f)
                    .map_err(|e| ApiError::BadRequest(format!("backends[{i}].api_key_file: {e}")))?
                    .trim()
                    .to_owned(),
            )),
        };
        let ca_pem = match b.ca_file {
            None => None,
            Some(f) => Some(
                std::fs::read(&f)
                    .map_err(|e| ApiError::BadRequest(format!("backends[{i}].ca_file: {e}")))?,
            ),
        };
        backends.push(LlmBackendConfig {
            url: b.url,
            model: b.model,
            api_key,
            ca_pem,
        });
    }
    let gguf = u.gguf.map(std::path::PathBuf::from);
    if let Some(p) = &gguf
        && !p.is_file()
    {
        return Err(ApiError::BadRequest(format!(
            "gguf: {} is not a file",
            p.display()
        )));
    }
    let config = crate::config::LlmConfig {
        backends,
        gguf,
        ..state.config.llm.clone()
    };
    switch(&state, &op.storage, op.actor.clone(), "llm.switch", config).await?;
    Ok(axum::Json(view(&state)))
}

/// Builds the backends `config` names (loading an in-process model off the
/// async threads), audits the switch as `action` by `actor` in the service
/// chain, then swaps them in whole. Answers already streaming finish on the
/// old backends. Returns the new backends' names. Used by `PUT
/// /admin/v1/llm` and by a configuration reload (SIGHUP).
pub async fn switch(
    state: &AppState,
    storage: &crate::store::Storage,
    actor: crate::store::audit_hook::Actor,
    action: &'static str,
    config: crate::config::LlmConfig,
) -> crate::Result<Vec<String>> {
    let generator =
        tokio::task::spawn_blocking(move || crate::answer::Generator::from_config(&config))
            .await
            .map_err(|_| crate::Error::Invalid("loading the model panicked".into()))?;
    let names = generator
        .as_ref()
        .map(|g| g.gateway.names())
        .unwrap_or_default();
    storage
        .audit_service(actor, action, names.join(",").chars().take(256).collect())
        .await?;
    state.generator.replace(generator);
    tracing::info!(backends = ?names, action, "model backends switched");
    Ok(names)
}
