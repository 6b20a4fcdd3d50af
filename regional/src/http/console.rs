//! The agent console (`/console`): the page, and the JSON routes it calls
//! with the agent's session cookie ([`crate::console`]).
//!
//! Agents are not tenants: their cookie opens none of the tenant API
//! (`/v1/...` wants the tenant's API key) and none of the operator's. An
//! agent reaches only their tenant's conversations that wait in the queue
//! or that they hold; anything else answers exactly like a missing one.
//! Every read of a conversation and every state change is audited as
//! `agent:<id>`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::api::{Appended, ConversationView, MessageView};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, PathId, Query, Source, check_failures, failed, storage};
use crate::console::{AgentSession, COOKIE, SESSION_TTL_MS, check_login};
use crate::store::handoff::{CannedReply, HandoffEntry, TransferTo};
use crate::store::{TenantStore, now_ms};
use kefu_core::{ConversationId, TenantId};

type Result<T> = std::result::Result<T, ApiError>;

const PAGE: &str = include_str!("../../assets/console.html");
const SCRIPT: &str = include_str!("../../assets/console.js");
/// How long opening a conversation waits for the model's summary.
const SUMMARY_BUDGET: Duration = Duration::from_secs(5);

/// The page runs only its own script, styles inline, talks only to us.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// A signed-in agent, from the session cookie.
#[derive(Debug)]
pub struct Agent {
    /// Their tenant's store.
    pub store: TenantStore,
    /// The session.
    pub session: AgentSession,
    /// Caller address, for audit entries.
    pub source: Source,
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_owned())
        })
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let src = Source::of(parts);
        check_failures(state, &src)?;
        let storage = storage(state)?;
        let session = match cookie(&parts.headers) {
            Some(t) => state.console.session(&storage, &t, now_ms()).await?,
            None => None,
        };
        let Some(session) = session else {
            return Err(failed(state, &storage, &src, "agent.authenticate").await);
        };
        Ok(Agent {
            store: storage.for_agent_session(session.tenant.clone()),
            session,
            source: src,
        })
    }
}

impl Agent {
    fn id(&self) -> &str {
        &self.session.agent
    }
}

fn conversation_id(id: String) -> Result<ConversationId> {
    ConversationId::new(id).map_err(|_| ApiError::NotFound)
}

/// The console page.
#[utoipa::path(get, path = "/console", tag = "console",
    responses((status = 200, description = "The agent console (HTML)", content_type = "text/html")))]
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

/// The console's script.
#[utoipa::path(get, path = "/console/app.js", tag = "console",
    responses((status = 200, description = "The console script", content_type = "text/javascript")))]
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `POST /console/v1/login`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    /// The tenant id.
    #[schema(max_length = 64)]
    pub tenant: String,
    /// The agent's id.
    #[schema(max_length = 64)]
    pub agent_id: String,
    /// The agent's password.
    #[schema(max_length = 256)]
    pub password: String,
}

/// The signed-in agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Tenant id.
    pub tenant: String,
    /// Agent id.
    pub agent_id: String,
    /// Display name.
    pub name: String,
    /// When the session ends, ms since the epoch.
    pub expires_ms: u64,
}

impl Me {
    fn of(s: &AgentSession) -> Me {
        Me {
            tenant: s.tenant.as_str().to_owned(),
            agent_id: s.agent.clone(),
            name: s.name.clone(),
            expires_ms: s.expires_ms,
        }
    }
}

