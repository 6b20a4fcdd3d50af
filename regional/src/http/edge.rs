//! The edge's routes: signed MessagePack frames ([`kefu_core::wire`]) on the
//! paths the wire module names. Thin: check the content type and signature,
//! decode, call [`crate::edge`], encode.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_core::wire::{self, EdgeReport, Frame, SessionRequest, TenantConfigRequest, TurnRequest};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::Source;
use crate::edge::{self, Refusal, ReportOutcome};
use crate::store::now_ms;

type Result<T> = std::result::Result<T, ApiError>;

/// The MessagePack media type the frames travel as.
pub const MSGPACK: &str = "application/msgpack";

/// A raw MessagePack body; wrong content type → 415, too big → 413.
#[derive(Debug)]
pub struct MsgpackBody(pub Bytes);

impl FromRequest<AppState> for MsgpackBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            essence.as_str(),
            "application/msgpack" | "application/x-msgpack" | "application/vnd.msgpack"
        ) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected Content-Type: {MSGPACK}"
            )));
        }
        let limit = wire_limit(req.uri().path());
        Bytes::from_request(req, state)
            .await
            .map(MsgpackBody)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(format!("frame exceeds the limit of {limit} bytes"))
                } else {
                    ApiError::BadRequest("could not read the request body".into())
                }
            })
    }
}

/// The body limit of an edge route: its frame's own bound.
pub fn wire_limit(path: &str) -> usize {
    match path {
        wire::paths::REPORT => EdgeReport::LIMITS.max_bytes,
        wire::paths::TENANT_CONFIG => TenantConfigRequest::LIMITS.max_bytes,
        wire::paths::SESSION => SessionRequest::LIMITS.max_bytes,
        _ => TurnRequest::LIMITS.max_bytes,
    }
}

async fn check(
    state: &AppState,
    headers: &HeaderMap,
    src: &Source,
    tag: &str,
    body: &[u8],
) -> Result<()> {
    let door = state.edge.as_ref().ok_or_else(|| {
        ApiError::Forbidden("the edge door is closed: KEFU_EDGE_KEY is not set".into())
    })?;
    let sig = headers
        .get(wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    match door.verify(sig, tag, body, now_ms()) {
        Ok(()) => Ok(()),
        Err(Refusal::Replay) => Err(ApiError::Conflict("replayed request".into())),
        Err(Refusal::Busy) => Err(ApiError::Unavailable(
            "too many signed requests in flight; retry".into(),
        )),
        Err(Refusal::Unauthenticated) => {
            state.metrics.record_auth_failure();
            if let Some(s) = state.storage()
                && let Err(e) = s
                    .audit_failed_auth(src.0.clone(), "edge.authenticate")
                    .await
            {
                tracing::warn!(error = %e, "could not audit a failed edge signature");
            }
            Err(ApiError::Unauthorized)
        }
    }
}

fn decode_error(e: kefu_core::Error, limit: usize) -> ApiError {
    match e {
        kefu_core::Error::TooLarge(what) => {
            ApiError::PayloadTooLarge(format!("{what} (frame limit {limit} bytes)"))
        }
        other => ApiError::BadRequest(format!("malformed frame: {other}")),
    }
}

fn msgpack(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, MSGPACK)], bytes).into_response()
}

fn storage(state: &AppState) -> Result<crate::store::Storage> {
    state
        .storage()
        .ok_or_else(|| ApiError::Unavailable("storage is not open yet".into()))
}

/// A visitor message the edge could not answer: stored with its answer
/// (a labelled fallback until a knowledge base exists).
#[utoipa::path(post, path = "/v1/turn", tag = "edge",
    request_body(content = Vec<u8>, content_type = "application/msgpack", description = "A kefu-core wire TurnRequest frame"),
    params(("x-kefu-signature" = String, Header, description = "HMAC-SM3 request signature (kefu-core wire::sign)")),
    security(("edge_signature" = [])),
    responses(
        (status = 200, description = "A TurnResponse frame", content_type = "application/msgpack", body = Vec<u8>),
        (status = 400, description = "Malformed frame", body = ErrorBody),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorBody),
        (status = 403, description = "Edge door closed", body = ErrorBody),
        (status = 404, description = "Unknown tenant or conversation", body = ErrorBody),
        (status = 409, description = "Replayed request", body = ErrorBody),
        (status = 413, description = "Frame too large", body = ErrorBody),
        (status = 415, description = "Not application/msgpack", body = ErrorBody),
        (status = 503, description = "Not ready, or replay memory full", body = ErrorBody),
    ))]
pub async fn turn(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
    MsgpackBody(body): MsgpackBody,
) -> Result<Response> {
    check(&state, &headers, &src, wire::paths::TURN, &body).await?;
    let req =
        TurnRequest::decode(&body).map_err(|e| decode_error(e, TurnRequest::LIMITS.max_bytes))?;
    let storage = storage(&state)?;
    if wants_stream(&headers) {
        return Ok(turn_stream(state, storage, req));
    }
    let generator = state.generator.current();
    let resp = edge::turn(
        &storage,
        req,
        state.config.limits.max_message_chars,
        generator.as_deref(),
        None,
    )
    .await?;
    Ok(msgpack(encode_turn(&resp)?))
}

