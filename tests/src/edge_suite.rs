//! The end-to-end set every edge runtime passes, against a live
//! `kefu-regional serve`: health, a chat turn answered by the regional
//! service, a cache hit on the repeated question (and its report), a 429
//! after the limit, a replay with `since`, a bad visitor signature, an
//! outage acknowledged and delivered exactly once later, and a cache hit
//! that outlives the edge's crash.
//!
//! A runtime is an [`EdgeRuntime`]: how to start the edge in front of a
//! regional service. `tests/tests/edge_*.rs` run the set on each.

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::live::{OPERATOR, Proc, Regional, header, http, json_of};

/// An edge in front of a regional service.
#[allow(missing_debug_implementations)]
pub struct RunningEdge {
    /// Where it listens (127.0.0.1).
    pub port: u16,
    /// Its process, stopped on drop (`None`: it lives in the regional's).
    pub proc: Option<Proc>,
    /// Files it uses (config, local state), removed after the process stops.
    pub state: Option<tempfile::TempDir>,
}

/// How to run the edge on one runtime.
pub trait EdgeRuntime {
    /// Starts a regional service suited to this runtime.
    fn regional(&self) -> Regional {
        self.regional_with(&[])
    }

    /// The same, with `env` added to its environment.
    fn regional_with(&self, env: &[(&str, &str)]) -> Regional {
        Regional::start_with(false, env)
    }

    /// Starts the edge in front of `regional`.
    fn start(&self, regional: &Regional) -> RunningEdge;

    /// Whether the edge's store outlives its instances (Spin key-value,
    /// Workers KV): then it acknowledges a message while the regional
    /// service is down and delivers it later; on memory (plain `wasmtime
    /// serve`) it answers 503 and the widget sends the message again.
    fn durable_store(&self) -> bool {
        true
    }
}

impl RunningEdge {
    fn chat(&self, body: &Value) -> (u16, Vec<(String, String)>, Value) {
        let b = body.to_string();
        let h = [("content-type", "application/json")];
        let (s, headers, body) = http(self.port, "POST", "/v1/chat", &h, b.as_bytes()).unwrap();
        (s, headers, json_of(&body))
    }

    fn ask(&self, widget_key: &str, visitor: &str, msg: &str, cmid: &str) -> Value {
        let (s, _, v) = self.chat(&json!({
            "widget_key": widget_key, "visitor_id": visitor, "message": msg, "client_msg_id": cmid,
        }));
        assert_eq!(s, 200, "{msg}: {v}");
        v
    }
}

fn transcript(regional: &Regional, key: &str, conv: &str) -> Vec<Value> {
    let (s, t) = regional.call("GET", &format!("/v1/conversations/{conv}"), key, None);
    assert_eq!(s, 200, "{t}");
    t["messages"].as_array().unwrap().clone()
}

/// A tenant "acme" whose published knowledge base is one refund FAQ
/// ("How do I get a refund?"); returns its (API key, widget key).
pub fn refund_shop(regional: &Regional) -> (String, String) {
    let (api_key, widget_key) = regional.tenant("acme");
    let faq = json!([{"id": "faq-refund", "question": "How do I get a refund?",
        "answer": "Open My Orders, choose the order and tap Request refund."}]);
    assert_eq!(
        regional.call("POST", "/v1/kb/faqs", &api_key, Some(faq)).0,
        200
    );
    assert_eq!(
        regional.call("POST", "/v1/kb/publish", &api_key, None).0,
        200
    );
    (api_key, widget_key)
}

