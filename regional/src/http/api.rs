//! Request and response bodies of the HTTP API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::store::conversations::Conversation;
use crate::store::{Citation, ConversationState, Role, Source, TenantInfo, Turn};

// The API mirrors kefu-core's session types (which, being `no_std`, carry no
// OpenAPI derives) with the same JSON names, converting at this boundary.

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleDto {
    /// The visitor.
    Visitor,
    /// kefu's automatic answerer.
    Bot,
    /// A human agent.
    Agent,
    /// kefu itself (queue notices, handoff messages).
    System,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Source)]
pub enum SourceDto {
    /// The answer cache.
    Cache,
    /// A curated FAQ entry.
    Faq,
    /// Knowledge-base passages, without an LLM.
    Kb,
    /// An LLM answer grounded in the knowledge base.
    Llm,
    /// A human agent.
    Agent,
    /// The canned "I don't know" answer.
    Fallback,
    /// The edge's store-and-forward acknowledgement.
    Ack,
    /// kefu asks the visitor to leave a message (the widget's offline form).
    #[serde(rename = "leave_message")]
    LeaveMessage,
}

/// Who the visitor is talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConversationState)]
pub enum StateDto {
    /// The bot answers.
    Ai,
    /// Waiting for a human agent.
    QueuedForHuman,
    /// A human agent answers.
    WithAgent,
    /// Finished; no more messages.
    Closed,
}

/// A knowledge-base passage an answer rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Citation)]
pub struct CitationDto {
    /// The passage's id in the knowledge base.
    #[schema(max_length = 256)]
    pub id: String,
    /// The document title.
    #[schema(max_length = 256)]
    pub title: String,
    /// Where to read more.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub url: Option<String>,
    /// The quoted text.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub snippet: Option<String>,
}

macro_rules! mirror {
    ($dto:ident <=> $core:ident { $($v:ident),* }) => {
        impl From<$dto> for $core {
            fn from(d: $dto) -> $core {
                match d { $($dto::$v => $core::$v),* }
            }
        }
        impl From<$core> for $dto {
            fn from(c: $core) -> $dto {
                match c { $($core::$v => $dto::$v),* }
            }
        }
    };
}
mirror!(RoleDto <=> Role { Visitor, Bot, Agent, System });
mirror!(SourceDto <=> Source { Cache, Faq, Kb, Llm, Agent, Fallback, Ack, LeaveMessage });
mirror!(StateDto <=> ConversationState { Ai, QueuedForHuman, WithAgent, Closed });

impl From<CitationDto> for Citation {
    fn from(c: CitationDto) -> Citation {
        Citation {
            id: c.id,
            title: c.title,
            url: c.url,
            snippet: c.snippet,
        }
    }
}

impl From<Citation> for CitationDto {
    fn from(c: Citation) -> CitationDto {
        CitationDto {
            id: c.id,
            title: c.title,
            url: c.url,
            snippet: c.snippet,
        }
    }
}

/// `POST /admin/v1/tenants`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Letters, digits, `-`, `_`, `.`; 1..=64 bytes; not starting with `_` or `.`.
    #[schema(
        example = "acme-bank",
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9-][A-Za-z0-9._-]*$"
    )]
    pub id: String,
    /// Display name.
    #[schema(
        example = "Acme Bank",
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
}

/// A new tenant and its credentials. The API key is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    /// Tenant id.
    pub id: String,
    /// Secret API key for `/v1/...` (`Authorization: Bearer ...`).
    pub api_key: String,
    /// Public key the widget embeds.
    pub widget_key: String,
}

/// `GET /admin/v1/tenants`
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// Every tenant, by id.
    pub tenants: Vec<TenantInfo>,
}

/// A new API key; the old one no longer works.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyRotated {
    /// Tenant id.
    pub id: String,
    /// The new secret API key (shown only here).
    pub api_key: String,
}

/// A new data-key version; new records are sealed with it, old ones stay readable.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataKeyRotated {
    /// Tenant id.
    pub id: String,
    /// The new current version.
    pub data_key_version: u32,
}

/// `POST /v1/conversations`
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    /// The visitor, as the widget or host page identifies them (printable ASCII, no spaces).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub visitor_id: Option<String>,
}

/// A conversation without its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// Conversation id.
    pub id: String,
    /// State.
    pub state: StateDto,
    /// Visitor id, if known.
    pub visitor_id: Option<String>,
    /// Seq of the last message (0: none yet). Continue with `last_seq + 1`.
    pub last_seq: u64,
    /// Created, ms since the epoch.
    pub created_ms: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

impl ConversationView {
    /// From a stored conversation.
    pub fn from_conversation(c: &Conversation) -> Self {
        Self::new(c.id.as_str(), &c.meta)
    }

    /// From an id and its meta.
    pub fn new(id: &str, m: &crate::store::ConversationMeta) -> Self {
        ConversationView {
            id: id.to_owned(),
            state: m.state.into(),
            visitor_id: m.visitor.clone(),
            last_seq: m.next_seq.saturating_sub(1),
            created_ms: m.created_ms,
            updated_ms: m.updated_ms,
        }
    }
}