fn encode_turn(resp: &wire::TurnResponse) -> Result<Vec<u8>> {
    resp.encode().map_err(|e| {
        tracing::error!(error = %e, "cannot encode a TurnResponse");
        ApiError::Internal
    })
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(wire::TURN_STREAM_CONTENT_TYPE))
}

/// The turn answered as [`wire::Record`]s: the model's text as it is
/// written, then the `TurnResponse` frame, or the error the plain response
/// would have been. The turn runs in its own task, so a visitor who goes
/// away does not cancel the store of their message and its answer.
fn turn_stream(state: AppState, storage: crate::store::Storage, req: TurnRequest) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        let max = state.config.limits.max_message_chars;
        let generator = state.generator.current();
        let r = edge::turn(&storage, req, max, generator.as_deref(), Some(&tx)).await;
        r.map_err(ApiError::from).and_then(|t| encode_turn(&t))
    });
    // An empty delta every few seconds while the model thinks (prompt
    // processing on a CPU takes a while): the edge times out on silence,
    // not on a long answer.
    let start = tokio::time::Instant::now() + HEARTBEAT;
    let tick = tokio::time::interval_at(start, HEARTBEAT);
    let deltas = futures_util::stream::unfold((rx, tick), |(mut rx, mut tick)| async move {
        let text = tokio::select! {
            t = rx.recv() => t?,
            _ = tick.tick() => String::new(),
        };
        Some((wire::Record::Delta(text), (rx, tick)))
    });
    let last = futures_util::stream::once(async move {
        match task.await {
            Ok(Ok(frame)) => wire::Record::Frame(frame),
            Ok(Err(e)) => error_record(e),
            Err(_) => error_record(ApiError::Internal),
        }
    });
    let records = futures_util::StreamExt::chain(deltas, last);
    let body = futures_util::StreamExt::map(records, |r| {
        r.encode().map(axum::body::Bytes::from).map_err(|e| {
            tracing::error!(error = %e, "cannot encode a turn-stream record");
            std::io::Error::other("turn-stream record")
        })
    });
    (
        [
            (header::CONTENT_TYPE, wire::TURN_STREAM_CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// How often a streamed turn says it is still working.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(3);

fn error_record(e: ApiError) -> wire::Record {
    let status = e.status_code().as_u16();
    let body = serde_json::to_vec(&ErrorBody::of(&e)).unwrap_or_default();
    wire::Record::Error { status, body }
}

/// Turns the edge served itself (cache hits, store-and-forward acks); each
/// is stored exactly once.
#[utoipa::path(post, path = "/v1/report", tag = "edge",
    request_body(content = Vec<u8>, content_type = "application/msgpack", description = "A kefu-core wire EdgeReport frame"),
    params(("x-kefu-signature" = String, Header, description = "HMAC-SM3 request signature (kefu-core wire::sign)")),
    security(("edge_signature" = [])),
    responses(
        (status = 200, description = "What was stored", body = ReportOutcome),
        (status = 400, description = "Malformed frame", body = ErrorBody),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorBody),
        (status = 403, description = "Edge door closed", body = ErrorBody),
        (status = 409, description = "Replayed request, or a turn for a closed conversation", body = ErrorBody),
        (status = 413, description = "Frame too large", body = ErrorBody),
        (status = 415, description = "Not application/msgpack", body = ErrorBody),
        (status = 503, description = "Not ready, or replay memory full", body = ErrorBody),
    ))]
pub async fn report(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
    MsgpackBody(body): MsgpackBody,
) -> Result<axum::Json<ReportOutcome>> {
    check(&state, &headers, &src, wire::paths::REPORT, &body).await?;
    let rep =
        EdgeReport::decode(&body).map_err(|e| decode_error(e, EdgeReport::LIMITS.max_bytes))?;
    let storage = storage(&state)?;
    let max_chars = state.config.limits.max_message_chars;
    // One report per conversation, in the edge's order, applied side by
    // side: a batch of many visitors' turns then shares the writer's group
    // commits instead of waiting for one fsync per turn. Any error fails
    // the whole report; the edge sends it again and the turns already
    // stored count as duplicates (applying is idempotent).
    let outcomes = futures_util::future::try_join_all(
        by_conversation(rep)
            .into_iter()
            .map(|one| edge::report(&storage, one, max_chars)),
    )
    .await?;
    Ok(axum::Json(outcomes.into_iter().fold(
        ReportOutcome::default(),
        |a, b| ReportOutcome {
            applied: a.applied + b.applied,
            duplicates: a.duplicates + b.duplicates,
            unknown_tenant: a.unknown_tenant + b.unknown_tenant,
            erased: a.erased + b.erased,
            successor: a.successor + b.successor,
        },
    )))
}

