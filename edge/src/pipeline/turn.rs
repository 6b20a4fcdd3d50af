//! One chat turn, in the order of the edge issue: visitor signature, limits,
//! session, cached answer, then forward to the regional service, and when it
//! cannot answer, degrade: acknowledge and keep the message.
//!
//! Every turn the edge answers itself lands in the outbox (see
//! [`super::outbox`]) so the regional store gets it too.

use kefu_core::overload::BrownoutLevel;
use kefu_core::session::{Citation, ConversationState, Role, Session, Source, Turn};
use kefu_core::wire::{
    HandoffState, Record, RecordReader, ReportedTurn, TenantConfig, TurnRequest, TurnResponse,
    WIRE_VERSION, paths,
};
use kefu_core::{ConversationId, KbVersion, Locale, VisitorId};

use super::regional::{self, CallError, CallKind};
use super::session::{self as sessions, Lookup};
use super::{answers, limits, outbox, visitor};
use crate::Error;
use crate::edge::Edge;
use crate::platform::Platform;

/// A validated chat request.
#[derive(Clone, PartialEq, Eq)]
pub struct ChatInput {
    /// The widget key (already resolved to the tenant config passed along).
    pub widget_key: String,
    /// The visitor.
    pub visitor: VisitorId,
    /// The conversation to continue; `None` opens one.
    pub conversation: Option<ConversationId>,
    /// The message. Plaintext: not in `Debug`.
    pub message: String,
    /// The widget's id for the message; the edge makes one up if absent.
    pub client_msg_id: Option<String>,
    /// The host page's signature over the visitor id.
    pub visitor_sig: Option<String>,
}

impl core::fmt::Debug for ChatInput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChatInput")
            .field("visitor", &self.visitor)
            .field("conversation", &self.conversation)
            .field("message", &format_args!("<{} bytes>", self.message.len()))
            .finish_non_exhaustive()
    }
}

/// The answer to a chat turn.
#[derive(Clone, PartialEq, Eq)]
pub struct ChatReply {
    /// The conversation (new if one was opened).
    pub conversation: ConversationId,
    /// The answer's `seq`.
    pub seq: u64,
    /// The answer. Plaintext: not in `Debug`.
    pub answer: String,
    /// Where it came from (`cache` and `ack` at the edge).
    pub source: Source,
    /// Passages it cites.
    pub citations: Vec<Citation>,
    /// Whether a human has, or is about to take, the conversation.
    pub handoff: bool,
    /// The knowledge-base version the answer rests on, if it does.
    pub kb_version: Option<KbVersion>,
    /// Whether the answer may be served from the edge cache to others.
    pub cacheable: bool,
}

impl core::fmt::Debug for ChatReply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChatReply")
            .field("conversation", &self.conversation)
            .field("seq", &self.seq)
            .field("source", &self.source)
            .field("handoff", &self.handoff)
            .finish_non_exhaustive()
    }
}

/// The acknowledgement a visitor gets when nothing can answer now.
pub fn ack_text(locale: Locale) -> &'static str {
    match locale {
        Locale::Zh => "我们已收到您的消息，客服会在这里回复您。",
        Locale::En => "We received your message; an agent will reply here.",
    }
}

fn with_human(state: ConversationState) -> bool {
    matches!(
        state,
        ConversationState::QueuedForHuman | ConversationState::WithAgent
    )
}

fn recorded(_: kefu_core::Error) -> Error {
    Error::bad_request("message_invalid", "the message could not be recorded")
}

/// Called with each piece of a model's answer as the regional service
/// streams it (a preview: the [`ChatReply`] is the answer).
pub type OnDelta<'a> = dyn FnMut(&str) + Send + 'a;

/// Runs one turn for `config`'s tenant; with `on_delta`, the regional
/// service is asked to stream a model's answer there as it is written.
pub async fn chat<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    input: ChatInput,
    client_ip: Option<&str>,
    on_delta: Option<&mut OnDelta<'_>>,
) -> Result<ChatReply, Error> {
    visitor::check(config, &input.visitor, input.visitor_sig.as_deref())?;
    limits::check(
        edge,
        config,
        &input.visitor,
        client_ip,
        input.conversation.is_none(),
    )
    .await?;
    let session = match &input.conversation {
        None => None,
        Some(c) => match sessions::load(edge, config, c, &input.visitor).await? {
            Lookup::Found(s) if s.state() != ConversationState::Closed => Some(s),
            // A closed or erased conversation, or one that cannot be
            // fetched now: open a new one rather than lose the message.
            Lookup::Found(_) | Lookup::Erased | Lookup::Unreachable(_) => None,
            Lookup::Unknown => return Err(Error::UnknownConversation),
        },
    };
    let cmid = match &input.client_msg_id {
        Some(c) => c.clone(),
        None => sessions::random_id(edge, "m_")?,
    };
    if let Some(reply) = session.as_ref().and_then(|s| replay(s, &cmid)) {
        return Ok(reply);
    }
    let first = input.conversation.is_none();
    if first
        && input.client_msg_id.is_some()
        && let Some(s) = sessions::first_turn(edge, config, &input.visitor, &cmid).await
        && let Some(reply) = replay(&s, &cmid)
    {
        return Ok(reply);
    }
    let reply = answer(edge, config, &input, session, &cmid, on_delta).await?;
    if first {
        sessions::remember_first_turn(edge, config, &input.visitor, &cmid, &reply.conversation)
            .await;
    }
    Ok(reply)
}

