//! Tenant routes (`/v1/conversations...`). The tenant comes only from the API
//! key ([`Tenant`]); ids in the path are looked up inside that tenant, so
//! another tenant's id answers exactly like a missing one.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::api::{
    AppendMessage, Appended, ChangeState, ConversationList, ConversationView, CreateConversation,
    ListParams, MessagePage, MessageView, SinceParams, Transcript, VisitorExport,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, PathId, Query, Tenant};
use crate::store::conversations::AppendInput;
use crate::store::erase::Erased;
use kefu_core::{ConversationId, VisitorId};

type Result<T> = std::result::Result<T, ApiError>;

/// A path id that cannot be a conversation id cannot exist: 404, like a missing one.
fn conversation_id(id: String) -> Result<ConversationId> {
    ConversationId::new(id).map_err(|_| ApiError::NotFound)
}

/// Start a conversation.
#[utoipa::path(post, path = "/v1/conversations", tag = "conversations",
    request_body = CreateConversation,
    security(("tenant_key" = [])),
    responses(
        (status = 201, description = "Created", body = ConversationView),
        (status = 400, description = "Malformed JSON or invalid visitor id", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn create(
    t: Tenant,
    Json(req): Json<CreateConversation>,
) -> Result<(StatusCode, axum::Json<ConversationView>)> {
    let visitor = req
        .visitor_id
        .map(VisitorId::new)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("visitor_id: {e}")))?;
    let c = t.store.create_conversation(visitor).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ConversationView::from_conversation(&c)),
    ))
}

/// List the tenant's conversations, by id.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations",
    params(ListParams),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationList),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn list(t: Tenant, Query(p): Query<ListParams>) -> Result<axum::Json<ConversationList>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1..=1000".into()));
    }
    let page = t.store.list(p.after, limit).await?;
    let next_after = (page.len() == limit)
        .then(|| page.last().map(|c| c.id.as_str().to_owned()))
        .flatten();
    Ok(axum::Json(ConversationList {
        conversations: page
            .iter()
            .map(ConversationView::from_conversation)
            .collect(),
        next_after,
    }))
}

/// The full transcript (audited as a read of the conversation).
#[utoipa::path(get, path = "/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The conversation and its messages", body = Transcript),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such conversation for this tenant", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn transcript(t: Tenant, PathId(id): PathId) -> Result<axum::Json<Transcript>> {
    let id = conversation_id(id)?;
    let (meta, turns) = t.store.transcript(&t.source.0, id.clone()).await?;
    Ok(axum::Json(Transcript {
        conversation: ConversationView::new(id.as_str(), &meta),
        messages: turns.into_iter().map(MessageView::from).collect(),
        routing: meta.route_log,
        contact: meta.contact,
    }))
}

/// Append a message. Acknowledged (201) only after it is durably committed;
/// a repeated `client_msg_id` answers 200 with the first seq.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/messages", tag = "conversations",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    request_body = AppendMessage,
    security(("tenant_key" = [])),
    responses(
        (status = 201, description = "Stored", body = Appended),
        (status = 200, description = "Already stored under this client_msg_id", body = Appended),
        (status = 400, description = "Malformed JSON or invalid message", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such conversation for this tenant", body = ErrorBody),
        (status = 409, description = "expected_seq conflicts, or the conversation is closed", body = ErrorBody),
        (status = 413, description = "Body or text too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn append(
    State(state): State<AppState>,
    t: Tenant,
    PathId(id): PathId,
    Json(m): Json<AppendMessage>,
) -> Result<(StatusCode, axum::Json<Appended>)> {
    let id = conversation_id(id)?;
    let input = AppendInput {
        role: m.role.into(),
        text: m.text,
        source: m.source.map(Into::into),
        citations: m.citations.into_iter().map(Into::into).collect(),
        client_msg_id: m.client_msg_id,
        expected_seq: m.expected_seq,
    };
    let a = t
        .store
        .append(id, input, state.config.limits.max_message_chars)
        .await?;
    let status = if a.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(Appended {
            seq: a.seq,
            duplicate: a.duplicate,
            at_ms: a.at_ms,
        }),
    ))
}