/// `GET /v1/conversations`
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    /// This page, ordered by id.
    pub conversations: Vec<ConversationView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Paging for `GET /v1/conversations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Return conversations with ids after this one.
    pub after: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// `POST /v1/conversations/{conversation_id}/messages`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendMessage {
    /// Author.
    pub role: RoleDto,
    /// Text (not blank; at most the configured number of characters, else 413).
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S")]
    pub text: String,
    /// Client message id: repeating it returns the first append's seq and writes nothing.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub client_msg_id: Option<String>,
    /// If set, the append fails with 409 unless the message would get exactly this seq.
    #[serde(default, deserialize_with = "crate::json_int::opt_u64")]
    #[schema(minimum = 1)]
    pub expected_seq: Option<u64>,
    /// Where an answer came from; absent for visitor messages.
    #[serde(default)]
    pub source: Option<SourceDto>,
    /// Cited passages.
    #[serde(default)]
    #[schema(max_items = 8)]
    pub citations: Vec<CitationDto>,
}

/// A durable append.
#[derive(Debug, Serialize, ToSchema)]
pub struct Appended {
    /// The message's seq.
    pub seq: u64,
    /// True if this client message id was stored before (nothing new written).
    pub duplicate: bool,
    /// When it was stored, ms since the epoch.
    pub at_ms: u64,
}

/// One message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Seq, from 1.
    pub seq: u64,
    /// Author.
    pub role: RoleDto,
    /// Text.
    pub text: String,
    /// Where an answer came from.
    pub source: Option<SourceDto>,
    /// Cited passages.
    pub citations: Vec<CitationDto>,
    /// The client's message id, if given.
    pub client_msg_id: Option<String>,
    /// Stored, ms since the epoch.
    pub at_ms: u64,
}

impl From<Turn> for MessageView {
    fn from(t: Turn) -> Self {
        MessageView {
            seq: t.seq,
            role: t.role.into(),
            text: t.text,
            source: t.source.map(Into::into),
            citations: t.citations.into_iter().map(Into::into).collect(),
            client_msg_id: t.client_msg_id,
            at_ms: t.at_ms,
        }
    }
}

/// `GET /v1/conversations/{conversation_id}`: the conversation and every message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its messages, by seq.
    pub messages: Vec<MessageView>,
    /// Routing decisions (offers, handoffs, with their reasons) and the
    /// handoff state changes after them, oldest first.
    pub routing: Vec<crate::store::RouteEvent>,
    /// The phone number or e-mail the visitor left, if any.
    pub contact: Option<String>,
}

/// `GET /v1/visitors/{visitor_id}/conversations`: everything kept about one
/// visitor, for their request to see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorExport {
    /// The visitor.
    pub visitor_id: String,
    /// Each of their conversations, by id.
    pub conversations: Vec<Transcript>,
}

/// `GET /v1/conversations/{conversation_id}/messages`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// The conversation.
    pub conversation: ConversationView,
    /// Messages after `since`, by seq.
    pub messages: Vec<MessageView>,
}

/// Paging for messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SinceParams {
    /// Return messages with seq greater than this (default 0: all).
    #[param(minimum = 0)]
    pub since: Option<u64>,
    /// Most messages to return, 1..=1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// `PUT /v1/conversations/{conversation_id}/state`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeState {
    /// The new state. A closed conversation cannot change (409).
    pub state: StateDto,
}

/// `/healthz`, `/readyz`
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `starting`.
    pub status: String,
}

/// Paging for `GET /v1/audit/entries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// The first entry's index (entries are numbered from 0 without gaps).
    pub from: Option<u64>,
    /// Page size, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One entry of the tenant's audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Position in the chain, from 0.
    pub index: u64,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who: `operator`, `tenant:<id>`, `agent:<id>`, `routing`, `system`.
    pub actor: String,
    /// What, e.g. `conversation.read`, `agent.login`, `visitor.erase`.
    pub action: String,
    /// On what, by id (never message text).
    pub object: String,
    /// The client address the request came from.
    pub source: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// This entry's SM3 chain hash (hex).
    pub hash: String,
}

/// `GET /v1/audit/entries`: a page of the tenant's audit chain, oldest
/// first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntryView>,
    /// The `from` of the next page, when there may be more.
    pub next_from: Option<u64>,
}

impl From<crate::audit::StoredEntry> for AuditEntryView {
    fn from(e: crate::audit::StoredEntry) -> Self {
        let outcome = serde_json::to_value(e.entry.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        AuditEntryView {
            index: e.index,
            at_ms: e.entry.at_ms,
            actor: e.entry.actor,
            action: e.entry.action,
            object: e.entry.object,
            source: e.entry.source,
            outcome,
            hash: hex::encode(e.hash),
        }
    }
}

/// A saved state of an audit chain: keep it outside kefu to detect a later
/// truncation or rewrite.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The chain's tenant.
    pub tenant: String,
    /// Entries in the chain at that moment.
    pub count: u64,
    /// SM3 hash of the last entry (hex); the genesis hash when empty.
    pub head_hash: String,
    /// When it was taken, ms since the epoch.
    pub at_ms: u64,
}

impl From<crate::audit::Checkpoint> for CheckpointView {
    fn from(c: crate::audit::Checkpoint) -> Self {
        CheckpointView {
            tenant: c.tenant,
            count: c.count,
            head_hash: hex::encode(c.head_hash),
            at_ms: c.at_ms,
        }
    }
}

/// The result of recomputing the tenant's audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerifyView {
    /// The chain's tenant.
    pub tenant: String,
    /// Entries in the chain.
    pub entries: u64,
    /// Whether the chain, its head and the checkpoint agree.
    pub ok: bool,
    /// The first entry the log can no longer vouch for.
    pub first_bad: Option<u64>,
    /// What is wrong, in words.
    pub problem: Option<String>,
    /// Hash of the last entry of the verified prefix (hex).
    pub head_hash: String,
    /// The service's saved checkpoint the chain was checked against, if any.
    pub checkpoint: Option<CheckpointView>,
}
