//! The agent console's server side: agent passwords, sessions, presence,
//! automatic assignment and the short summary an agent reads first.
//!
//! - Passwords are argon2id hashes ([`hash_password`]); a login with an
//!   unknown name spends the same time verifying a dummy hash, so timing
//!   does not say which names exist.
//! - A session is a random token the console keeps in an `HttpOnly`,
//!   `SameSite=Strict` cookie scoped to `/console`; the server keeps only
//!   its SM3 hash, with an absolute expiry ([`SESSION_TTL_MS`]), in the
//!   store ([`crate::store::agent_sessions`]) and in memory in front of it:
//!   a restart does not sign agents out.
//! - Presence: an agent is online while their console holds the events
//!   stream open. Automatic assignment ([`assign_waiting`]) only picks
//!   online agents.
//!
//! HTTP handlers: [`crate::http::console`]. Storage: [`crate::store::handoff`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use kefu_core::TenantId;
use sm3::Digest;

use crate::store::agent_sessions::SessionRow;
use crate::store::handoff::{self, HandoffEntry};
use crate::store::{Role, Storage, Turn};
use crate::{Error, Result};

/// How long a console session lasts, ms (8 hours: one shift).
pub const SESSION_TTL_MS: u64 = 8 * 3_600_000;
/// Cookie holding the session token.
pub const COOKIE: &str = "kefu_agent";
/// Shortest password accepted for an agent.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes an agent's password (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=256).contains(&n) {
        return Err(Error::Invalid(format!(
            "password must have {MIN_PASSWORD_CHARS}..=256 characters"
        )));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Invalid(format!("randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("password hash: {e}")))
}

/// Checks `password` against a stored hash; a malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified for unknown names.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("not-a-password-of-anyone").unwrap_or_default())
}

/// Verifies a login; `None` when the name or the password is wrong (the
/// same time is spent either way).
pub fn check_login(record: Option<&handoff::AgentRecord>, password: &str) -> bool {
    match record {
        Some(r) => verify_password(&r.password_hash, password),
        None => {
            let _ = verify_password(dummy_hash(), password);
            false
        }
    }
}

/// A signed-in agent.
#[derive(Debug, Clone)]
pub struct AgentSession {
    /// Their tenant.
    pub tenant: TenantId,
    /// Agent id.
    pub agent: String,
    /// Display name.
    pub name: String,
    /// Absolute expiry, ms since the epoch.
    pub expires_ms: u64,
}

impl AgentSession {
    fn row(&self) -> SessionRow {
        SessionRow {
            tenant: self.tenant.as_str().to_owned(),
            agent: self.agent.clone(),
            name: self.name.clone(),
            expires_ms: self.expires_ms,
        }
    }
}

type TokenHash = [u8; 32];

fn token_hash(token: &str) -> TokenHash {
    sm3::Sm3::digest(token.as_bytes()).into()
}

/// Sessions, presence and the round-robin cursors. One per service.
#[derive(Debug, Default)]
pub struct Console {
    sessions: Mutex<HashMap<TokenHash, AgentSession>>,
    online: Mutex<HashMap<(String, String), usize>>,
    cursors: Mutex<HashMap<String, usize>>,
}

impl Console {
    /// Opens a session, stored and audited (`agent.login`) before it is
    /// returned; returns the token (shown once, in the cookie).
    pub async fn open(
        &self,
        storage: &Storage,
        tenant: TenantId,
        agent: String,
        name: String,
        source: String,
        now_ms: u64,
    ) -> Result<(String, AgentSession)> {
        let token = format!("kefu_as_{}", crate::rng::hex_token(32));
        let s = AgentSession {
            tenant,
            agent,
            name,
            expires_ms: now_ms.saturating_add(SESSION_TTL_MS),
        };
        let h = token_hash(&token);
        storage
            .open_agent_session(h, s.row(), source, now_ms)
            .await?;
        let mut m = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        m.retain(|_, v| v.expires_ms > now_ms);
        m.insert(h, s.clone());
        Ok((token, s))
    }

