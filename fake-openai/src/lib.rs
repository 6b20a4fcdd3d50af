//! A fake OpenAI-compatible server: the one test double kefu allows, for a
//! remote LLM. It speaks enough of the API that kefu's client cannot tell
//! it from vLLM or llama.cpp's `llama-server` (`/v1/chat/completions`,
//! streaming and not, `/v1/embeddings`, `/v1/models`, `/health`), and it
//! follows a [`Script`]: latency before the headers, time to the first
//! token, token rate, the reply, injected errors and stalls.
//!
//! Per request, the `model` name can override the script:
//! `fail-<status>` answers that status, `stall-<n>` stops after `n` tokens
//! and hangs, `echo` replies with the last user message. Headers can too:
//! `x-fake-status: <status>` fails, `x-fake-stall: <n>` stalls,
//! `x-fake-ttft-ms: <ms>` sets the time to the first token and
//! `x-fake-tokens: <n>` the reply length.

#[cfg(feature = "tls")]
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Script {
    /// Delay before the response headers.
    pub latency: Duration,
    /// Delay from the headers to the first token.
    pub ttft: Duration,
    /// Delay between tokens.
    pub token_gap: Duration,
    /// The reply, sent word by word (with its spaces); `None` echoes the
    /// last user message.
    pub reply: Option<String>,
    /// Every `n`th request (1 = all, 0 = none) fails with `error_status`.
    pub fail_every: u64,
    /// The status of an injected failure.
    pub error_status: u16,
    /// Stop after this many tokens and hang (a stalled upstream).
    pub stall_after: Option<usize>,
    /// Reply with exactly this many tokens (`tok0 tok1 …`) instead of
    /// `reply`.
    pub total_tokens: Option<usize>,
    /// Replies by request: the first `(needle, reply)` whose needle occurs
    /// in one of the request's messages replies `reply` instead of
    /// `reply` (e.g. a system prompt's phrase to script one kind of call).
    pub replies_when: Vec<(String, String)>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            latency: Duration::ZERO,
            ttft: Duration::ZERO,
            token_gap: Duration::ZERO,
            reply: Some("This is a scripted answer [1].".into()),
            fail_every: 0,
            error_status: 500,
            stall_after: None,
            total_tokens: None,
            replies_when: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Shared {
    script: Script,
    requests: AtomicU64,
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeOpenAi {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(script: Script) -> anyhow::Result<FakeOpenAi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        FakeOpenAi::serve(listener, script)
    }

    /// Serves on `listener`.
    pub fn serve(listener: tokio::net::TcpListener, script: Script) -> anyhow::Result<FakeOpenAi> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            requests: AtomicU64::new(0),
        });
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeOpenAi { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Chat requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The router (for embedding the fake in another server).
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(shared)
}

fn last_user(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// Splits text into tokens that concatenate back to it (words with their
/// trailing space; CJK characters one by one).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if ('\u{4e00}'..='\u{9fff}').contains(&c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else {
            cur.push(c);
            if c == ' ' {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A per-request override from header `name`.
fn header_num<T: std::str::FromStr>(h: &axum::http::HeaderMap, name: &str) -> Option<T> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

async fn chat(
    State(s): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let mut script = s.script.clone();
    if let Some(ms) = header_num::<u64>(&headers, "x-fake-ttft-ms") {
        script.ttft = Duration::from_millis(ms);
    }
    if let Some(k) = header_num::<usize>(&headers, "x-fake-stall") {
        script.stall_after = Some(k);
    }
    if let Some(k) = header_num::<usize>(&headers, "x-fake-tokens") {
        script.total_tokens = Some(k);
    }
    let header_status = header_num::<u16>(&headers, "x-fake-status");
    let sc = &script;
    tokio::time::sleep(sc.latency).await;
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let forced = model
        .strip_prefix("fail-")
        .and_then(|x| x.parse::<u16>().ok());
    let failing = sc.fail_every > 0 && n.is_multiple_of(sc.fail_every);
    if let Some(status) = header_status
        .or(forced)
        .or(failing.then_some(sc.error_status))
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            axum::Json(json!({"error": {"message": "scripted failure", "type": "server_error"}})),
        )
            .into_response();
    }
    let stall = model
        .strip_prefix("stall-")
        .and_then(|x| x.parse::<usize>().ok())
        .or(sc.stall_after);
    let matched = body["messages"].as_array().and_then(|ms| {
        sc.replies_when.iter().find_map(|(needle, r)| {
            ms.iter()
                .any(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.contains(needle.as_str()))
                })
                .then(|| r.clone())
        })
    });
    let reply = matched.or_else(|| sc.reply.clone());
    let text = match (sc.total_tokens, &reply, model.as_str()) {
        (Some(k), _, _) => (0..k).map(|i| format!("tok{i} ")).collect(),
        (None, _, "echo") | (None, None, _) => last_user(&body),
        (None, Some(r), _) => r.clone(),
    };
    let toks = tokens(&text);
    if body["stream"].as_bool() != Some(true) {
        tokio::time::sleep(sc.ttft + sc.token_gap * toks.len() as u32).await;
        return axum::Json(json!({
            "id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }))
        .into_response();
    }
    let (ttft, gap) = (sc.ttft, sc.token_gap);
    let stream = futures_util::stream::unfold(0usize, move |i| {
        let toks = toks.clone();
        async move {
            if stall.is_some_and(|k| i >= k) {
                // Hang: a stalled upstream keeps the connection open.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return None;
            }
            tokio::time::sleep(if i == 0 { ttft } else { gap }).await;
            let chunk = match toks.get(i) {
                Some(t) => {
                    let c = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}]});
                    format!("data: {c}\n\n")
                }
                None if i == toks.len() => {
                    let c = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                    format!("data: {c}\n\ndata: [DONE]\n\n")
                }
                None => return None,
            };
            Some((Ok::<_, std::convert::Infallible>(chunk), i + 1))
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn embeddings(body: axum::Json<Value>) -> Response {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "input must be a string or an array",
            )
                .into_response();
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": hashed_vector(t, 16)}))
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": body["model"]})).into_response()
}

/// A deterministic unit vector for `text` (FNV-1a of its words).
pub fn hashed_vector(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0f32; dim.max(1)];
    for w in text.split_whitespace() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.to_lowercase().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let len = v.len() as u64;
        if let Some(x) = v.get_mut((h % len) as usize) {
            *x += 1.0;
        }
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

async fn models() -> axum::Json<Value> {
    axum::Json(json!({"object": "list", "data": [{"id": "fake", "object": "model"}]}))
}