/// `GET /healthz`, `/widget.js`, an unknown widget key (401) and
/// malformed JSON (400, never forwarded).
pub fn health(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let edge = rt.start(&regional);
    let (s, _, b) = http(edge.port, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!((s, json_of(&b)["status"].clone()), (200, json!("ok")));
    let (s, h, b) = http(edge.port, "GET", "/widget.js", &[], b"").unwrap();
    assert_eq!(s, 200);
    assert!(header(&h, "content-type").unwrap().contains("javascript"));
    assert!(header(&h, "cache-control").is_some_and(|c| c.contains("max-age")));
    assert!(String::from_utf8_lossy(&b).contains("kefu"));
    let (s, _, v) =
        edge.chat(&json!({"widget_key": "kefu_pk_nobody", "visitor_id": "v-1", "message": "hi"}));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unknown_widget_key")),
        "{v}"
    );
    let (s, _, b) = http(
        edge.port,
        "POST",
        "/v1/chat",
        &[("content-type", "application/json")],
        b"{",
    )
    .unwrap();
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    assert!(json_of(&b)["error"]["code"].is_string());
}

/// A turn goes to the regional service and lands in its transcript.
pub fn chat_turn(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = rt.start(&regional);
    let v = edge.ask(&widget_key, "v-1", "How do I get a refund?", "m-1");
    assert_eq!(v["source"], "fallback", "{v}");
    assert_eq!(v["seq"], 2, "{v}");
    let conv = v["conversation_id"].as_str().unwrap();
    let texts: Vec<Value> = transcript(&regional, &api_key, conv)
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0], "How do I get a refund?");
    assert_eq!(texts[1], v["answer"]);
}

/// The repeated question is answered from the edge's cache with the
/// original citations, and the cached turn still reaches the regional
/// store exactly once.
pub fn cache_hit(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (api_key, widget_key) = refund_shop(&regional);
    let edge = rt.start(&regional);
    let first = edge.ask(&widget_key, "v-1", "How do I get a refund?", "m-1");
    assert_eq!(first["source"], "faq", "{first}");
    let conv = first["conversation_id"].as_str().unwrap().to_owned();
    let second = edge.ask(&widget_key, "v-2", "how do i get a refund", "m-1");
    assert_eq!(second["source"], "cache", "{second}");
    assert_eq!(second["answer"], first["answer"]);
    assert_eq!(second["citations"], first["citations"]);
    assert_eq!(second["kb_version"], first["kb_version"]);
    let conv2 = second["conversation_id"].as_str().unwrap().to_owned();
    // The edge reports the turns it answered itself (at the latest with the
    // next request that reaches the regional service).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut n = 0;
    loop {
        let (s, t) = regional.call("GET", &format!("/v1/conversations/{conv2}"), &api_key, None);
        if s == 200 {
            let msgs = t["messages"].as_array().unwrap().clone();
            assert_eq!(msgs.len(), 2, "the cache hit reported once: {t}");
            assert_eq!(msgs[1]["source"], "cache");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache hit never reached the regional store"
        );
        n += 1;
        edge.ask(
            &widget_key,
            "v-3",
            &format!("unrelated question {n}"),
            &format!("m-x{n}"),
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(transcript(&regional, &api_key, &conv).len(), 2);
}

/// A cache hit the visitor has seen is in the regional store even when the
/// edge's process dies (SIGKILL) right after answering: the edge reports
/// the hit before its answer where its own store would die with it (plain
/// `wasmtime serve`'s instance memory, the in-process edge's memory).
/// In-process, the edge's process is the regional service, so the service
/// is killed and started again on its data.
pub fn cache_hit_outlives_a_crash(rt: &dyn EdgeRuntime) {
    let mut regional = rt.regional();
    let (api_key, widget_key) = refund_shop(&regional);
    let edge = rt.start(&regional);
    let first = edge.ask(&widget_key, "v-1", "How do I get a refund?", "m-1");
    assert_eq!(first["source"], "faq", "{first}");
    let hit = edge.ask(&widget_key, "v-2", "how do i get a refund", "m-1");
    assert_eq!(hit["source"], "cache", "{hit}");
    let conv = hit["conversation_id"].as_str().unwrap().to_owned();
    let in_process = edge.proc.is_none();
    drop(edge);
    if in_process {
        regional.stop();
        regional.resume();
    }
    let (s, t) = regional.call("GET", &format!("/v1/conversations/{conv}"), &api_key, None);
    assert_eq!(s, 200, "the answered cache hit was lost with the edge: {t}");
    let texts: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        ["how do i get a refund", hit["answer"].as_str().unwrap()]
    );
}

/// Over the per-visitor limit: 429 with Retry-After; others are not held back.
pub fn limit(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (_, widget_key) = regional.tenant("acme");
    let edge = rt.start(&regional);
    // kefu-core's default: 20 turns per visitor per minute, in one
    // conversation (new conversations per address have their own limit).
    let first = edge.ask(&widget_key, "v-busy", "question 0", "m-0");
    let conv = first["conversation_id"].as_str().unwrap().to_owned();
    for i in 1..20 {
        let (s, _, v) = edge.chat(&json!({"widget_key": widget_key, "visitor_id": "v-busy",
            "conversation_id": conv, "message": format!("question {i}"), "client_msg_id": format!("m-{i}")}));
        assert_eq!(s, 200, "question {i}: {v}");
    }
    let (s, h, v) = edge.chat(&json!({
        "widget_key": widget_key, "visitor_id": "v-busy", "conversation_id": conv,
        "message": "one more", "client_msg_id": "m-20",
    }));
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    assert!(header(&h, "retry-after").is_some_and(|r| r.parse::<u64>().is_ok_and(|n| n > 0)));
    edge.ask(&widget_key, "v-calm", "hello", "m-1");
}

/// Forty turns at once from one visitor: exactly the limit's worth pass
/// (kefu-core's default, 20 a minute, one already used), the rest are 429,
/// and only the admitted ones reach the regional store. For runtimes whose
/// limits are exact under concurrency (in-process: one lock; Workers: the
/// tenant's Durable Object); Spin and plain wasmtime read, check and write.
pub fn limit_under_concurrency(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = rt.start(&regional);
    let first = edge.ask(&widget_key, "v-burst", "question 0", "m-0");
    let conv = first["conversation_id"].as_str().unwrap().to_owned();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let turns: Vec<_> = (1..=40)
            .map(|i| {
                let (edge, widget_key, conv) = (&edge, &widget_key, &conv);
                s.spawn(move || {
                    edge.chat(&json!({"widget_key": widget_key, "visitor_id": "v-burst",
                        "conversation_id": conv, "message": format!("question {i}"),
                        "client_msg_id": format!("m-{i}")}))
                        .0
                })
            })
            .collect();
        turns.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, refused), (19, 21), "{statuses:?}");
    // Visitor and answer for the first turn and each admitted one.
    assert_eq!(transcript(&regional, &api_key, &conv).len(), 2 * 20);
}

