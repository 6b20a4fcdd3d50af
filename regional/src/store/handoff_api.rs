//! [`TenantStore`]'s handoff methods: agents, canned replies, settings, and
//! what agents do to conversations. Every state change and every agent read
//! of a conversation is audited in the transaction that makes it.

use kefu_core::ConversationId;
use redb::ReadableTable;

use super::audit_hook::{self, Actor, Outcome};
use super::conversations::{self, Appended};
use super::handle::{Storage, TenantStore, blocking};
use super::handoff::{
    self, AgentRecord, CannedReply, HandoffEntry, HandoffSettings, Position, TransferTo,
};
use super::records::{ConversationMeta, Turn};
use crate::{Error, Result};

/// One agent as the tenant API shows it (no hash).
#[derive(Debug, Clone)]
pub struct AgentInfo {
    /// Id (the login name).
    pub id: String,
    /// The stored record.
    pub record: AgentRecord,
}

pub(super) fn agent_actor(agent: &str, source: &str) -> Actor {
    Actor {
        who: format!("agent:{agent}"),
        source: source.to_owned(),
    }
}

impl TenantStore {
    fn tenant_str(&self) -> String {
        self.tenant.as_str().to_owned()
    }

    /// The tenant's handoff settings.
    pub async fn handoff_settings(&self) -> Result<HandoffSettings> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || handoff::settings(&store.read()?, &t)).await
    }

    /// Replaces the handoff settings; audited.
    pub async fn put_handoff_settings(&self, source: &str, s: HandoffSettings) -> Result<()> {
        self.audited(
            self.actor(source),
            "handoff.settings",
            "handoff".into(),
            move |ctx, t| handoff::put_settings(ctx, t, &s),
        )
        .await
    }

    /// Creates an agent (the password is hashed by the caller); audited.
    pub async fn create_agent(&self, source: &str, id: String, rec: AgentRecord) -> Result<()> {
        let object = format!("agent:{id}");
        self.audited(self.actor(source), "agent.create", object, move |ctx, t| {
            handoff::create_agent(ctx, t, &id, &rec)
        })
        .await
    }

    /// Deletes an agent; what they held goes back to the queue. Audited.
    pub async fn delete_agent(&self, source: &str, id: String) -> Result<Vec<String>> {
        let object = format!("agent:{id}");
        let held = self
            .audited(self.actor(source), "agent.delete", object, move |ctx, t| {
                let held = handoff::delete_agent(ctx, t, &id)?;
                super::agent_sessions::remove_agents(ctx, t, Some(&id))?;
                Ok(held)
            })
            .await?;
        for c in &held {
            self.changed_str(c);
        }
        Ok(held)
    }

    /// One agent.
    pub async fn agent(&self, id: String) -> Result<Option<AgentRecord>> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || handoff::agent(&store.read()?, &t, &id)).await
    }

    /// Every agent, by id.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || {
            Ok(handoff::agents(&store.read()?, &t)?
                .into_iter()
                .map(|(id, record)| AgentInfo { id, record })
                .collect())
        })
        .await
    }

    /// Adds or replaces a canned reply; audited.
    pub async fn put_canned(&self, source: &str, r: CannedReply) -> Result<()> {
        let object = format!("canned:{}", r.id);
        self.audited(self.actor(source), "canned.put", object, move |ctx, t| {
            handoff::put_canned(ctx, t, &r)
        })
        .await
    }

    /// Deletes a canned reply; audited.
    pub async fn delete_canned(&self, source: &str, id: String) -> Result<()> {
        let object = format!("canned:{id}");
        self.audited(
            self.actor(source),
            "canned.delete",
            object,
            move |ctx, t| handoff::delete_canned(ctx, t, &id),
        )
        .await
    }

    /// Canned replies matching `q`.
    pub async fn canned(&self, q: String) -> Result<Vec<CannedReply>> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || handoff::canned(&store.read()?, &t, &q)).await
    }

    /// The queue and assignments, by conversation id.
    pub async fn handoffs(&self) -> Result<Vec<(String, HandoffEntry)>> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || handoff::entries(&store.read()?, &t)).await
    }

    /// One conversation's handoff entry and queue position.
    pub async fn handoff(
        &self,
        conv: ConversationId,
    ) -> Result<Option<(HandoffEntry, Option<Position>)>> {
        let (store, t) = (self.storage.store.clone(), self.tenant_str());
        blocking(move || {
            let txn = store.read()?;
            let Some(e) = handoff::entry(&txn, &t, conv.as_str())? else {
                return Ok(None);
            };
            let p = handoff::position_of(&txn, &t, conv.as_str())?;
            Ok(Some((e, p)))
        })
        .await
    }

    /// An agent reads a conversation (all of it, or after `since`): audited
    /// as `conversation.read` by that agent, in the same transaction. The
    /// agent may read what waits in the queue and what they hold.
    pub async fn agent_read(
        &self,
        agent: &str,
        source: &str,
        conv: ConversationId,
        since: u64,
    ) -> Result<(ConversationMeta, Vec<Turn>, HandoffEntry)> {
        let (actor, agent) = (agent_actor(agent, source), agent.to_owned());
        let object = conv.as_str().to_owned();
        self.audited(actor, "conversation.read", object, move |ctx, t| {
            let e = readable_by(ctx, t, conv.as_str(), &agent)?;
            let (meta, mut turns) =
                conversations::transcript_in(ctx, t, conv.as_str(), super::MAX_TRANSCRIPT)?;
            turns.retain(|x| x.seq > since);
            Ok((meta, turns, e))
        })
        .await
    }

    /// An agent accepts a conversation; the loser of a race gets a conflict.
    pub async fn agent_accept(
        &self,
        agent: &str,
        source: &str,
        conv: ConversationId,
    ) -> Result<HandoffEntry> {
        let (actor, a, c) = (agent_actor(agent, source), agent.to_owned(), conv.clone());
        let object = conv.as_str().to_owned();
        let e = self
            .audited(actor, "conversation.accept", object, move |ctx, t| {
                handoff::accept(ctx, t, conv.as_str(), &a)
            })
            .await?;
        self.changed(&c);
        Ok(e)
    }

    /// An agent's message to the visitor; idempotent by `client_msg_id`.
    pub async fn agent_message(
        &self,
        agent: &str,
        conv: ConversationId,
        text: String,
        client_msg_id: Option<String>,
        max_chars: usize,
    ) -> Result<Appended> {
        let (t, a, c) = (self.tenant_str(), agent.to_owned(), conv.clone());
        let out = self
            .storage
            .writer
            .run(move |ctx| {
                handoff::agent_message(ctx, &t, conv.as_str(), &a, text, client_msg_id, max_chars)
            })
            .await?;
        if !out.duplicate {
            self.changed(&c);
        }
        Ok(out)
    }

    /// Transfers a conversation the agent holds; audited.
    pub async fn agent_transfer(
        &self,
        agent: &str,
        source: &str,
        conv: ConversationId,
        to: TransferTo,
    ) -> Result<HandoffEntry> {
        let (actor, a, c) = (agent_actor(agent, source), agent.to_owned(), conv.clone());
        let object = match &to {
            TransferTo::Agent(x) => format!("{conv} to=agent:{x}"),
            TransferTo::Group(g) => format!("{conv} to=group:{g}"),
        };
        let e = self
            .audited(actor, "conversation.transfer", object, move |ctx, t| {
                handoff::transfer(ctx, t, conv.as_str(), &a, &to)
            })
            .await?;
        self.changed(&c);
        Ok(e)
    }

    /// The agent hands back to the AI (`close = false`) or closes; audited.
    pub async fn agent_release(
        &self,
        agent: &str,
        source: &str,
        conv: ConversationId,
        close: bool,
    ) -> Result<()> {
        let (actor, a, c) = (agent_actor(agent, source), agent.to_owned(), conv.clone());
        let action = if close {
            "conversation.close"
        } else {
            "conversation.return_to_ai"
        };
        let object = conv.as_str().to_owned();
        self.audited(actor, action, object, move |ctx, t| {
            handoff::release(ctx, t, conv.as_str(), &a, close)
        })
        .await?;
        self.changed(&c);
        Ok(())
    }

    /// The change notifications (the console's live stream).
    pub fn watchers(&self) -> std::sync::Arc<super::watch::Watchers> {
        self.storage.watchers().clone()
    }

    fn changed_str(&self, conv: &str) {
        self.storage.watchers().notify(self.tenant.as_str(), conv);
    }
}

