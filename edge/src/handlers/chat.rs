//! `POST /v1/chat`: one visitor message in, one answer out.
//!
//! Body (JSON, at most 16 KiB): `{"widget_key","visitor_id",
//! "conversation_id"?,"message","client_msg_id"?,"visitor_sig"?}`. Answer:
//! `{"conversation_id","seq","answer","source","citations":[…],"handoff"}`.
//! With `Accept: text/event-stream` the same answer comes as the SSE events
//! `meta`, `delta`s and `done`:
//! - a model's answer streams through: the edge asks the regional service
//!   for a streamed turn ([`kefu_core::wire::Record`]) and writes each piece
//!   as a `delta` the moment it arrives, on a shim that streams bodies
//!   ([`crate::Edge::handle_into`]); `meta` then comes first without a
//!   `seq` (not known until the answer is stored);
//! - an answer the edge has whole (a curated or extractive answer, a cache
//!   hit, an acknowledgement) comes as `meta` with its `seq`, one `delta`
//!   per sentence ([`delta_pieces`]) and `done`.
//!
//! `done` always carries the stored answer whole (`answer`, `source`,
//! `seq`, `citations`, `conversation_id`, `handoff`, `kb_version` and
//! `cacheable`): deltas are a preview,
//! and a model answer refused at the end is replaced by the extractive one.
//! A failure after the first delta is an `error` event with the usual
//! `{"error":{"code","message"}}` body.

use kefu_core::wire::MAX_VISITOR_TEXT_BYTES;
use kefu_core::{ConversationId, VisitorId};
use serde::{Deserialize, Serialize};

use super::{citations, source_name};
use crate::Error;
use crate::cors::{self, Cors};
use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse, MAX_BODY_BYTES, ResponseSink};
use crate::pipeline::tenant;
use crate::pipeline::turn::{self, ChatInput, ChatReply};
use crate::platform::Platform;

/// The longest message, in characters (the wire's byte bound, about 2 700
/// CJK characters, applies as well).
pub const MAX_MESSAGE_CHARS: usize = 4000;

#[derive(Deserialize)]
struct Body {
    widget_key: String,
    visitor_id: String,
    #[serde(default)]
    conversation_id: Option<String>,
    message: String,
    #[serde(default)]
    client_msg_id: Option<String>,
    #[serde(default)]
    visitor_sig: Option<String>,
}

/// Handles the request.
pub async fn post<P: Platform>(edge: &Edge<P>, req: &EdgeRequest) -> EdgeResponse {
    let (cors, result) = run(edge, req).await;
    let r = match result {
        Ok(reply) if wants_sse(req) => sse(&reply),
        Ok(reply) => json(&reply),
        Err(e) => e.to_response(),
    };
    cors.apply(r)
}

/// Handles a request that asked for `text/event-stream`, writing a
/// model's answer into `sink` as the regional service streams it.
pub async fn post_stream<P: Platform>(
    edge: &Edge<P>,
    req: &EdgeRequest,
    sink: &mut dyn ResponseSink,
) {
    let (input, config, cors) = match checks(edge, req).await {
        Ok(x) => x,
        Err((cors, e)) => return cors.apply(e.to_response()).send_to(sink),
    };
    let head = cors.apply(sse_head()).headers;
    let early = serde_json::json!({
        "conversation_id": input.conversation.as_ref().map(|c| c.as_str().to_owned()),
        "source": "llm",
    });
    let mut started = false;
    let reply = {
        let started = &mut started;
        let sink = &mut *sink;
        let mut on_delta = |text: &str| {
            if !*started {
                *started = true;
                sink.head(200, &head);
                sink.body(event("meta", &early).as_bytes());
            }
            sink.body(event("delta", &serde_json::json!({ "text": text })).as_bytes());
        };
        turn::chat(
            edge,
            &config,
            input,
            req.client_ip.as_deref(),
            Some(&mut on_delta),
        )
        .await
    };
    match (reply, started) {
        (Ok(r), true) => sink.body(event("done", &done_json(&reply_json(&r))).as_bytes()),
        (Ok(r), false) => cors.apply(sse(&r)).send_to(sink),
        (Err(e), true) => {
            let body: serde_json::Value =
                serde_json::from_slice(&e.to_response().body).unwrap_or_default();
            sink.body(event("error", &body).as_bytes());
        }
        (Err(e), false) => cors.apply(e.to_response()).send_to(sink),
    }
}