    /// The live session for `token`, if any: from memory, else from the
    /// store (a session opened before a restart).
    pub async fn session(
        &self,
        storage: &Storage,
        token: &str,
        now_ms: u64,
    ) -> Result<Option<AgentSession>> {
        let h = token_hash(token);
        {
            let mut m = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            match m.get(&h) {
                Some(s) if s.expires_ms > now_ms => return Ok(Some(s.clone())),
                Some(_) => {
                    m.remove(&h);
                    return Ok(None);
                }
                None => {}
            }
        }
        let Some(row) = storage.agent_session(h, now_ms).await? else {
            return Ok(None);
        };
        let Ok(tenant) = TenantId::new(row.tenant) else {
            return Ok(None);
        };
        let s = AgentSession {
            tenant,
            agent: row.agent,
            name: row.name,
            expires_ms: row.expires_ms,
        };
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(h, s.clone());
        Ok(Some(s))
    }

    /// Ends a session, in memory and in the store.
    pub async fn close(&self, storage: &Storage, token: &str) -> Result<()> {
        let h = token_hash(token);
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&h);
        storage.close_agent_session(h).await
    }

    /// Forgets every session of one agent (`None`: of every agent of the
    /// tenant) held in memory; deleting the agent or the tenant removed
    /// them from the store.
    pub fn sign_out(&self, tenant: &str, agent: Option<&str>) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, s| !(s.tenant.as_str() == tenant && agent.is_none_or(|a| a == s.agent)));
    }

    /// Marks the agent online until the guard drops.
    pub fn present(self: &Arc<Self>, tenant: &str, agent: &str) -> Presence {
        let key = (tenant.to_owned(), agent.to_owned());
        *self
            .online
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default() += 1;
        Presence {
            console: self.clone(),
            key,
        }
    }

    /// Whether the agent has a console open.
    pub fn is_online(&self, tenant: &str, agent: &str) -> bool {
        self.online
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(tenant.to_owned(), agent.to_owned()))
            .is_some_and(|n| *n > 0)
    }
}

/// An open console; the agent is online while it lives.
#[derive(Debug)]
pub struct Presence {
    console: Arc<Console>,
    key: (String, String),
}

