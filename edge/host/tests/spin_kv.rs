//! The Spin build of kefu-edge-spin (`spin:key-value`, `spin:variables`)
//! under [`SpinHost`], in front of a real `kefu-regional serve`.
//!
//! The component is built with cargo first (a no-op when fresh) and copied
//! aside; it is compiled once per test process and each test gets its own
//! host over it (an empty key-value store, its own regional URL). The
//! regional service is `kefu_tests::live::Regional`, as in the other
//! cross-runtime tests: on 127.0.0.1, a free port, readiness polled, killed
//! on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bytes::Bytes;
use kefu_core::SlidingWindow;
use kefu_core::codec::{self, DecodeLimits};
use kefu_core::session::Session;
use kefu_core::wire::{EdgeReport, Frame};
use kefu_edge_host::SpinHost;
use kefu_tests::live::{EDGE_KEY, OPERATOR, Regional, cargo, json_of, root};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The Spin build of the component (what `scripts/build-edge.sh` copies to
/// `target/edge/kefu-edge-spin.wasm`), copied aside: the `wasmtime-serve`
/// build shares its cargo output path.
fn component() -> &'static Path {
    static WASM: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    &WASM
        .get_or_init(|| {
            cargo(&[
                "build",
                "-p",
                "kefu-edge-spin",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "wasm-release",
            ]);
            let built = root().join("target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm");
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("kefu-edge-spin.wasm");
            std::fs::copy(&built, &copy).expect("copy the component");
            (dir, copy)
        })
        .1
}

/// The component compiled once for the process; tests take
/// [`SpinHost::fresh`] copies of it.
fn compiled() -> &'static SpinHost {
    static HOST: OnceLock<SpinHost> = OnceLock::new();
    HOST.get_or_init(|| SpinHost::new(component()).expect("compile the component"))
}

/// A host with an empty store, pointed at the regional service on `port`.
fn spin_host(regional_port: u16) -> SpinHost {
    compiled().fresh([
        ("regional_url", format!("http://127.0.0.1:{regional_port}")),
        ("regional_secret", EDGE_KEY.to_owned()),
    ])
}

/// The conversation's transcript at the regional service.
fn transcript(regional: &Regional, api_key: &str, conv: &str) -> (u16, Value) {
    regional.call("GET", &format!("/v1/conversations/{conv}"), api_key, None)
}

fn texts(t: &Value) -> Vec<String> {
    t["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {t}"))
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Status, headers, JSON body of one request through the host.
fn send(host: &SpinHost, req: http::Request<Bytes>) -> (u16, http::HeaderMap, Value) {
    let r = host.handle(req);
    let (parts, body) = r.into_parts();
    (parts.status.as_u16(), parts.headers, json_of(&body))
}

fn get(host: &SpinHost, path: &str) -> (u16, http::HeaderMap, Value) {
    let req = http::Request::get(path).body(Bytes::new()).unwrap();
    send(host, req)
}

fn chat(host: &SpinHost, body: Value, extra: &[(&str, &str)]) -> (u16, http::HeaderMap, Value) {
    let mut b = http::Request::post("/v1/chat").header("content-type", "application/json");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    send(host, b.body(Bytes::from(body.to_string())).unwrap())
}

fn ask(host: &SpinHost, widget_key: &str, visitor: &str, msg: &str, cmid: &str) -> Value {
    let (s, _, v) = chat(
        host,
        json!({"widget_key": widget_key, "visitor_id": visitor, "message": msg, "client_msg_id": cmid}),
        &[],
    );
    assert_eq!(s, 200, "{v}");
    v
}

/// The stored value without kefu-edge-spin's 8-byte expiry prefix, checked
/// not to have expired.
fn unwrap_expiry(stored: &[u8]) -> &[u8] {
    let (head, value) = stored.split_at(8);
    let exp = u64::from_be_bytes(head.try_into().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(exp == 0 || exp > now, "entry expired: {exp} <= {now}");
    value
}

/// Keys of the host's store starting with `prefix`.
fn keys(host: &SpinHost, prefix: &str) -> Vec<String> {
    host.kv_snapshot()
        .into_keys()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// The spin:key-value and spin:variables WIT this crate binds is spin-sdk's
/// own: the copies under `wit/deps/` match the spin-sdk the component
/// locks.
#[test]
fn the_bound_wit_is_spin_sdks() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sdk = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "spin-sdk")
        .expect("spin-sdk in the workspace's dependency graph");
    let sdk_dir = Path::new(sdk["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    for file in [
        "spin-key-value@3.0.0/key-value.wit",
        "spin-variables@3.0.0/variables.wit",
    ] {
        let theirs = std::fs::read_to_string(sdk_dir.join("wit/deps").join(file)).unwrap();
        let ours = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("wit/deps")
                .join(file),
        )
        .unwrap();
        assert_eq!(
            ours, theirs,
            "wit/deps/{file} differs from spin-sdk {}",
            sdk["version"]
        );
    }
}

