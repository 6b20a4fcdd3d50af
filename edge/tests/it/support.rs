//! The harness: an [`Edge`] over the in-memory platform, a manual clock, and
//! a fake regional service that checks every signature with kefu-core's
//! `wire::verify`, opens and keeps sessions with kefu-core's `Session`,
//! answers from a script, applies reports with `ReportedTurn::apply`, and
//! can be switched down, slow or broken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kefu_core::ratelimit::LimitOverrides;
use kefu_core::session::{Citation, ConversationState, Role, Session, Source, Turn};
use kefu_core::wire::{
    self, Cacheability, EdgeReport, Frame, HandoffState, ReplayGuard, ReportedTurn, SessionRequest,
    SessionResponse, TenantConfig, TenantConfigRequest, TurnRequest, TurnResponse, VisitorSigAlg,
    WIRE_VERSION, paths,
};
use kefu_core::{ConversationId, KbVersion, TenantId};
use kefu_edge::memory::{ManualClock, MemoryPlatform};
use kefu_edge::{
    Edge, EdgeConfig, EdgeRequest, EdgeResponse, Method, Secret, UpstreamError, UpstreamRequest,
    UpstreamResponse,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const SECRET: &str = "edge-regional-test-secret-0123456789";
pub const T0: u64 = 1_750_000_000_000;
pub const WIDGET_KEY: &str = "kefu_pk_acme";
pub const ORIGIN: &str = "https://shop.example.com";
pub const VISITOR_KEY: &[u8] = b"acme-visitor-signing-key-0001";
pub const IP: &str = "203.0.113.7";

/// How the fake regional service behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Connections fail.
    Down,
    /// Answers after this many ms (real time).
    Slow(u64),
    /// Answers 500 to everything.
    Broken,
    /// Answers 200 with bytes that are no frame.
    Garbage,
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub answer: String,
    pub source: Source,
    pub citations: Vec<Citation>,
    pub cacheable_ttl_ms: Option<u64>,
}

pub struct FakeState {
    pub mode: Mode,
    guard: ReplayGuard,
    pub tenants: HashMap<String, TenantConfig>,
    pub script: HashMap<String, Scripted>,
    pub sessions: HashMap<ConversationId, Session>,
    next_conv: u64,
    pub brownout: u8,
    /// Every TurnRequest that arrived (verified).
    pub turns: Vec<TurnRequest>,
    /// Every reported turn that arrived, raw (before de-duplication).
    pub reported: Vec<ReportedTurn>,
    /// Report frames that arrived.
    pub reports: usize,
    /// Paths of all verified calls, in order.
    pub calls: Vec<String>,
    /// Requests whose signature did not verify.
    pub bad_signatures: usize,
    /// Apply the next report but answer 500 (the answer is "lost").
    pub lose_next_report_answer: bool,
    /// Refuse (409, applying nothing) any report holding this client
    /// message id, as the regional service does for a closed conversation.
    pub refuse_cmid: Option<String>,
    /// Answer turns asked for as a stream with turn-stream records.
    pub stream: Option<Streaming>,
}

/// How the fake streams a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    /// Word by word, then the frame.
    Whole,
    /// Word by word, then nothing: the stream is cut short.
    CutShort,
}

pub struct FakeRegional {
    pub clock: ManualClock,
    state: Mutex<FakeState>,
    changed: Notify,
}

pub fn tenant_id() -> TenantId {
    TenantId::new("acme").unwrap()
}

pub fn default_tenant() -> TenantConfig {
    TenantConfig {
        v: WIRE_VERSION,
        tenant: tenant_id(),
        widget_key: WIDGET_KEY.to_owned(),
        allowed_origins: vec![ORIGIN.to_owned(), "https://m.example.com".to_owned()],
        require_signed_visitor: false,
        visitor_key: None,
        visitor_sig_alg: VisitorSigAlg::HmacSha256,
        cache_answers: true,
        semantic_cache: false,
        limits: LimitOverrides::default(),
        kb_version: KbVersion(1),
        brownout: 0,
        ttl_ms: 60_000,
        erased: Vec::new(),
    }
}

pub fn cite(id: &str) -> Citation {
    Citation {
        id: id.to_owned(),
        title: format!("Doc {id}"),
        url: Some(format!("https://help.example.com/{id}")),
        snippet: None,
    }
}

