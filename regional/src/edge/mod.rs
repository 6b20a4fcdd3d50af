//! The edge's door: signed MessagePack frames from kefu-edge
//! ([`kefu_core::wire`]).
//!
//! Every request carries an HMAC-SM3 signature over its path tag, timestamp,
//! nonce and body ([`kefu_core::wire::verify`]); stale timestamps and
//! replayed nonces are refused. The tenant comes from the signed frame — the
//! edge holds the shared key and speaks for every tenant — and is looked up
//! like any other ([`Storage::for_signed_edge_frame`]).
//!
//! A forwarded question is answered from the tenant's published knowledge
//! base ([`crate::answer`]); with none, or nothing relevant in it, the
//! answer is a labelled fallback ([`Source::Fallback`]), never something
//! dressed up as an answer.
//! Whether the edge may cache an answer is decided by
//! [`kefu_core::cache::cacheability`] (a fallback never may).
//!
//! - [`tenant`]: widget key -> [`kefu_core::wire::TenantConfig`].
//! - [`session`]: the regional session, with long polling.

pub mod session;
pub mod tenant;

pub use session::session;
pub use tenant::tenant_config;

use std::sync::Mutex;

use kefu_core::cache::{CacheCandidate, Cacheable, cacheability};
use kefu_core::wire::{
    self, Cacheability, EdgeReport, HandoffState, Health, ReplayGuard, TurnRequest, TurnResponse,
    WIRE_VERSION,
};
use kefu_core::{Locale, Source};

use crate::config::Secret;
use crate::store::exchange::{Exchange, Question, Reply};
use crate::store::{ConversationState, Role, Storage, Turn};
use crate::{Error, Result};

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No, malformed or wrong signature, or a stale timestamp.
    Unauthenticated,
    /// The nonce was seen before.
    Replay,
    /// The replay guard is full of live nonces; try again shortly.
    Busy,
}

/// The shared key and the replay memory.
#[derive(Debug)]
pub struct EdgeDoor {
    key: Secret,
    window_ms: u64,
    replay: Mutex<ReplayGuard>,
}

impl EdgeDoor {
    /// A door for `key` (at least [`wire::MIN_KEY_LEN`] bytes).
    pub fn new(key: Secret) -> EdgeDoor {
        EdgeDoor {
            key,
            window_ms: wire::DEFAULT_WINDOW_MS,
            replay: Mutex::new(ReplayGuard::new(wire::DEFAULT_REPLAY_CAPACITY)),
        }
    }

    /// Checks the signature header for a request to `path_tag` with `body`.
    pub fn verify(
        &self,
        header: Option<&str>,
        path_tag: &str,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let header = header.ok_or(Refusal::Unauthenticated)?;
        let mut guard = self.replay.lock().unwrap_or_else(|p| p.into_inner());
        match wire::verify(
            self.key.expose().as_bytes(),
            header,
            path_tag,
            body,
            now_ms,
            self.window_ms,
            &mut guard,
        ) {
            Ok(()) => Ok(()),
            Err(kefu_core::Error::Replay) => Err(Refusal::Replay),
            Err(kefu_core::Error::TooLarge(_)) => Err(Refusal::Busy),
            Err(_) => Err(Refusal::Unauthenticated),
        }
    }
}

fn handoff(state: ConversationState) -> HandoffState {
    match state {
        ConversationState::QueuedForHuman => HandoffState::Queued,
        ConversationState::WithAgent => HandoffState::WithAgent,
        ConversationState::Ai | ConversationState::Closed => HandoffState::None,
    }
}

/// The labelled answer while no knowledge base exists, or while a human has
/// the conversation.
pub fn fallback(locale: Locale, state: ConversationState) -> Turn {
    let human = matches!(
        state,
        ConversationState::QueuedForHuman | ConversationState::WithAgent
    );
    let (role, text) = match (human, locale) {
        (false, Locale::Zh) => (Role::Bot, "抱歉，知识库尚未发布，我暂时无法回答这个问题。"),
        (false, Locale::En) => (
            Role::Bot,
            "Sorry, no knowledge base has been published yet, so I cannot answer this.",
        ),
        (true, Locale::Zh) => (
            Role::System,
            "已为您转接人工客服，客服会在这里回复您，请稍候。",
        ),
        (true, Locale::En) => (
            Role::System,
            "A human agent has this conversation and will reply here shortly.",
        ),
    };
    Turn::new(role, text).with_source(Source::Fallback)
}

