//! `GET /v1/conversations/{id}/messages?since=N&widget_key=..&visitor_id=..&visitor_sig=..`:
//! the messages after seq `N` (all in the window without `since`), agent
//! messages included, waiting up to the configured long-poll time (25 s)
//! for one to arrive.
//!
//! Answer: `{"conversation_id","messages":[{"seq","role","text","source",
//! "citations","at_ms"}],"handoff","truncated","more","degraded"}`: after
//! `since`, at most a window of turns, the oldest first — `more` says newer
//! ones wait, so a widget that was away catches up without a gap; a degraded
//! answer (regional unreachable) also carries `"retry_ms"`.

use kefu_core::ConversationId;
use kefu_core::VisitorId;
use kefu_core::session::Role;
use serde::Serialize;

use super::{CitationJson, citations, source_name};
use crate::Error;
use crate::cors::{self, Cors};
use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::pipeline::poll::{self, PollInput, PollReply};
use crate::pipeline::tenant;
use crate::platform::Platform;

/// How long a degraded answer asks the widget to wait before polling again.
pub const DEGRADED_RETRY_MS: u64 = 5_000;

/// Handles the request for conversation `id` (the raw path segment).
pub async fn get<P: Platform>(edge: &Edge<P>, req: &EdgeRequest, id: &str) -> EdgeResponse {
    let (cors, result) = run(edge, req, id).await;
    cors.apply(match result {
        Ok(reply) => render(&reply),
        Err(e) => e.to_response(),
    })
}

async fn run<P: Platform>(
    edge: &Edge<P>,
    req: &EdgeRequest,
    id: &str,
) -> (Cors, Result<PollReply, Error>) {
    let (key, input) = match parse(req, id) {
        Ok(x) => x,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    let config = match tenant::resolve(edge, &key).await {
        Ok(c) => c,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    let cors = match cors::check(&config, req.header("origin")) {
        Ok(c) => c,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    (cors, poll::messages(edge, &config, input).await)
}

/// The widget key and the validated input.
pub fn parse(req: &EdgeRequest, id: &str) -> Result<(String, PollInput), Error> {
    let conversation = ConversationId::new(id).map_err(|_| {
        Error::bad_request(
            "bad_conversation_id",
            "conversation id must be 1..=64 printable ASCII bytes",
        )
    })?;
    let since = match req.query_param("since") {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            Error::bad_request("bad_since", "since must be a non-negative integer")
        })?),
    };
    let key = req.query_param("widget_key").ok_or(Error::bad_request(
        "missing_widget_key",
        "put widget_key in the query string",
    ))?;
    let visitor = req
        .query_param("visitor_id")
        .and_then(|v| VisitorId::new(v).ok())
        .ok_or(Error::bad_request(
            "bad_visitor_id",
            "visitor_id (1..=64 printable ASCII bytes) is required",
        ))?;
    let visitor_sig = req.query_param("visitor_sig");
    Ok((
        key,
        PollInput {
            conversation,
            visitor,
            since,
            visitor_sig,
        },
    ))
}

#[derive(Serialize)]
struct Message<'a> {
    seq: u64,
    role: Role,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    citations: Vec<CitationJson<'a>>,
    at_ms: u64,
}

#[derive(Serialize)]
struct Body<'a> {
    conversation_id: &'a str,
    messages: Vec<Message<'a>>,
    handoff: bool,
    truncated: bool,
    more: bool,
    degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_ms: Option<u64>,
}

fn render(r: &PollReply) -> EdgeResponse {
    let body = Body {
        conversation_id: r.conversation.as_str(),
        messages: r
            .messages
            .iter()
            .map(|t| Message {
                seq: t.seq,
                role: t.role,
                text: &t.text,
                source: t.source.map(source_name),
                citations: citations(&t.citations),
                at_ms: t.at_ms,
            })
            .collect(),
        handoff: r.handoff,
        truncated: r.truncated,
        more: r.more,
        degraded: r.degraded,
        retry_ms: r.degraded.then_some(DEGRADED_RETRY_MS),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    EdgeResponse::json(200, bytes).with_header("cache-control", "no-store")
}