/// Messages after `since` (the live polling path; not audited).
#[utoipa::path(get, path = "/v1/conversations/{conversation_id}/messages", tag = "conversations",
    params(("conversation_id" = String, Path, description = "Conversation id"), SinceParams),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Messages after since", body = MessagePage),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such conversation for this tenant", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn messages(
    t: Tenant,
    PathId(id): PathId,
    Query(p): Query<SinceParams>,
) -> Result<axum::Json<MessagePage>> {
    let id = conversation_id(id)?;
    let limit = p.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1..=1000".into()));
    }
    let since = p.since.unwrap_or(0);
    if since > crate::json_int::MAX {
        return Err(ApiError::BadRequest(
            "since is out of range (at most 2^63-1)".into(),
        ));
    }
    let (meta, turns) = t.store.messages_since(id.clone(), since, limit).await?;
    Ok(axum::Json(MessagePage {
        conversation: ConversationView::new(id.as_str(), &meta),
        messages: turns.into_iter().map(MessageView::from).collect(),
    }))
}

/// Change the conversation's state (handoff to a human, back to the AI, close). Audited.
#[utoipa::path(put, path = "/v1/conversations/{conversation_id}/state", tag = "conversations",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    request_body = ChangeState,
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The conversation after the change", body = ConversationView),
        (status = 400, description = "Malformed JSON or unknown state", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such conversation for this tenant", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn set_state(
    t: Tenant,
    PathId(id): PathId,
    Json(c): Json<ChangeState>,
) -> Result<axum::Json<ConversationView>> {
    let id = conversation_id(id)?;
    let meta = t
        .store
        .set_state(&t.source.0, id.clone(), c.state.into())
        .await?;
    Ok(axum::Json(ConversationView::new(id.as_str(), &meta)))
}

/// Delete a conversation: its messages, its place in the handoff queue and
/// its metadata, in one audited transaction (`conversation.delete`).
/// Copies an edge holds (the visitor's session) expire with the edge's
/// session TTL.
#[utoipa::path(delete, path = "/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = String, Path, description = "Conversation id")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Deleted; what was removed", body = Erased),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such conversation for this tenant", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn delete(t: Tenant, PathId(id): PathId) -> Result<axum::Json<Erased>> {
    let id = conversation_id(id)?;
    Ok(axum::Json(
        t.store.delete_conversation(&t.source.0, id).await?,
    ))
}

/// Erase a visitor: every conversation of theirs, as a person's request to
/// have their data deleted (PIPL art. 47, GDPR art. 17). Audited as
/// `visitor.erase`, naming the visitor only by a digest. A visitor with no
/// conversations erases nothing and answers zeros.
#[utoipa::path(delete, path = "/v1/visitors/{visitor_id}", tag = "conversations",
    params(("visitor_id" = String, Path, description = "The visitor id the widget or the tenant's site used")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Erased; what was removed", body = Erased),
        (status = 400, description = "Not a valid visitor id", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn erase_visitor(t: Tenant, PathId(id): PathId) -> Result<axum::Json<Erased>> {
    let visitor =
        VisitorId::new(id).map_err(|e| ApiError::BadRequest(format!("visitor_id: {e}")))?;
    Ok(axum::Json(
        t.store.erase_visitor(&t.source.0, visitor).await?,
    ))
}

/// Everything kept about one visitor: each of their conversations with its
/// messages, routing and contact — the copy a person may ask for (PIPL
/// art. 45, GDPR art. 15). Audited as `visitor.export`, naming the visitor
/// by a digest. A visitor with no conversations gets an empty list.
#[utoipa::path(get, path = "/v1/visitors/{visitor_id}/conversations", tag = "conversations",
    params(("visitor_id" = String, Path, description = "The visitor id the widget or the tenant's site used")),
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The visitor's conversations", body = VisitorExport),
        (status = 400, description = "Not a valid visitor id", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn export_visitor(t: Tenant, PathId(id): PathId) -> Result<axum::Json<VisitorExport>> {
    let visitor =
        VisitorId::new(id).map_err(|e| ApiError::BadRequest(format!("visitor_id: {e}")))?;
    let visitor_id = visitor.as_str().to_owned();
    let found = t.store.export_visitor(&t.source.0, visitor).await?;
    Ok(axum::Json(VisitorExport {
        visitor_id,
        conversations: found
            .into_iter()
            .map(|(id, meta, turns)| Transcript {
                conversation: ConversationView::new(&id, &meta),
                messages: turns.into_iter().map(MessageView::from).collect(),
                routing: meta.route_log,
                contact: meta.contact,
            })
            .collect(),
    }))
}