/// The model's reply in [`streamed_turn`], grounded in [`LAMP`].
const LAMP_REPLY: &str = "To factory-reset the lamp, hold the power button for 10 seconds until \
    the light blinks red three times [1]. The lamp then restarts and forgets its Wi-Fi network [1].";
/// A document for [`streamed_turn`].
const LAMP: &str = "## Reset\n\nTo factory-reset the lamp, hold the power button for 10 seconds \
    until the light blinks red three times. The lamp then restarts and forgets its Wi-Fi network.";

/// Adds one document to `api_key`'s knowledge base and publishes it.
fn publish_doc(regional: &Regional, api_key: &str, title: &str, text: &str) {
    let (s, v) = regional.call(
        "POST",
        "/v1/kb/documents",
        api_key,
        Some(json!([{"title": title, "text": text}])),
    );
    assert!(s == 200 || s == 201, "{s} {v}");
    let (s, mut v) = regional.call("POST", "/v1/kb/publish", api_key, None);
    assert!(s == 200 || s == 201 || s == 202, "{s} {v}");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Some(job) = v["job_id"].as_str().map(str::to_owned) {
        let (_, j) = regional.call("GET", &format!("/v1/kb/jobs/{job}"), api_key, None);
        if j["kb_version"].is_number() {
            break;
        }
        assert!(
            j["state"] != "failed" && std::time::Instant::now() < end,
            "publish: {j}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        v = j;
    }
}

/// `kefu-fake-openai` writing [`LAMP_REPLY`] one token every `token_ms`;
/// its process and base URL.
fn fake_model(token_ms: u64) -> (Proc, String) {
    use std::io::BufRead;
    crate::live::cargo(&["build", "-p", "kefu-fake-openai"]);
    let mut child =
        std::process::Command::new(crate::live::root().join("target/debug/kefu-fake-openai"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--token-ms",
                &token_ms.to_string(),
                "--reply",
                LAMP_REPLY,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start kefu-fake-openai");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc::new(child), line.trim().to_owned())
}

/// A chat turn asked for as `text/event-stream`, its body as the reads
/// it arrived in.
fn chat_stream(port: u16, body: &Value) -> (String, Vec<String>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let b = body.to_string();
    write!(
        s,
        "POST /v1/chat HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         accept: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut reads = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reads.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
        }
    }
    let all = reads.concat();
    let head = all.split("\r\n\r\n").next().unwrap_or("").to_owned();
    (head, reads)
}

/// With `Accept: text/event-stream` the model's text reaches the visitor
/// while the model writes it: `meta`, then `delta`s in separate reads well
/// before `done` (a buffered answer arrives in one or two), and the answer
/// is stored once, whole.
pub fn streamed_turn(rt: &dyn EdgeRuntime) {
    let (_model, url) = fake_model(60);
    let regional = rt.regional_with(&[("KEFU_LLM_URL", &url), ("KEFU_LLM_MODEL", "fake")]);
    let (api_key, widget_key) = regional.tenant("acme");
    publish_doc(&regional, &api_key, "Smart lamp", LAMP);
    let edge = rt.start(&regional);
    let (head, reads) = chat_stream(
        edge.port,
        &json!({"widget_key": widget_key, "visitor_id": "v-s", "client_msg_id": "m-1",
                "message": "How do I reset the smart lamp to factory settings?"}),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/event-stream"),
        "{head}"
    );
    let done_at = reads
        .iter()
        .position(|r| r.contains("event: done"))
        .unwrap_or_else(|| panic!("no done event: {reads:?}"));
    let early = reads[..done_at]
        .iter()
        .filter(|r| r.contains("event: delta"))
        .count();
    assert!(
        early >= 5,
        "deltas arrived in {early} separate reads before done ({} reads)",
        reads.len()
    );
    let all = reads.concat();
    assert!(all.contains("\"source\":\"llm\""), "{all}");
    let conv = all
        .split("\"conversation_id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no conversation id: {all}"))
        .to_owned();
    let t = transcript(&regional, &api_key, &conv);
    let bots: Vec<&Value> = t.iter().filter(|m| m["role"] == "bot").collect();
    assert_eq!(bots.len(), 1, "{t:?}");
    assert_eq!(bots[0]["text"], LAMP_REPLY);
}

/// A widget that reconnects catches up by seq, agent messages included,
/// with no gaps or duplicates.
pub fn replay(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = rt.start(&regional);
    let v = edge.ask(&widget_key, "v-1", "Where is my parcel?", "m-1");
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    let (s, _) = regional.call(
        "POST",
        &format!("/v1/conversations/{conv}/messages"),
        &api_key,
        Some(json!({"role": "agent", "text": "Hi, Lin here. Let me check."})),
    );
    assert_eq!(s, 201);
    let poll = |since: u64| {
        let path = format!(
            "/v1/conversations/{conv}/messages?since={since}&widget_key={widget_key}&visitor_id=v-1"
        );
        let (s, _, b) = http(edge.port, "GET", &path, &[], b"").unwrap();
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        json_of(&b)
    };
    let all = poll(0);
    let seqs: Vec<u64> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3], "{all}");
    let after = poll(2);
    let m = after["messages"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{after}");
    assert_eq!(
        (m[0]["seq"].as_u64(), m[0]["role"].as_str()),
        (Some(3), Some("agent"))
    );
    // Someone else's visitor id sees nothing of it.
    let path = format!(
        "/v1/conversations/{conv}/messages?since=0&widget_key={widget_key}&visitor_id=v-intruder"
    );
    let (s, _, b) = http(edge.port, "GET", &path, &[], b"").unwrap();
    assert!(s == 403 || s == 404, "{s} {}", String::from_utf8_lossy(&b));
}