impl Drop for Presence {
    fn drop(&mut self) {
        let mut m = self
            .console
            .online
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// Gives waiting conversations to online agents, for tenants whose
/// assignment is automatic. Returns how many were assigned.
pub async fn assign_waiting(storage: &Storage, console: &Console) -> Result<usize> {
    let mut n = 0;
    for (tenant, settings) in storage.waiting_tenants().await? {
        if settings.assignment == handoff::Assignment::Manual {
            continue;
        }
        let Ok(tid) = TenantId::new(tenant.clone()) else {
            continue;
        };
        let store = storage.for_agent_session(tid);
        let online: Vec<(String, handoff::AgentRecord)> = store
            .agents()
            .await?
            .into_iter()
            .filter(|a| console.is_online(&tenant, &a.id))
            .map(|a| (a.id, a.record))
            .collect();
        if online.is_empty() {
            continue;
        }
        let mut all = store.handoffs().await?;
        let mut waiting: Vec<(String, HandoffEntry)> =
            all.iter().filter(|(_, e)| e.waiting()).cloned().collect();
        waiting.sort_by(|a, b| (a.1.queued_ms, &a.0).cmp(&(b.1.queued_ms, &b.0)));
        for (conv, entry) in waiting {
            let pick = {
                let mut cursors = console
                    .cursors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let cur = cursors.entry(tenant.clone()).or_default();
                handoff::pick_agent(settings.assignment, &entry, &all, &online, cur)
            };
            let Some(agent) = pick else { continue };
            let Ok(cid) = kefu_core::ConversationId::new(conv.clone()) else {
                continue;
            };
            match store.agent_accept(&agent, "assigner", cid).await {
                Ok(e) => {
                    n += 1;
                    if let Some(slot) = all.iter_mut().find(|(c, _)| *c == conv) {
                        slot.1 = e;
                    }
                }
                // Taken meanwhile, or the agent filled up: next round.
                Err(Error::Conflict(_) | Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// The short summary an agent reads before the transcript: what the
/// visitor asked, how the AI answered, and why it came to a person. Built
/// from the turns (extractive); no model is asked.
pub fn summary(turns: &[Turn], entry: &HandoffEntry) -> String {
    let clip = |s: &str, n: usize| -> String {
        let t: String = s.chars().take(n).collect();
        if s.chars().count() > n {
            format!("{t}…")
        } else {
            t
        }
    };
    let asked: Vec<String> = turns
        .iter()
        .filter(|t| t.role == Role::Visitor)
        .take(3)
        .map(|t| clip(t.text.trim(), 80))
        .collect();
    let bot = turns.iter().filter(|t| t.role == Role::Bot).count();
    let fallbacks = turns
        .iter()
        .filter(|t| t.role == Role::Bot && t.source == Some(crate::store::Source::Fallback))
        .count();
    let mut out = String::new();
    if asked.is_empty() {
        out.push_str("The visitor has not written yet.");
    } else {
        out.push_str("Visitor asked: ");
        out.push_str(&asked.join(" / "));
        out.push('.');
    }
    out.push_str(&format!(
        " AI answered {bot} time(s), {fallbacks} without an answer."
    ));
    if !entry.reasons.is_empty() {
        out.push_str(&format!(" Handed off: {}.", entry.reasons.join(", ")));
    }
    if !entry.left_messages.is_empty() {
        out.push_str(&format!(
            " Left {} message(s) after the queue timed out.",
            entry.left_messages.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse battery!"));
        assert!(!verify_password("not a hash", "x"));
        // Two hashes of one password differ (random salt).
        assert_ne!(h, hash_password("correct horse battery").unwrap());
        assert!(hash_password("short").is_err());
    }

    async fn live(c: &Console, s: &Storage, token: &str, now: u64) -> Option<AgentSession> {
        c.session(s, token, now).await.unwrap()
    }

    #[tokio::test]
    async fn sessions_expire_and_close_in_memory_and_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::crypto::Key::from_bytes([7; 16]);
        let store = Arc::new(crate::store::Store::open(dir.path(), Some(key)).unwrap());
        let commit = crate::config::CommitConfig {
            max_batch: 8,
            max_wait: std::time::Duration::from_millis(1),
        };
        let (writer, thread) =
            crate::store::writer::Writer::start(store.clone(), commit, Arc::default());
        let storage = Storage::new(store, writer);
        let c = Console::default();
        let open = |agent: &'static str| {
            c.open(
                &storage,
                TenantId::new("acme").unwrap(),
                agent.into(),
                agent.into(),
                "127.0.0.1".into(),
                1_000,
            )
        };
        let (tok, s) = open("alice").await.unwrap();
        assert_eq!(
            live(&c, &storage, &tok, 2_000).await.unwrap().agent,
            "alice"
        );
        // A console that never saw it (after a restart) reads the store.
        let fresh = Console::default();
        assert_eq!(
            live(&fresh, &storage, &tok, 2_000).await.unwrap().name,
            "alice"
        );
        assert!(
            live(&fresh, &storage, &tok, s.expires_ms).await.is_none(),
            "expired at its expiry"
        );
        assert!(
            live(&Console::default(), &storage, &tok, s.expires_ms)
                .await
                .is_none()
        );
        let (tok2, _) = open("bob").await.unwrap();
        c.close(&storage, &tok2).await.unwrap();
        assert!(live(&c, &storage, &tok2, 2_000).await.is_none());
        assert!(
            live(&Console::default(), &storage, &tok2, 2_000)
                .await
                .is_none()
        );
        assert!(live(&c, &storage, "kefu_as_forged", 2_000).await.is_none());
        drop((c, fresh, storage));
        drop(thread);
    }

    #[test]
    fn presence_lasts_while_a_console_is_open() {
        let c = Arc::new(Console::default());
        let a = c.present("acme", "alice");
        let b = c.present("acme", "alice");
        drop(a);
        assert!(c.is_online("acme", "alice"));
        drop(b);
        assert!(!c.is_online("acme", "alice"));
        assert!(!c.is_online("other", "alice"));
    }

    #[test]
    fn the_summary_says_what_was_asked_and_why_it_came_here() {
        let mut q = Turn::new(Role::Visitor, "我的退款什么时候到账？");
        q.seq = 1;
        let a = Turn::new(Role::Bot, "抱歉").with_source(crate::store::Source::Fallback);
        let e = HandoffEntry {
            reasons: vec!["explicit_request".into()],
            ..HandoffEntry::default()
        };
        let s = summary(&[q, a], &e);
        assert!(s.contains("我的退款什么时候到账"), "{s}");
        assert!(s.contains("1 without an answer"), "{s}");
        assert!(s.contains("explicit_request"), "{s}");
    }
}