/// Answers a turn past the checks: from the cache, else the regional
/// service, else with an acknowledgement.
async fn answer<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    input: &ChatInput,
    session: Option<Session>,
    cmid: &str,
    on_delta: Option<&mut OnDelta<'_>>,
) -> Result<ChatReply, Error> {
    let locale = Locale::detect(&input.message);
    let t = Local {
        edge,
        config,
        input,
        cmid,
        locale,
    };
    if answers::may_use_cache(config, session.as_ref(), &input.message)
        && let Some(hit) = answers::lookup(edge, config, locale, &input.message).await
    {
        return t
            .answer(
                session,
                hit.answer,
                Source::Cache,
                hit.citations,
                hit.kb_version,
            )
            .await;
    }
    if regional::brownout(edge, config).await >= BrownoutLevel::Minimal {
        return t.ack(session).await;
    }
    let conv = session.as_ref().map(|s| s.conversation().clone());
    if outbox::deliver(edge, conv.as_ref()).await.is_err() {
        return t.ack(session).await;
    }
    match forward(
        edge,
        config,
        session.as_ref(),
        input,
        cmid,
        locale,
        on_delta,
    )
    .await
    {
        Ok(resp) => {
            let session = match session {
                // The regional service answered in a new conversation: the
                // old one was closed there (by an agent, say) after this
                // copy was taken. Continue in the new one.
                Some(s) if *s.conversation() != resp.conversation => {
                    sessions::forget(edge, s.conversation()).await;
                    None
                }
                s => s,
            };
            t.regional_answer(session, resp).await
        }
        Err(_) => t.ack(session).await,
    }
}

/// The recorded answer to a message the session already holds (a widget
/// retry), if the answer is still in the window.
fn replay(s: &Session, cmid: &str) -> Option<ChatReply> {
    let q = s.find_client_msg(cmid)?;
    let a = s
        .turns()
        .iter()
        .find(|t| t.seq > q.seq && t.role != Role::Visitor)?;
    Some(ChatReply {
        conversation: s.conversation().clone(),
        seq: a.seq,
        answer: a.text.clone(),
        source: a.source.unwrap_or(Source::Fallback),
        citations: a.citations.clone(),
        handoff: with_human(s.state()),
        // A cache hit keeps its version in the session; a regional answer's
        // version is not kept, so a retry of one does not name it.
        kb_version: (a.source == Some(Source::Cache)).then_some(s.kb_version),
        cacheable: a.source == Some(Source::Cache),
    })
}