/// Sign in; sets the session cookie.
#[utoipa::path(post, path = "/console/v1/login", tag = "console",
    request_body = LoginIn,
    responses(
        (status = 200, description = "Signed in (Set-Cookie: kefu_agent)", body = Me),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong tenant, agent id or password", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    src: Source,
    headers: HeaderMap,
    Json(l): Json<LoginIn>,
) -> Result<Response> {
    check_failures(&state, &src)?;
    let storage = storage(&state)?;
    let tenant = TenantId::new(l.tenant.clone()).ok();
    let record = match &tenant {
        Some(t) if l.agent_id.len() <= 64 => {
            storage
                .for_agent_session(t.clone())
                .agent(l.agent_id.clone())
                .await?
        }
        _ => None,
    };
    let password = l.password;
    let rec2 = record.clone();
    let ok = tokio::task::spawn_blocking(move || check_login(rec2.as_ref(), &password))
        .await
        .unwrap_or(false);
    let (Some(tenant), Some(rec), true) = (tenant, record, ok) else {
        return Err(failed(&state, &storage, &src, "agent.login").await);
    };
    let (token, session) = state
        .console
        .open(
            &storage,
            tenant,
            l.agent_id,
            rec.name,
            src.0.clone(),
            now_ms(),
        )
        .await?;
    let cookie = format!(
        "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        secure(&headers)
    );
    let mut resp = axum::Json(Me::of(&session)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `; Secure` when the console was reached over https (a TLS terminator in
/// front sets `X-Forwarded-Proto` or `Forwarded: proto=https`): the cookie
/// then never travels in clear. Plain http (the demo) keeps working.
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
        || headers
            .get(header::FORWARDED)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    if https { "; Secure" } else { "" }
}

/// Sign out; clears the cookie.
#[utoipa::path(post, path = "/console/v1/logout", tag = "console",
    responses((status = 204, description = "Signed out")))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if let Some(t) = cookie(&headers) {
        state.console.close(&storage(&state)?, &t).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            format!(
                "{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{}",
                secure(&headers)
            ),
        )],
    )
        .into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/console/v1/me", tag = "console",
    responses(
        (status = 200, description = "The session", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn me(a: Agent) -> axum::Json<Me> {
    axum::Json(Me::of(&a.session))
}

/// One row of the queue view.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    /// The conversation.
    pub conversation_id: String,
    /// The handoff entry (times, group, reasons, agent).
    pub handoff: HandoffEntry,
}

/// `GET /console/v1/queue`
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// Waiting for an agent, oldest first.
    pub waiting: Vec<QueueItem>,
    /// Timed out: the visitor was asked to leave a message.
    pub left_messages: Vec<QueueItem>,
    /// Held by the signed-in agent.
    pub mine: Vec<QueueItem>,
}

/// The queue, left messages and my conversations.
#[utoipa::path(get, path = "/console/v1/queue", tag = "console",
    responses(
        (status = 200, description = "The queue", body = QueueView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn queue(a: Agent) -> Result<axum::Json<QueueView>> {
    let mut all = a.store.handoffs().await?;
    all.sort_by(|x, y| (x.1.queued_ms, &x.0).cmp(&(y.1.queued_ms, &y.0)));
    let mut v = QueueView {
        waiting: Vec::new(),
        left_messages: Vec::new(),
        mine: Vec::new(),
    };
    for (c, e) in all {
        let item = |e| QueueItem {
            conversation_id: c.clone(),
            handoff: e,
        };
        match e.agent.as_deref() {
            Some(x) if x == a.id() => v.mine.push(item(e)),
            Some(_) => {}
            None if e.timed_out_ms.is_some() => v.left_messages.push(item(e)),
            None => v.waiting.push(item(e)),
        }
    }
    Ok(axum::Json(v))
}

/// `GET /console/v1/conversations/{conversation_id}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleConversation {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its handoff entry (reasons, times, agent).
    pub handoff: HandoffEntry,
    /// Routing decisions and handoff changes, oldest first (kept with the
    /// conversation after the handoff ends).
    pub routing: Vec<crate::store::RouteEvent>,
    /// The phone number or e-mail the visitor left, if any.
    pub contact: Option<String>,
    /// A short summary of the conversation so far.
    pub summary: String,
    /// Who wrote the summary: `model` (the configured model) or
    /// `extractive` (the visitor's first questions, the AI's record, the
    /// reasons).
    pub summary_source: String,
    /// Messages after `since`.
    pub messages: Vec<MessageView>,
}

/// `?since=` for the console's reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SinceIn {
    /// Only messages after this seq (default 0: all).
    #[param(minimum = 0)]
    pub since: Option<u64>,
}

/// Open a conversation: transcript, reasons, summary. Audited.
#[utoipa::path(get, path = "/console/v1/conversations/{conversation_id}", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id"), SinceIn),
    responses(
        (status = 200, description = "The conversation", body = ConsoleConversation),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not in the queue and not yours", body = ErrorBody),
    ))]