#[test]
fn health_a_turn_its_session_in_kv_and_the_cached_repeat() {
    let regional = Regional::start();
    let (api_key, widget_key) = regional.tenant("acme");
    // Caching on for the tenant (the default, stated), and a published KB:
    // FAQ answers are what the regional service marks cacheable.
    let (s, v) = regional.call(
        "PATCH",
        "/admin/v1/tenants/acme/settings",
        OPERATOR,
        Some(json!({"semantic_cache_allowed": true})),
    );
    assert_eq!(s, 200, "{v}");
    let faq = json!([{"id": "faq-hours", "question": "When are you open?", "answer": "Every day 9:00-21:00."}]);
    let (s, v) = regional.call("POST", "/v1/kb/faqs", &api_key, Some(faq));
    assert_eq!(s, 200, "{v}");
    let (s, v) = regional.call("POST", "/v1/kb/publish", &api_key, None);
    assert_eq!((s, &v["kb_version"]), (200, &json!(1)), "{v}");

    let host = spin_host(regional.port);

    // (a) health.
    let (s, _, v) = get(&host, "/healthz");
    assert_eq!((s, &v["status"]), (200, &json!("ok")), "{v}");

    // (b) a turn answered by the regional service; the session record is
    // in the Spin store under the sessions prefix.
    let v = ask(&host, &widget_key, "v-1", "When are you open?", "m-1");
    assert_eq!(
        (v["source"].as_str(), v["answer"].as_str()),
        (Some("faq"), Some("Every day 9:00-21:00.")),
        "{v}"
    );
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    let snap = host.kv_snapshot();
    let names = || snap.keys().cloned().collect::<Vec<_>>();
    // The first message's conversation is remembered for its retries.
    let first = snap
        .get("sessions/first acme v-1 m-1")
        .unwrap_or_else(|| panic!("no first-turn record in {:?}", names()));
    assert_eq!(unwrap_expiry(first), conv.as_bytes());
    assert!(
        snap.keys().any(|k| k.starts_with("tenants/")),
        "tenant config not kept: {:?}",
        names()
    );
    assert_eq!(keys(&host, "cache/").len(), 1, "the FAQ answer is cached");

    // The conversation goes on (a fresh instance again): afterwards its
    // session record, with the whole exchange, is in the store.
    let (s, _, v) = chat(
        &host,
        json!({"widget_key": widget_key, "visitor_id": "v-1", "conversation_id": conv,
               "message": "Thanks, and where are you?", "client_msg_id": "m-2"}),
        &[],
    );
    assert_eq!(
        (s, v["conversation_id"].as_str()),
        (200, Some(conv.as_str())),
        "{v}"
    );
    let snap = host.kv_snapshot();
    let stored = snap.get(&format!("sessions/{conv}")).unwrap_or_else(|| {
        panic!(
            "no session for {conv} in {:?}",
            snap.keys().collect::<Vec<_>>()
        )
    });
    let session = Session::decode(unwrap_expiry(stored)).expect("a session record");
    assert_eq!(session.conversation().as_str(), conv);
    let turn_texts: Vec<_> = session.turns().iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        &turn_texts[..3],
        [
            "When are you open?",
            "Every day 9:00-21:00.",
            "Thanks, and where are you?"
        ]
    );
    assert_eq!(turn_texts.len(), 4, "{turn_texts:?}");
    let (s, t) = transcript(&regional, &api_key, &conv);
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        texts(&t),
        turn_texts,
        "the edge's session is the region's transcript"
    );

    // (c) the same question from another visitor: answered from the edge's
    // cache (a fresh instance: the answer came out of the key-value store).
    let v = ask(&host, &widget_key, "v-2", "When are you open?", "m-1");
    assert_eq!(
        (v["source"].as_str(), v["answer"].as_str()),
        (Some("cache"), Some("Every day 9:00-21:00.")),
        "{v}"
    );
}