/// A tenant that requires signed visitors: a forged signature is 401 and
/// creates nothing; the right one is served.
pub fn bad_signature(rt: &dyn EdgeRuntime) {
    let regional = rt.regional();
    let (api_key, widget_key) = regional.tenant("signed");
    let secret = "identity-secret-for-edge-tests-01";
    let (s, v) = regional.call(
        "PATCH",
        "/admin/v1/tenants/signed/settings",
        OPERATOR,
        Some(json!({"identity_secret": secret, "require_signed_identity": true})),
    );
    assert_eq!(s, 200, "{v}");
    let edge = rt.start(&regional);
    let (s, _, v) = edge.chat(&json!({"widget_key": widget_key, "visitor_id": "alice-42",
        "message": "hi", "client_msg_id": "m-1", "visitor_sig": "0".repeat(64)}));
    assert_eq!(s, 401, "{v}");
    assert!(v["error"]["code"].is_string());
    let (s, _, v) = edge.chat(&json!({"widget_key": widget_key, "visitor_id": "alice-42",
        "message": "hi", "client_msg_id": "m-2"}));
    assert_eq!(s, 401, "a missing signature: {v}");
    let (_, list) = regional.call("GET", "/v1/conversations", &api_key, None);
    assert_eq!(
        list["conversations"],
        json!([]),
        "a refused visitor created state"
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"alice-42");
    let sig = hex::encode(mac.finalize().into_bytes());
    let (s, _, v) = edge.chat(&json!({"widget_key": widget_key, "visitor_id": "alice-42",
        "message": "hi", "client_msg_id": "m-3", "visitor_sig": sig}));
    assert_eq!(s, 200, "{v}");
}