pub async fn conversation(
    State(state): State<AppState>,
    a: Agent,
    PathId(id): PathId,
    Query(q): Query<SinceIn>,
) -> Result<axum::Json<ConsoleConversation>> {
    let id = conversation_id(id)?;
    let since = q.since.unwrap_or(0);
    let (meta, turns, entry) = a
        .store
        .agent_read(a.id(), &a.source.0, id.clone(), 0)
        .await?;
    // The model's summary when opening (not on every live update), within
    // a short budget; the extractive one otherwise.
    let by_model = match state.generator.current() {
        Some(g) if since == 0 => {
            let zh = turns
                .iter()
                .rev()
                .find(|t| t.role == crate::store::Role::Visitor)
                .is_some_and(|t| kefu_core::Locale::detect(&t.text) == kefu_core::Locale::Zh);
            g.summarize(a.session.tenant.as_str(), &turns, zh, SUMMARY_BUDGET)
                .await
        }
        _ => None,
    };
    let (summary, summary_source) = match by_model {
        Some(s) => (s, "model"),
        None => (crate::console::summary(&turns, &entry), "extractive"),
    };
    Ok(axum::Json(ConsoleConversation {
        conversation: ConversationView::new(id.as_str(), &meta),
        routing: meta.route_log.clone(),
        contact: meta.contact.clone(),
        handoff: entry,
        summary,
        summary_source: summary_source.to_owned(),
        messages: turns
            .into_iter()
            .filter(|t| t.seq > since)
            .map(MessageView::from)
            .collect(),
    }))
}

/// Accept a waiting conversation (or a left message).
#[utoipa::path(post, path = "/console/v1/conversations/{conversation_id}/accept", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Yours now", body = HandoffEntry),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not in the queue", body = ErrorBody),
        (status = 409, description = "Another agent accepted it first, or you are at your limit", body = ErrorBody),
    ))]
pub async fn accept(a: Agent, PathId(id): PathId) -> Result<axum::Json<HandoffEntry>> {
    let id = conversation_id(id)?;
    Ok(axum::Json(
        a.store.agent_accept(a.id(), &a.source.0, id).await?,
    ))
}

/// `POST .../messages`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMessageIn {
    /// The text.
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    /// The console's id for this message; a retry with the same id is not
    /// stored twice.
    #[schema(max_length = 64)]
    pub client_msg_id: Option<String>,
}

/// Reply to the visitor (the conversation must be yours).
#[utoipa::path(post, path = "/console/v1/conversations/{conversation_id}/messages", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    request_body = AgentMessageIn,
    responses(
        (status = 201, description = "Stored", body = Appended),
        (status = 200, description = "Already stored under this client_msg_id", body = Appended),
        (status = 400, description = "Malformed JSON or empty text", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "Not yours", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ))]
pub async fn message(
    State(state): State<AppState>,
    a: Agent,
    PathId(id): PathId,
    Json(m): Json<AgentMessageIn>,
) -> Result<(StatusCode, axum::Json<Appended>)> {
    let id = conversation_id(id)?;
    let out = a
        .store
        .agent_message(
            a.id(),
            id,
            m.text,
            m.client_msg_id,
            state.config.limits.max_message_chars,
        )
        .await?;
    let status = if out.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(Appended {
            seq: out.seq,
            duplicate: out.duplicate,
            at_ms: out.at_ms,
        }),
    ))
}

/// `POST .../transfer` to an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToAgent {
    /// Give it straight to this agent.
    #[schema(min_length = 1, max_length = 64)]
    pub agent_id: String,
}

/// `POST .../transfer` to a group's queue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToGroup {
    /// Put it back in the queue for this group.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub group: String,
}

/// `POST .../transfer`: to an agent, or to a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TransferIn {
    /// To an agent.
    Agent(ToAgent),
    /// To a group.
    Group(ToGroup),
}