/// `rep`'s turns as one report per (tenant, conversation), each keeping
/// the turns' order, the reports in order of first appearance.
pub fn by_conversation(rep: EdgeReport) -> Vec<EdgeReport> {
    let mut out: Vec<EdgeReport> = Vec::new();
    for t in rep.turns {
        match out.iter_mut().find(|r| {
            r.turns
                .first()
                .is_some_and(|f| f.tenant == t.tenant && f.conversation == t.conversation)
        }) {
            Some(r) => r.turns.push(t),
            None => {
                let mut r = EdgeReport::new();
                r.turns.push(t);
                out.push(r);
            }
        }
    }
    out
}

/// Readiness for the edge (a signed GET with an empty body).
#[utoipa::path(get, path = "/v1/health", tag = "edge",
    params(("x-kefu-signature" = String, Header, description = "HMAC-SM3 request signature over an empty body")),
    security(("edge_signature" = [])),
    responses(
        (status = 200, description = "A Health frame", content_type = "application/msgpack", body = Vec<u8>),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorBody),
        (status = 403, description = "Edge door closed", body = ErrorBody),
        (status = 409, description = "Replayed request", body = ErrorBody),
        (status = 503, description = "Replay memory full", body = ErrorBody),
    ))]
pub async fn health(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
) -> Result<Response> {
    check(&state, &headers, &src, wire::paths::HEALTH, &[]).await?;
    let brownout = state.generator.current().map_or(0, |g| g.brownout() as u8);
    let bytes = edge::health(state.storage().is_some(), brownout)
        .encode()
        .map_err(|_| ApiError::Internal)?;
    Ok(msgpack(bytes))
}

fn encoded<F: Frame>(frame: &F) -> Result<Response> {
    let bytes = frame.encode().map_err(|e| {
        tracing::error!(error = %e, "cannot encode a frame");
        ApiError::Internal
    })?;
    Ok(msgpack(bytes))
}

/// Which tenant a widget key belongs to, and how the edge treats its
/// visitors.
#[utoipa::path(post, path = "/v1/tenant-config", tag = "edge",
    request_body(content = Vec<u8>, content_type = "application/msgpack", description = "A kefu-core wire TenantConfigRequest frame"),
    params(("x-kefu-signature" = String, Header, description = "HMAC-SM3 request signature (kefu-core wire::sign)")),
    security(("edge_signature" = [])),
    responses(
        (status = 200, description = "A TenantConfig frame", content_type = "application/msgpack", body = Vec<u8>),
        (status = 400, description = "Malformed frame", body = ErrorBody),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorBody),
        (status = 403, description = "Edge door closed", body = ErrorBody),
        (status = 404, description = "No tenant has this widget key", body = ErrorBody),
        (status = 409, description = "Replayed request", body = ErrorBody),
        (status = 413, description = "Frame too large", body = ErrorBody),
        (status = 415, description = "Not application/msgpack", body = ErrorBody),
        (status = 503, description = "Not ready, or replay memory full", body = ErrorBody),
    ))]
pub async fn tenant_config(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
    MsgpackBody(body): MsgpackBody,
) -> Result<Response> {
    check(&state, &headers, &src, wire::paths::TENANT_CONFIG, &body).await?;
    let req = TenantConfigRequest::decode(&body)
        .map_err(|e| decode_error(e, TenantConfigRequest::LIMITS.max_bytes))?;
    match edge::tenant_config(&storage(&state)?, req).await? {
        Some(config) => encoded(&config),
        None => Err(ApiError::NotFound),
    }
}

/// A conversation's session, held up to `wait_ms` (at most 30 s) until it
/// has a turn after `since`.
#[utoipa::path(post, path = "/v1/session", tag = "edge",
    request_body(content = Vec<u8>, content_type = "application/msgpack", description = "A kefu-core wire SessionRequest frame"),
    params(("x-kefu-signature" = String, Header, description = "HMAC-SM3 request signature (kefu-core wire::sign)")),
    security(("edge_signature" = [])),
    responses(
        (status = 200, description = "A SessionResponse frame (session null if the tenant has no such conversation for this visitor)", content_type = "application/msgpack", body = Vec<u8>),
        (status = 400, description = "Malformed frame, or wait_ms above 30000", body = ErrorBody),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorBody),
        (status = 403, description = "Edge door closed", body = ErrorBody),
        (status = 404, description = "The conversation was erased on request: the edge drops its copy", body = ErrorBody),
        (status = 409, description = "Replayed request", body = ErrorBody),
        (status = 413, description = "Frame too large", body = ErrorBody),
        (status = 415, description = "Not application/msgpack", body = ErrorBody),
        (status = 503, description = "Not ready, or replay memory full", body = ErrorBody),
    ))]
pub async fn session(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
    MsgpackBody(body): MsgpackBody,
) -> Result<Response> {
    check(&state, &headers, &src, wire::paths::SESSION, &body).await?;
    let req = SessionRequest::decode(&body)
        .map_err(|e| decode_error(e, SessionRequest::LIMITS.max_bytes))?;
    encoded(&edge::session(&storage(&state)?, req).await?)
}