/// Parse, tenant, origin: what every chat request passes before its turn.
async fn checks<P: Platform>(
    edge: &Edge<P>,
    req: &EdgeRequest,
) -> Result<(ChatInput, kefu_core::wire::TenantConfig, Cors), (Cors, Error)> {
    let input = parse(req).map_err(|e| (Cors::NONE, e))?;
    let config = tenant::resolve(edge, &input.widget_key)
        .await
        .map_err(|e| (Cors::NONE, e))?;
    let cors = cors::check(&config, req.header("origin")).map_err(|e| (Cors::NONE, e))?;
    Ok((input, config, cors))
}

async fn run<P: Platform>(edge: &Edge<P>, req: &EdgeRequest) -> (Cors, Result<ChatReply, Error>) {
    let (input, config, cors) = match checks(edge, req).await {
        Ok(x) => x,
        Err((cors, e)) => return (cors, Err(e)),
    };
    let reply = turn::chat(edge, &config, input, req.client_ip.as_deref(), None).await;
    (cors, reply)
}

/// Size, media type, UTF-8, JSON shape and field formats, in that order.
pub fn parse(req: &EdgeRequest) -> Result<ChatInput, Error> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge);
    }
    let json_type = req.header("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json_type {
        return Err(Error::UnsupportedMediaType);
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| Error::bad_request("body_not_utf8", "the body is not valid UTF-8"))?;
    let b: Body = serde_json::from_str(text).map_err(|_| {
        Error::bad_request(
            "bad_json",
            "expected {widget_key, visitor_id, message, conversation_id?, client_msg_id?, visitor_sig?}",
        )
    })?;
    if let Some(q) = req.query_param("widget_key")
        && q != b.widget_key
    {
        return Err(Error::bad_request(
            "widget_key_mismatch",
            "the query and the body name different widget keys",
        ));
    }
    let visitor = VisitorId::new(b.visitor_id).map_err(|_| {
        Error::bad_request(
            "bad_visitor_id",
            "visitor_id must be 1..=64 printable ASCII bytes",
        )
    })?;
    let conversation = b
        .conversation_id
        .map(ConversationId::new)
        .transpose()
        .map_err(|_| {
            Error::bad_request(
                "bad_conversation_id",
                "conversation_id must be 1..=64 printable ASCII bytes",
            )
        })?;
    if b.message.trim().is_empty() {
        return Err(Error::bad_request("empty_message", "message is empty"));
    }
    if b.message.len() > MAX_VISITOR_TEXT_BYTES || b.message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::bad_request(
            "message_too_long",
            "message longer than 4000 characters or 8 KiB",
        ));
    }
    let id_ok = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_graphic());
    if b.client_msg_id.as_deref().is_some_and(|c| !id_ok(c)) {
        return Err(Error::bad_request(
            "bad_client_msg_id",
            "client_msg_id must be 1..=64 printable ASCII bytes",
        ));
    }
    if b.visitor_sig.as_deref().is_some_and(|s| s.len() > 128) {
        return Err(Error::BadVisitorSignature);
    }
    Ok(ChatInput {
        widget_key: b.widget_key,
        visitor,
        conversation,
        message: b.message,
        client_msg_id: b.client_msg_id,
        visitor_sig: b.visitor_sig,
    })
}

/// Whether the request asked for `text/event-stream`.
pub fn wants_sse(req: &EdgeRequest) -> bool {
    req.header("accept")
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"))
}