/// Transfer to another agent or group (the conversation must be yours).
#[utoipa::path(post, path = "/console/v1/conversations/{conversation_id}/transfer", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    request_body = TransferIn,
    responses(
        (status = 200, description = "Transferred", body = HandoffEntry),
        (status = 400, description = "Not exactly one of agent_id and group, or no such agent", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "Not yours, or the other agent is at their limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    ))]
pub async fn transfer(
    a: Agent,
    PathId(id): PathId,
    Json(t): Json<TransferIn>,
) -> Result<axum::Json<HandoffEntry>> {
    let id = conversation_id(id)?;
    let to = match t {
        TransferIn::Agent(a) => TransferTo::Agent(a.agent_id),
        TransferIn::Group(g) => TransferTo::Group(g.group),
    };
    Ok(axum::Json(
        a.store.agent_transfer(a.id(), &a.source.0, id, to).await?,
    ))
}

/// Hand the conversation back to the AI.
#[utoipa::path(post, path = "/console/v1/conversations/{conversation_id}/handback", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "The AI has it again"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "Not yours", body = ErrorBody),
    ))]
pub async fn handback(a: Agent, PathId(id): PathId) -> Result<StatusCode> {
    let id = conversation_id(id)?;
    a.store
        .agent_release(a.id(), &a.source.0, id, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close the conversation.
#[utoipa::path(post, path = "/console/v1/conversations/{conversation_id}/close", tag = "console",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Closed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "Not yours", body = ErrorBody),
    ))]
pub async fn close(a: Agent, PathId(id): PathId) -> Result<StatusCode> {
    let id = conversation_id(id)?;
    a.store.agent_release(a.id(), &a.source.0, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A colleague, for transfers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Colleague {
    /// Agent id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Console open now.
    pub online: bool,
}

/// `GET /console/v1/agents`
#[derive(Debug, Serialize, ToSchema)]
pub struct Colleagues {
    /// Every agent of the tenant.
    pub agents: Vec<Colleague>,
}

/// The tenant's agents, with who is online.
#[utoipa::path(get, path = "/console/v1/agents", tag = "console",
    responses(
        (status = 200, description = "Agents", body = Colleagues),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn agents(State(state): State<AppState>, a: Agent) -> Result<axum::Json<Colleagues>> {
    let t = a.session.tenant.as_str().to_owned();
    Ok(axum::Json(Colleagues {
        agents: a
            .store
            .agents()
            .await?
            .into_iter()
            .map(|x| Colleague {
                online: state.console.is_online(&t, &x.id),
                id: x.id,
                name: x.record.name,
                groups: x.record.groups,
            })
            .collect(),
    }))
}

/// `?q=` for canned replies.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    /// Words in the title or text (empty: all).
    pub q: Option<String>,
}

/// `GET /console/v1/canned-replies`
#[derive(Debug, Serialize, ToSchema)]
pub struct CannedList {
    /// Matching replies, by id.
    pub replies: Vec<CannedReply>,
}

/// Search the tenant's canned replies.
#[utoipa::path(get, path = "/console/v1/canned-replies", tag = "console",
    params(CannedQuery),
    responses(
        (status = 200, description = "Matching replies", body = CannedList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn canned(a: Agent, Query(q): Query<CannedQuery>) -> Result<axum::Json<CannedList>> {
    Ok(axum::Json(CannedList {
        replies: a.store.canned(q.q.unwrap_or_default()).await?,
    }))
}

/// Live changes: an SSE stream with one `change` event (data: the
/// conversation id) per committed change in the tenant. The agent is online
/// while it is open.
#[utoipa::path(get, path = "/console/v1/events", tag = "console",
    responses(
        (status = 200, description = "text/event-stream of `change` events", content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    a: Agent,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let tenant = a.session.tenant.as_str().to_owned();
    let storage = a.store.clone();
    let rx = storage_watchers(&storage).follow_tenant(&tenant);
    let presence = state.console.present(&tenant, a.id());
    let expires = a.session.expires_ms;
    let stream = futures_util::stream::unfold(
        (rx, presence, true),
        move |(mut rx, presence, first)| async move {
            if first {
                return Some((
                    Ok(Event::default().event("ready").data("{}")),
                    (rx, presence, false),
                ));
            }
            if now_ms() >= expires {
                return None;
            }
            let ev = match rx.recv().await {
                Ok(conv) => Event::default().event("change").data(conv),
                // Fell behind: tell the console to reload everything.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    Event::default().event("reload").data("{}")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(ev), (rx, presence, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn storage_watchers(s: &TenantStore) -> std::sync::Arc<crate::store::watch::Watchers> {
    s.watchers()
}