/// Stores a forwarded question and answers it from the tenant's knowledge
/// base ([`crate::answer`]); while a human has the conversation the AI stays
/// silent and the visitor is told a human will reply. Repeating a client
/// message id returns the stored answer. With `deltas`, a model's answer
/// is previewed there as it is written ([`crate::answer::Deltas`]).
pub async fn turn(
    storage: &Storage,
    req: TurnRequest,
    max_chars: usize,
    generator: Option<&crate::answer::Generator>,
    deltas: Option<&crate::answer::Deltas>,
) -> Result<TurnResponse> {
    let tenant = storage.for_signed_edge_frame(req.tenant.clone()).await?;
    let settings = storage
        .tenant(req.tenant.as_str().to_owned())
        .await?
        .settings;
    let locale = req.locale;
    let question = req.text.clone();
    let window = match &req.conversation {
        Some(c) => {
            tenant
                .window(c.clone(), crate::routing::HISTORY_TURNS)
                .await?
        }
        None => None,
    };
    // Routing reads only what happened since the conversation last started
    // fresh; a closed conversation's next message opens a new one.
    let (state_now, turns) = match window {
        Some((meta, _)) if meta.state == ConversationState::Closed => {
            (ConversationState::Ai, Vec::new())
        }
        Some((meta, mut turns)) => {
            turns.retain(|t| t.seq >= meta.fresh_from_seq);
            (meta.state, turns)
        }
        None => (ConversationState::Ai, Vec::new()),
    };
    let human = matches!(
        state_now,
        ConversationState::QueuedForHuman | ConversationState::WithAgent
    );
    // While a person has the conversation the AI is not asked at all.
    let left_message = match (&req.conversation, state_now) {
        (Some(c), ConversationState::QueuedForHuman) => tenant
            .handoff(c.clone())
            .await?
            .is_some_and(|(e, _)| e.timed_out_ms.is_some() && e.agent.is_none()),
        _ => false,
    };
    let ai = if human {
        None
    } else {
        let similar = settings.similar_answers && settings.semantic_cache_allowed;
        Some(
            crate::answer::answer(
                &tenant, &question, &turns, locale, generator, deltas, similar,
            )
            .await?,
        )
    };
    let kb_version = ai.as_ref().map_or(0, |a| a.kb_version);
    let left_text = question.clone();
    let settings_handoff = tenant.handoff_settings().await?;
    let history = crate::routing::history(&turns, &settings_handoff);
    let earlier: Vec<&str> = turns
        .iter()
        .rev()
        .filter(|t| t.role == Role::Visitor)
        .map(|t| t.text.as_str())
        .collect();
    let route = crate::routing::route(
        &question,
        &earlier,
        &history,
        locale,
        &settings_handoff,
        crate::store::now_ms(),
    );
    let offered = route.offer.is_some();
    let q = Question {
        conversation: req.conversation,
        create_missing: false,
        visitor: req.visitor,
        client_msg_id: req.client_msg_id,
        text: req.text,
        answered_at_ms: None,
    };
    let ex: Exchange = tenant
        .exchange(q, max_chars, move |state| match (state, ai) {
            // Asked to leave a message: this is it.
            (ConversationState::QueuedForHuman, _) if left_message => Reply::answer(
                Turn::new(
                    Role::System,
                    crate::store::handoff::left_message_ack(locale, &left_text),
                )
                .with_source(Source::Fallback),
            ),
            // A human has the conversation: the AI stays silent.
            (ConversationState::QueuedForHuman | ConversationState::WithAgent, _) => {
                Reply::answer(fallback(locale, state))
            }
            // An agent handed back while this message was on its way.
            (_, None) => Reply::answer(fallback(locale, ConversationState::WithAgent)),
            (ConversationState::Ai | ConversationState::Closed, Some(ai)) => route.apply(ai.turn),
        })
        .await?;
    let source = ex.answer.source.unwrap_or(Source::Fallback);
    let handoff = handoff(ex.state);
    // An answer that carries a routing offer is about this visitor, not the
    // question: never cached.
    let cacheable = (!offered)
        .then(|| {
            cacheable(
                &CacheCandidate {
                    question: &question,
                    answer: &ex.answer.text,
                    // The question is the turn before the answer; regional seqs start
                    // at 1, so seq 1 is the conversation's first visitor turn. Past
                    // that, seq - 1 bounds the visitor turns from above (0 vs not is
                    // what the policy reads).
                    turn_index: u32::try_from(ex.answer.seq.saturating_sub(2)).unwrap_or(u32::MAX),
                    source,
                    handoff,
                    tenant_allows_caching: settings.semantic_cache_allowed,
                },
                kb_version,
            )
        })
        .flatten();
    Ok(TurnResponse {
        v: WIRE_VERSION,
        conversation: ex.conversation,
        seq: ex.answer.seq,
        answer: ex.answer.text,
        source,
        citations: ex.answer.citations,
        cacheable,
        handoff,
        brownout: generator.map_or(0, |g| g.brownout() as u8),
        kb_version: matches!(source, Source::Faq | Source::Kb | Source::Llm)
            .then_some(kefu_core::KbVersion(kb_version)),
    })
}