async fn forward<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    session: Option<&Session>,
    input: &ChatInput,
    cmid: &str,
    locale: Locale,
    on_delta: Option<&mut OnDelta<'_>>,
) -> Result<TurnResponse, CallError> {
    let req = TurnRequest {
        v: WIRE_VERSION,
        tenant: config.tenant.clone(),
        conversation: session.map(|s| s.conversation().clone()),
        visitor: input.visitor.clone(),
        client_msg_id: cmid.to_owned(),
        text: input.message.clone(),
        locale,
        edge_seq: session.and_then(|s| s.next_seq().checked_sub(1)),
        edge_kb: Some(config.kb_version),
        at_ms: edge.platform.now_ms(),
    };
    let timeout = edge.config.turn_timeout_ms;
    let r = match on_delta {
        None => regional::call(edge, paths::TURN, &req, timeout, CallKind::Normal).await?,
        Some(on_delta) => {
            // The model's text as the regional service streams it; anything
            // malformed ends the preview, never the turn.
            let mut reader = RecordReader::new();
            let mut ok = true;
            let mut on_chunk = |bytes: &[u8]| {
                if !ok {
                    return;
                }
                reader.push(bytes);
                loop {
                    match reader.next_record() {
                        // An empty delta is a heartbeat.
                        Ok(Some(Record::Delta(t))) if t.is_empty() => {}
                        Ok(Some(Record::Delta(t))) => on_delta(&t),
                        Ok(Some(_)) | Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
            };
            regional::call_with(
                edge,
                paths::TURN,
                &req,
                timeout,
                CallKind::Normal,
                Some(&mut on_chunk),
            )
            .await?
        }
    };
    // A different conversation in the answer means regional closed the
    // requested one and opened a new one ([`answer`] moves over).
    regional::decode(&r)
}

/// What a turn answered here needs to know.
struct Local<'a, P> {
    edge: &'a Edge<P>,
    config: &'a TenantConfig,
    input: &'a ChatInput,
    cmid: &'a str,
    locale: Locale,
}

impl<P: Platform> Local<'_, P> {
    /// Records the question and `answer` (a cache hit or an ack) in the
    /// session (opening one if need be), queues the report and replies.
    async fn answer(
        &self,
        session: Option<Session>,
        answer: String,
        source: Source,
        citations: Vec<Citation>,
        kb_version: KbVersion,
    ) -> Result<ChatReply, Error> {
        let edge = self.edge;
        let now = edge.platform.now_ms();
        let mut s = match session {
            Some(s) => s,
            None => Session::new(
                self.config.tenant.clone(),
                sessions::new_conversation_id(edge)?,
                self.input.visitor.clone(),
                now,
            ),
        };
        let q = Turn::new(Role::Visitor, self.input.message.clone()).with_client_msg_id(self.cmid);
        s.push_turn(q, now).map_err(recorded)?;
        let a = Turn::new(Role::Bot, answer.clone())
            .with_source(source)
            .with_citations(citations.clone());
        let seq = s.push_turn(a, now).map_err(recorded)?;
        if source == Source::Cache {
            s.kb_version = kb_version;
        }
        let report = ReportedTurn {
            tenant: self.config.tenant.clone(),
            conversation: s.conversation().clone(),
            visitor: self.input.visitor.clone(),
            client_msg_id: self.cmid.to_owned(),
            question: self.input.message.clone(),
            answer: answer.clone(),
            source,
            citations: citations.clone(),
            kb_version,
            at_ms: now,
        };
        // The report first: a turn the visitor sees must reach the regional
        // store, so if it cannot be kept, the visitor is told to retry.
        if edge.platform.durable_outbox() {
            outbox::add(edge, report.clone()).await?;
            sessions::save(edge, &s).await?;
            // An acknowledgement means the regional service is not
            // answering: its turn waits for the next delivery that gets
            // through.
            if source == Source::Cache {
                outbox::after_add(edge, report).await;
            }
        } else {
            // Memory is no outbox: the regional store has the turn before
            // the visitor sees it, or the visitor retries (and, nothing
            // being kept here, is answered afresh then).
            outbox::send_now(edge, report).await.map_err(|e| match e {
                CallError::BadFrame => Error::BadUpstream,
                e => Error::Unavailable {
                    retry_after_ms: e.retry_after_ms(),
                },
            })?;
            sessions::save(edge, &s).await?;
        }
        Ok(ChatReply {
            conversation: s.conversation().clone(),
            seq,
            answer,
            source,
            citations,
            handoff: with_human(s.state()),
            kb_version: (source == Source::Cache).then_some(kb_version),
            cacheable: source == Source::Cache,
        })
    }

    /// "We received your message": the turn waits in the outbox for the
    /// regional service. Where the outbox is memory, the acknowledgement
    /// is given only once the regional store has it (brownout: the service
    /// is slow, not gone); else 503, and the widget sends the message again.
    async fn ack(&self, session: Option<Session>) -> Result<ChatReply, Error> {
        let text = ack_text(self.locale).to_owned();
        self.answer(session, text, Source::Ack, Vec::new(), KbVersion(0))
            .await
    }

    /// Keeps a regional answer: cache it if allowed, mirror it into the
    /// session, and drop the session copy if the sequence numbers disagree
    /// (the regional service saw turns this copy has not).
    async fn regional_answer(
        &self,
        session: Option<Session>,
        resp: TurnResponse,
    ) -> Result<ChatReply, Error> {
        let edge = self.edge;
        let now = edge.platform.now_ms();
        regional::note_brownout(edge, resp.brownout).await;
        let question = &self.input.message;
        answers::store_if_cacheable(
            edge,
            self.config,
            session.as_ref(),
            self.locale,
            question,
            &resp,
        )
        .await;
        let mut s = session.unwrap_or_else(|| {
            Session::new(
                self.config.tenant.clone(),
                resp.conversation.clone(),
                self.input.visitor.clone(),
                now,
            )
        });
        let role = if resp.source == Source::Agent {
            Role::Agent
        } else {
            Role::Bot
        };
        let q = Turn::new(Role::Visitor, question.clone()).with_client_msg_id(self.cmid);
        let a = Turn::new(role, resp.answer.clone())
            .with_source(resp.source)
            .with_citations(resp.citations.clone());
        let in_step = s.push_turn(q, now).is_ok() && s.push_turn(a, now).ok() == Some(resp.seq);
        s.set_state(
            match resp.handoff {
                HandoffState::None | HandoffState::Offered => ConversationState::Ai,
                HandoffState::Queued => ConversationState::QueuedForHuman,
                HandoffState::WithAgent => ConversationState::WithAgent,
            },
            now,
        );
        if in_step {
            sessions::save(edge, &s).await?;
        } else {
            sessions::forget(edge, &resp.conversation).await;
        }
        Ok(ChatReply {
            conversation: resp.conversation,
            seq: resp.seq,
            answer: resp.answer,
            source: resp.source,
            citations: resp.citations,
            handoff: matches!(resp.handoff, HandoffState::Queued | HandoffState::WithAgent),
            kb_version: resp.kb_version.or(resp.cacheable.map(|c| c.kb_version)),
            cacheable: resp.cacheable.is_some(),
        })
    }
}