#[derive(Serialize)]
struct ReplyJson<'a> {
    conversation_id: &'a str,
    seq: u64,
    answer: &'a str,
    source: String,
    citations: Vec<super::CitationJson<'a>>,
    handoff: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kb_version: Option<u64>,
    cacheable: bool,
}

fn reply_json(r: &ChatReply) -> ReplyJson<'_> {
    ReplyJson {
        conversation_id: r.conversation.as_str(),
        seq: r.seq,
        answer: &r.answer,
        source: source_name(r.source),
        citations: citations(&r.citations),
        handoff: r.handoff,
        kb_version: r.kb_version.map(|v| v.0),
        cacheable: r.cacheable,
    }
}

fn json(r: &ChatReply) -> EdgeResponse {
    let body = serde_json::to_vec(&reply_json(r)).unwrap_or_default();
    EdgeResponse::json(200, body).with_header("cache-control", "no-store")
}

/// The shortest piece [`delta_pieces`] cuts, in characters.
pub const MIN_DELTA_CHARS: usize = 12;

/// The answer cut after sentence ends (`。！？；.!?;` followed by a space or
/// a CJK character, and line breaks), pieces shorter than
/// [`MIN_DELTA_CHARS`] joined to the next. The pieces concatenate to `text`.
pub fn delta_pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let cut = match c {
            '\n' | '。' | '！' | '？' | '；' => true,
            '.' | '!' | '?' | ';' => chars.peek().is_none_or(|&(_, n)| n == ' ' || n == '\n'),
            _ => false,
        };
        if cut && text[start..end].chars().count() >= MIN_DELTA_CHARS {
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// One SSE event.
fn event(name: &str, data: &serde_json::Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn sse_head() -> EdgeResponse {
    EdgeResponse::empty(200)
        .with_header("content-type", "text/event-stream")
        .with_header("cache-control", "no-store")
}

/// `done`: the stored answer whole.
fn done_json(j: &ReplyJson<'_>) -> serde_json::Value {
    serde_json::json!({
        "conversation_id": j.conversation_id, "seq": j.seq, "answer": j.answer,
        "source": j.source, "citations": j.citations, "handoff": j.handoff,
        "kb_version": j.kb_version, "cacheable": j.cacheable,
    })
}

/// `meta` (ids, source, handoff), a `delta` per sentence, `done`.
fn sse(r: &ChatReply) -> EdgeResponse {
    let j = reply_json(r);
    let meta = serde_json::json!({
        "conversation_id": j.conversation_id, "seq": j.seq, "source": j.source, "handoff": j.handoff,
    });
    let mut body = event("meta", &meta);
    for piece in delta_pieces(j.answer) {
        body.push_str(&event("delta", &serde_json::json!({ "text": piece })));
    }
    body.push_str(&event("done", &done_json(&j)));
    sse_head().with_body(body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::delta_pieces;

    #[test]
    fn pieces_cut_at_sentence_ends_and_join_back() {
        let en =
            "Refunds take 3-5 days. Contact us at help@shop.example if not! Version 1.2 is fine";
        let p = delta_pieces(en);
        assert_eq!(p.concat(), en);
        assert_eq!(p[0], "Refunds take 3-5 days.");
        assert_eq!(p.len(), 3, "{p:?}");
        let zh = "退款会在审核通过后原路退回。一般需要 3-5 个工作日到账！如有疑问请联系人工客服。";
        let p = delta_pieces(zh);
        assert_eq!(p.concat(), zh);
        assert_eq!(p.len(), 3, "{p:?}");
        // Short pieces join the next one; nothing is lost or empty.
        let short = "OK. Yes. Sure. Fine.";
        assert_eq!(delta_pieces(short).concat(), short);
        assert!(delta_pieces(short).iter().all(|s| !s.is_empty()));
        assert!(delta_pieces("").is_empty());
    }
}