/// How long the edge may serve a cacheable answer, ms. The cache key holds
/// the knowledge-base version, so publishing retires entries sooner.
pub const ANSWER_CACHE_TTL_MS: u64 = 3_600_000;

/// The edge-cache permission for one answer resting on `kb_version`:
/// `Some` exactly when [`cacheability`] says yes.
pub fn cacheable(c: &CacheCandidate<'_>, kb_version: u64) -> Option<Cacheability> {
    match cacheability(c) {
        Cacheable::Yes => Some(Cacheability {
            ttl_ms: ANSWER_CACHE_TTL_MS,
            kb_version: kefu_core::KbVersion(kb_version),
        }),
        Cacheable::No(_) => None,
    }
}

/// What applying an edge report did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReportOutcome {
    /// Turns stored now.
    pub applied: u32,
    /// Turns already stored (same conversation and client message id).
    pub duplicates: u32,
    /// Turns for tenants that do not exist (dropped).
    pub unknown_tenant: u32,
    /// Turns of conversations erased on request, answered before the
    /// erasure (dropped: part of what was erased).
    pub erased: u32,
    /// Turns answered after their conversation was erased (the visitor
    /// wrote on before the edge knew), kept in the erased conversation's
    /// successor; also counted in `applied` or `duplicates`.
    pub successor: u32,
}

/// Stores the turns the edge served itself, each exactly once.
pub async fn report(storage: &Storage, rep: EdgeReport, max_chars: usize) -> Result<ReportOutcome> {
    let mut out = ReportOutcome::default();
    for t in rep.turns {
        let tenant = match storage.for_signed_edge_frame(t.tenant.clone()).await {
            Ok(s) => s,
            Err(Error::NotFound) => {
                out.unknown_tenant += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let answer = Turn::new(Role::Bot, t.answer)
            .with_source(t.source)
            .with_citations(t.citations);
        let q = Question {
            conversation: Some(t.conversation),
            create_missing: true,
            visitor: t.visitor,
            client_msg_id: t.client_msg_id,
            text: t.question,
            answered_at_ms: Some(t.at_ms),
        };
        let reported = q.conversation.clone();
        let ex = match tenant
            .exchange(q, max_chars, move |_| Reply::answer(answer))
            .await
        {
            Ok(ex) => ex,
            // Erased since the edge answered it: not brought back.
            Err(Error::Erased) => {
                out.erased += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        if ex.duplicate {
            out.duplicates += 1;
        } else {
            out.applied += 1;
        }
        if reported.as_ref() != Some(&ex.conversation) {
            out.successor += 1;
        }
    }
    Ok(out)
}

/// The readiness frame the edge polls, with the brownout level the model
/// load implies.
pub fn health(ready: bool, brownout: u8) -> Health {
    Health {
        v: WIRE_VERSION,
        brownout,
        kb_version: kefu_core::KbVersion(0),
        ready,
    }
}