impl FakeRegional {
    fn new(clock: ManualClock) -> FakeRegional {
        let mut tenants = HashMap::new();
        tenants.insert(WIDGET_KEY.to_owned(), default_tenant());
        let mut script = HashMap::new();
        script.insert(
            "How do I get a refund?".to_owned(),
            Scripted {
                answer: "Refunds within 7 days of delivery, from your orders page.".to_owned(),
                source: Source::Kb,
                citations: vec![cite("refund-policy")],
                cacheable_ttl_ms: Some(3_600_000),
            },
        );
        script.insert(
            "运费怎么算？".to_owned(),
            Scripted {
                answer: "全场满99元包邮。".to_owned(),
                source: Source::Faq,
                citations: vec![cite("shipping")],
                cacheable_ttl_ms: Some(3_600_000),
            },
        );
        FakeRegional {
            clock,
            state: Mutex::new(FakeState {
                mode: Mode::Up,
                guard: ReplayGuard::new(4096),
                tenants,
                script,
                sessions: HashMap::new(),
                next_conv: 0,
                brownout: 0,
                turns: Vec::new(),
                reported: Vec::new(),
                reports: 0,
                calls: Vec::new(),
                bad_signatures: 0,
                lose_next_report_answer: false,
                refuse_cmid: None,
                stream: None,
            }),
            changed: Notify::new(),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    pub fn turn_count(&self) -> usize {
        self.state().turns.len()
    }

    /// An agent writes into a conversation at the regional service.
    pub fn agent_says(&self, conv: &str, text: &str) -> u64 {
        let now = self.clock.now_ms();
        let seq = {
            let mut st = self.state();
            let s = st
                .sessions
                .get_mut(&ConversationId::new(conv).unwrap())
                .expect("conversation at the fake regional");
            s.set_state(ConversationState::WithAgent, now);
            s.push_turn(Turn::new(Role::Agent, text).with_source(Source::Agent), now)
                .unwrap()
        };
        self.changed.notify_waiters();
        seq
    }

    async fn serve(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let mode = self.state().mode;
        match mode {
            Mode::Down => return Err(UpstreamError::Unreachable("connection refused".into())),
            Mode::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Mode::Broken => return Ok(reply(500, Vec::new())),
            Mode::Garbage => return Ok(reply(200, b"\xc1 not a frame".to_vec())),
            Mode::Up => {}
        }
        let path = req.path().to_owned();
        {
            let mut st = self.state();
            let header = req.header(wire::SIGNATURE_HEADER).unwrap_or("");
            let now = self.clock.now_ms();
            let ok = wire::verify(
                SECRET.as_bytes(),
                header,
                &path,
                &req.body,
                now,
                wire::DEFAULT_WINDOW_MS,
                &mut st.guard,
            );
            if ok.is_err() {
                st.bad_signatures += 1;
                return Ok(reply(401, Vec::new()));
            }
            st.calls.push(path.clone());
        }
        match path.as_str() {
            paths::TENANT_CONFIG => Ok(self.tenant_config(&req.body)),
            paths::TURN => {
                let streamed = req
                    .header("accept")
                    .is_some_and(|a| a.contains(wire::TURN_STREAM_CONTENT_TYPE));
                let plain = self.turn(&req.body);
                match self.state().stream {
                    Some(how) if streamed && plain.status == 200 => Ok(stream_turn(plain, how)),
                    _ => Ok(plain),
                }
            }
            paths::REPORT => Ok(self.report(&req.body)),
            paths::SESSION => Ok(self.session(&req.body).await),
            _ => Ok(reply(404, Vec::new())),
        }
    }

    fn tenant_config(&self, body: &[u8]) -> UpstreamResponse {
        let Ok(req) = TenantConfigRequest::decode(body) else {
            return reply(400, Vec::new());
        };
        match self.state().tenants.get(&req.widget_key) {
            Some(c) => reply(200, c.encode().unwrap()),
            None => reply(404, Vec::new()),
        }
    }

    fn turn(&self, body: &[u8]) -> UpstreamResponse {
        let Ok(req) = TurnRequest::decode(body) else {
            return reply(400, Vec::new());
        };
        let now = self.clock.now_ms();
        let mut st = self.state();
        st.turns.push(req.clone());
        let conv = match &req.conversation {
            Some(c) if st.sessions.contains_key(c) => c.clone(),
            Some(_) => return reply(404, Vec::new()),
            None => {
                st.next_conv += 1;
                let c = ConversationId::new(format!("r-{}", st.next_conv)).unwrap();
                let s = Session::new(req.tenant.clone(), c.clone(), req.visitor.clone(), now);
                st.sessions.insert(c.clone(), s);
                c
            }
        };
        let kb = st
            .tenants
            .get(WIDGET_KEY)
            .map_or(KbVersion(0), |t| t.kb_version);
        let scripted = st.script.get(&req.text).cloned();
        let brownout = st.brownout;
        let s = st.sessions.get_mut(&conv).unwrap();
        let (seq, a) = match s.find_client_msg(&req.client_msg_id) {
            Some(q) => {
                let qs = q.seq;
                let a = s.turns().iter().find(|t| t.seq > qs).unwrap().clone();
                (a.seq, a)
            }
            None => {
                let q = Turn::new(Role::Visitor, req.text.clone())
                    .with_client_msg_id(&*req.client_msg_id);
                s.push_turn(q, now).unwrap();
                let sc = scripted.clone().unwrap_or(Scripted {
                    answer: format!("(fallback) no answer for that, kb {}", kb.0),
                    source: Source::Fallback,
                    citations: vec![],
                    cacheable_ttl_ms: None,
                });
                let a = Turn::new(Role::Bot, sc.answer)
                    .with_source(sc.source)
                    .with_citations(sc.citations);
                let seq = s.push_turn(a, now).unwrap();
                (seq, s.turns().back().unwrap().clone())
            }
        };
        let handoff = match s.state() {
            ConversationState::QueuedForHuman => HandoffState::Queued,
            ConversationState::WithAgent => HandoffState::WithAgent,
            _ => HandoffState::None,
        };
        let resp = TurnResponse {
            v: WIRE_VERSION,
            conversation: conv,
            seq,
            answer: a.text,
            source: a.source.unwrap(),
            citations: a.citations,
            cacheable: scripted
                .and_then(|s| s.cacheable_ttl_ms)
                .map(|ttl_ms| Cacheability {
                    ttl_ms,
                    kb_version: kb,
                }),
            handoff,
            brownout,
            kb_version: None,
        };
        reply(200, resp.encode().unwrap())
    }

    fn report(&self, body: &[u8]) -> UpstreamResponse {
        let Ok(report) = EdgeReport::decode(body) else {
            return reply(400, Vec::new());
        };
        let now = self.clock.now_ms();
        let mut st = self.state();
        st.reports += 1;
        if let Some(bad) = &st.refuse_cmid
            && report.turns.iter().any(|t| &t.client_msg_id == bad)
        {
            return reply(409, Vec::new());
        }
        for t in &report.turns {
            st.reported.push(t.clone());
            let s = st
                .sessions
                .entry(t.conversation.clone())
                .or_insert_with(|| {
                    Session::new(
                        t.tenant.clone(),
                        t.conversation.clone(),
                        t.visitor.clone(),
                        t.at_ms,
                    )
                });
            t.apply(s, now).unwrap();
        }
        if std::mem::take(&mut st.lose_next_report_answer) {
            return reply(500, Vec::new());
        }
        reply(200, Vec::new())
    }

    async fn session(&self, body: &[u8]) -> UpstreamResponse {
        let Ok(req) = SessionRequest::decode(body) else {
            return reply(400, Vec::new());
        };
        let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::from(req.wait_ms));
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (session, brownout) = {
                let st = self.state();
                let s = st
                    .sessions
                    .get(&req.conversation)
                    .filter(|s| s.tenant() == &req.tenant && s.visitor() == &req.visitor)
                    .cloned();
                (s, st.brownout)
            };
            let has_new = match (&session, req.since) {
                (Some(s), Some(n)) => s.turns().iter().any(|t| t.seq > n),
                _ => true,
            };
            if has_new || tokio::time::Instant::now() >= deadline {
                let resp = SessionResponse {
                    v: WIRE_VERSION,
                    session,
                    brownout,
                };
                return reply(200, resp.encode().unwrap());
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// A plain turn answer as turn-stream records: the answer word by word,
/// then (unless cut short) the frame.
fn stream_turn(plain: UpstreamResponse, how: Streaming) -> UpstreamResponse {
    let resp = TurnResponse::decode(&plain.body).unwrap();
    let mut body = Vec::new();
    for w in resp.answer.split_inclusive(' ') {
        body.extend(wire::Record::Delta(w.to_owned()).encode().unwrap());
    }
    if how == Streaming::Whole {
        body.extend(wire::Record::Frame(plain.body).encode().unwrap());
    }
    UpstreamResponse {
        status: 200,
        headers: vec![("content-type".into(), wire::TURN_STREAM_CONTENT_TYPE.into())],
        body,
    }
}

fn reply(status: u16, body: Vec<u8>) -> UpstreamResponse {
    UpstreamResponse {
        status,
        headers: vec![("content-type".into(), "application/msgpack".into())],
        body,
    }
}

/// The edge, its platform's clock and the fake regional service.
#[derive(Clone)]
pub struct Harness {
    pub edge: Arc<Edge<MemoryPlatform>>,
    pub fake: Arc<FakeRegional>,
    pub clock: ManualClock,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(|_| {}, |_| {})
    }

    /// A harness whose edge config and fake state are adjusted first. Its
    /// store stands in for a durable one (Spin key-value, Workers KV).
    pub fn with(
        edit_config: impl FnOnce(&mut EdgeConfig),
        edit_fake: impl FnOnce(&mut FakeState),
    ) -> Harness {
        Harness::build(edit_config, edit_fake, true)
    }

    /// A harness whose store is memory, as under plain `wasmtime serve`
    /// and in-process: no outbox.
    pub fn memory_only() -> Harness {
        Harness::build(|_| {}, |_| {}, false)
    }

    fn build(
        edit_config: impl FnOnce(&mut EdgeConfig),
        edit_fake: impl FnOnce(&mut FakeState),
        durable: bool,
    ) -> Harness {
        let clock = ManualClock::at(T0);
        let fake = Arc::new(FakeRegional::new(clock.clone()));
        edit_fake(&mut fake.state());
        let f = fake.clone();
        let platform = MemoryPlatform::new(Arc::new(move |req: UpstreamRequest| {
            let f = f.clone();
            async move { f.serve(req).await }
        }))
        .with_clock(clock.clone());
        let platform = if durable {
            platform.with_durable_outbox()
        } else {
            platform
        };
        let mut config = EdgeConfig::new("https://regional.test", Secret::new(SECRET)).unwrap();
        config.turn_timeout_ms = 300;
        config.call_timeout_ms = 300;
        config.poll_wait_ms = 3_000;
        config.breaker.minimum_calls = 2;
        config.breaker.failure_rate_threshold = 0.5;
        edit_config(&mut config);
        let edge = Arc::new(Edge::new(platform, config).unwrap());
        Harness { edge, fake, clock }
    }

    pub fn platform(&self) -> &MemoryPlatform {
        self.edge.platform()
    }

    pub async fn send(&self, req: EdgeRequest) -> EdgeResponse {
        self.edge.handle(req).await
    }

    /// POSTs `body` to /v1/chat from the allowed origin and the test IP.
    pub async fn chat(&self, body: Value) -> (u16, Value) {
        let r = self.send(chat_request(&body)).await;
        (r.status, json_of(&r))
    }

    /// A chat turn by `visitor` that must succeed; returns the reply.
    pub async fn ask(&self, visitor: &str, conv: Option<&str>, message: &str, cmid: &str) -> Value {
        let mut body = json!({
            "widget_key": WIDGET_KEY, "visitor_id": visitor, "message": message, "client_msg_id": cmid,
        });
        if let Some(c) = conv {
            body["conversation_id"] = json!(c);
        }
        let (status, v) = self.chat(body).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// GETs the messages of `conv` after `since`.
    pub async fn messages(&self, conv: &str, visitor: &str, since: Option<u64>) -> (u16, Value) {
        let mut q = format!("widget_key={WIDGET_KEY}&visitor_id={visitor}");
        if let Some(n) = since {
            q.push_str(&format!("&since={n}"));
        }
        let req = EdgeRequest::new(
            Method::Get,
            &format!("/v1/conversations/{conv}/messages?{q}"),
        )
        .with_header("Origin", ORIGIN)
        .with_client_ip(IP);
        let r = self.send(req).await;
        (r.status, json_of(&r))
    }
}

pub fn chat_request(body: &Value) -> EdgeRequest {
    EdgeRequest::new(Method::Post, "/v1/chat")
        .with_header("Content-Type", "application/json")
        .with_header("Origin", ORIGIN)
        .with_client_ip(IP)
        .with_body(serde_json::to_vec(body).unwrap())
}

pub fn json_of(r: &EdgeResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

pub fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}