/// The regional service down: the visitor is acknowledged; back up, the
/// turn is delivered exactly once. On an edge whose store is memory, the
/// visitor gets 503 instead, and the retry is answered once it is back.
pub fn outage(rt: &dyn EdgeRuntime) {
    let mut regional = rt.regional();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = rt.start(&regional);
    // The edge learns the tenant's config while the region is up.
    edge.ask(&widget_key, "v-0", "hello", "m-0");
    regional.stop();
    if !rt.durable_store() {
        let (s, h, v) = edge.chat(&json!({"widget_key": widget_key, "visitor_id": "v-1",
            "message": "When will my order ship?", "client_msg_id": "m-1"}));
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (503, Some("unavailable")),
            "{v}"
        );
        assert!(header(&h, "retry-after").is_some(), "{h:?}");
        regional.resume();
        let v = edge.ask(&widget_key, "v-1", "When will my order ship?", "m-1");
        assert_ne!(v["source"], "ack", "{v}");
        let conv = v["conversation_id"].as_str().unwrap();
        let texts: Vec<Value> = transcript(&regional, &api_key, conv)
            .iter()
            .map(|m| m["text"].clone())
            .collect();
        assert_eq!(
            texts,
            [json!("When will my order ship?"), v["answer"].clone()]
        );
        return;
    }
    let v = edge.ask(&widget_key, "v-1", "When will my order ship?", "m-1");
    assert_eq!(v["source"], "ack", "{v}");
    assert_eq!(
        v["answer"],
        "We received your message; an agent will reply here."
    );
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    regional.resume();
    // The next requests that reach the region deliver the outbox first.
    edge.ask(&widget_key, "v-2", "Is the shop open on Sunday?", "m-1");
    edge.ask(&widget_key, "v-3", "Is the shop open on Monday?", "m-1");
    let msgs = transcript(&regional, &api_key, &conv);
    let texts: Vec<&str> = msgs
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        [
            "When will my order ship?",
            "We received your message; an agent will reply here."
        ],
        "delivered exactly once"
    );
    assert_eq!(msgs[0]["client_msg_id"], "m-1");
}
