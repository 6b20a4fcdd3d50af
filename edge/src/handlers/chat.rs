//! `POST /v1/chat`: one visitor message in, one answer out.
//!
//! Body (JSON, at most 16 KiB): `{"widget_key","visitor_id",
//! "conversation_id"?,"message","client_msg_id"?,"visitor_sig"?}`. Answer:
//! `{"conversation_id","seq","answer","source","citations":[…],"handoff"}`.
//! With `Accept: text/event-stream` the same answer comes as the SSE events
//! `meta`, one `delta` per sentence ([`delta_pieces`]) and `done`. The edge
//! still has the whole answer before it writes (the regional answers a turn
//! in one frame), so the events arrive in one body; the widget renders each
//! `delta` as it reads it and needs no change when the edge streams.

use kefu_core::wire::MAX_VISITOR_TEXT_BYTES;
use kefu_core::{ConversationId, VisitorId};
use serde::{Deserialize, Serialize};

use super::{citations, source_name};
use crate::Error;
use crate::cors::{self, Cors};
use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse, MAX_BODY_BYTES};
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

async fn run<P: Platform>(edge: &Edge<P>, req: &EdgeRequest) -> (Cors, Result<ChatReply, Error>) {
    let input = match parse(req) {
        Ok(i) => i,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    let config = match tenant::resolve(edge, &input.widget_key).await {
        Ok(c) => c,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    let cors = match cors::check(&config, req.header("origin")) {
        Ok(c) => c,
        Err(e) => return (Cors::NONE, Err(e)),
    };
    let reply = turn::chat(edge, &config, input, req.client_ip.as_deref()).await;
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

fn wants_sse(req: &EdgeRequest) -> bool {
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
}

fn reply_json(r: &ChatReply) -> ReplyJson<'_> {
    ReplyJson {
        conversation_id: r.conversation.as_str(),
        seq: r.seq,
        answer: &r.answer,
        source: source_name(r.source),
        citations: citations(&r.citations),
        handoff: r.handoff,
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

/// `meta` (ids, source, handoff), a `delta` per sentence, `done` (seq, citations).
fn sse(r: &ChatReply) -> EdgeResponse {
    let j = reply_json(r);
    let meta = serde_json::json!({
        "conversation_id": j.conversation_id, "seq": j.seq, "source": j.source, "handoff": j.handoff,
    });
    let mut body = format!("event: meta\ndata: {meta}\n\n");
    for piece in delta_pieces(j.answer) {
        let delta = serde_json::json!({ "text": piece });
        body.push_str(&format!("event: delta\ndata: {delta}\n\n"));
    }
    let done = serde_json::json!({ "seq": j.seq, "citations": j.citations });
    body.push_str(&format!("event: done\ndata: {done}\n\n"));
    EdgeResponse::empty(200)
        .with_header("content-type", "text/event-stream")
        .with_header("cache-control", "no-store")
        .with_body(body.into_bytes())
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