#[test]
fn a_visitor_over_the_limit_gets_429_and_the_windows_are_in_kv() {
    let regional = Regional::start();
    let (_, widget_key) = regional.tenant("acme");
    let host = spin_host(regional.port);

    // kefu-core's default: 20 turns per visitor per minute. Each request is
    // a fresh instance, so the count can only come from the store.
    for i in 0..20 {
        ask(
            &host,
            &widget_key,
            "v-busy",
            &format!("question {i}"),
            &format!("m-{i}"),
        );
    }
    let body = json!({"widget_key": widget_key, "visitor_id": "v-busy", "message": "one more", "client_msg_id": "m-20"});
    let (s, h, v) = chat(&host, body, &[]);
    assert_eq!(s, 429, "{v}");
    let retry = h
        .get("retry-after")
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|n| n > 0),
        "retry-after: {:?}",
        h.get("retry-after")
    );

    let snap = host.kv_snapshot();
    let limits = DecodeLimits {
        max_bytes: 1024,
        max_depth: 4,
        max_str_len: 1024,
        max_bin_len: 1024,
        max_array_len: 8,
        max_map_len: 8,
    };
    let window = |key: &str| -> SlidingWindow {
        let stored = snap
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", snap.keys().collect::<Vec<_>>()));
        codec::decode(unwrap_expiry(stored), &limits).expect("a sliding window")
    };
    assert_eq!(window("limits/visitor:acme:v-busy").curr(), 20);
    assert!(window("limits/tenant:acme").curr() >= 20);

    // Another visitor is not held back; with Spin's client address header
    // the per-IP windows appear too.
    let body = json!({"widget_key": widget_key, "visitor_id": "v-calm", "message": "hello", "client_msg_id": "m-1"});
    let (s, _, v) = chat(&host, body, &[("spin-client-addr", "127.0.0.9:40000")]);
    assert_eq!(s, 200, "{v}");
    assert_eq!(keys(&host, "limits/ip:127.0.0.9"), ["limits/ip:127.0.0.9"]);
}

#[test]
fn an_outage_is_acknowledged_kept_in_the_kv_outbox_and_delivered_once() {
    let mut regional = Regional::start();
    let (api_key, widget_key) = regional.tenant("acme");
    let host = spin_host(regional.port);
    // The store learns the tenant's config while the region is up.
    ask(&host, &widget_key, "v-0", "hello", "m-0");

    regional.stop();
    let v = ask(&host, &widget_key, "v-1", "When will my order ship?", "m-1");
    assert_eq!(v["source"], "ack", "{v}");
    assert_eq!(
        v["answer"],
        "We received your message; an agent will reply here."
    );
    let conv = v["conversation_id"].as_str().unwrap().to_owned();

    // The turn waits in the Spin store's outbox.
    let queued = keys(&host, &format!("outbox/o/{conv}/"));
    assert_eq!(
        queued.len(),
        1,
        "{:?}",
        host.kv_snapshot().keys().collect::<Vec<_>>()
    );
    let stored = host.kv_snapshot().remove(&queued[0]).unwrap();
    let report = EdgeReport::decode(unwrap_expiry(&stored)).expect("an edge report");
    assert_eq!(report.turns.len(), 1);
    assert_eq!(report.turns[0].question, "When will my order ship?");
    assert_eq!(report.turns[0].client_msg_id, "m-1");
    let (s, t) = {
        regional.resume();
        transcript(&regional, &api_key, &conv)
    };
    assert!(
        s == 404 || (s == 200 && texts(&t).is_empty()),
        "the region knew the turn before delivery: {s} {t}"
    );

    // Back on the same data dir and port: the next requests deliver the
    // outbox (a second one must not deliver it again).
    ask(
        &host,
        &widget_key,
        "v-2",
        "Is the shop open on Sunday?",
        "m-1",
    );
    ask(
        &host,
        &widget_key,
        "v-3",
        "Is the shop open on Monday?",
        "m-1",
    );
    assert!(
        keys(&host, "outbox/").is_empty(),
        "outbox not emptied: {:?}",
        keys(&host, "outbox/")
    );

    let (s, t) = transcript(&regional, &api_key, &conv);
    assert_eq!(
        s, 200,
        "the acknowledged turn never reached the region: {t}"
    );
    assert_eq!(
        texts(&t),
        [
            "When will my order ship?",
            "We received your message; an agent will reply here."
        ],
        "delivered exactly once"
    );
    assert_eq!(t["messages"][0]["client_msg_id"], "m-1");
}