/// What an agent may read: a conversation in the queue (waiting or a left
/// message) or one they hold. Anything else answers like a missing one.
fn readable_by(
    ctx: &super::WriteCtx<'_>,
    t: &str,
    conv: &str,
    agent: &str,
) -> Result<HandoffEntry> {
    let e = ctx
        .txn
        .open_table(handoff::HANDOFFS)?
        .get((t, conv))?
        .map(|g| serde_json::from_slice::<HandoffEntry>(g.value()))
        .transpose()
        .map_err(|e| Error::Invalid(e.to_string()))?
        .ok_or(Error::NotFound)?;
    match e.agent.as_deref() {
        None => Ok(e),
        Some(a) if a == agent => Ok(e),
        Some(_) => Err(Error::NotFound),
    }
}

impl Storage {
    /// The handle for an agent's tenant. The caller must have checked the
    /// agent's session (the console's only way in).
    pub fn for_agent_session(&self, tenant: kefu_core::TenantId) -> TenantStore {
        TenantStore {
            storage: self.clone(),
            tenant,
        }
    }

    /// Times out conversations that waited longer than their tenant's queue
    /// timeout: the visitor is asked to leave a message. Returns how many.
    pub async fn sweep_queue(&self) -> Result<usize> {
        let store = self.store.clone();
        let now = super::now_ms();
        let due = blocking(move || {
            let txn = store.read()?;
            let mut due = Vec::new();
            let mut timeouts = std::collections::HashMap::new();
            for (t, c, e) in handoff::all_entries(&txn)? {
                if !e.waiting() {
                    continue;
                }
                let secs = match timeouts.get(&t) {
                    Some(s) => *s,
                    None => {
                        let s = handoff::settings(&txn, &t)?.queue_timeout_secs;
                        timeouts.insert(t.clone(), s);
                        s
                    }
                };
                if now >= e.queued_ms.saturating_add(u64::from(secs) * 1000) {
                    due.push((t, c));
                }
            }
            Ok(due)
        })
        .await?;
        let mut n = 0;
        for (t, c) in due {
            let (t2, c2) = (t.clone(), c.clone());
            let done = self
                .writer
                .run(move |ctx| {
                    let done = handoff::time_out(ctx, &t2, &c2)?;
                    if done {
                        let actor = Actor {
                            who: "queue".into(),
                            source: "internal".into(),
                        };
                        audit_hook::record(
                            ctx,
                            &actor,
                            &t2,
                            "conversation.queue_timeout",
                            &c2,
                            Outcome::Ok,
                        )?;
                    }
                    Ok(done)
                })
                .await?;
            if done {
                n += 1;
                self.watchers().notify(&t, &c);
            }
        }
        Ok(n)
    }

    /// Every tenant with a waiting conversation, and its settings (the
    /// auto-assigner's work list).
    pub async fn waiting_tenants(&self) -> Result<Vec<(String, HandoffSettings)>> {
        let store = self.store.clone();
        blocking(move || {
            let txn = store.read()?;
            let mut out: Vec<(String, HandoffSettings)> = Vec::new();
            for (t, _, e) in handoff::all_entries(&txn)? {
                if e.waiting() && out.last().is_none_or(|(x, _)| *x != t) {
                    let s = handoff::settings(&txn, &t)?;
                    out.push((t, s));
                }
            }
            Ok(out)
        })
        .await
    }
}
