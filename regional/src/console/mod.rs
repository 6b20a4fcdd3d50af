//! The agent console's server side: agent passwords, sessions, presence,
//! automatic assignment and the short summary an agent reads first.
//!
//! - Passwords are argon2id hashes ([`hash_password`]); a login with an
//!   unknown name spends the same time verifying a dummy hash, so timing
//!   does not say which names exist.
//! - A session is a random token the console keeps in an `HttpOnly`,
//!   `SameSite=Strict` cookie scoped to `/console`; the server keeps only
//!   its SM3 hash, in memory, with an absolute expiry ([`SESSION_TTL_MS`]).
//!   A restart signs agents out.
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
    /// Opens a session; returns the token (shown once, in the cookie).
    pub fn open(
        &self,
        tenant: TenantId,
        agent: String,
        name: String,
        now_ms: u64,
    ) -> (String, AgentSession) {
        let token = format!("kefu_as_{}", crate::rng::hex_token(32));
        let s = AgentSession {
            tenant,
            agent,
            name,
            expires_ms: now_ms.saturating_add(SESSION_TTL_MS),
        };
        let mut m = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        m.retain(|_, v| v.expires_ms > now_ms);
        m.insert(token_hash(&token), s.clone());
        (token, s)
    }

    /// The live session for `token`, if any.
    pub fn session(&self, token: &str, now_ms: u64) -> Option<AgentSession> {
        let mut m = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let h = token_hash(token);
        match m.get(&h) {
            Some(s) if s.expires_ms > now_ms => Some(s.clone()),
            Some(_) => {
                m.remove(&h);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn close(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&token_hash(token));
    }

    /// Ends every session of one agent (deleted).
    pub fn sign_out_agent(&self, tenant: &str, agent: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, s| !(s.tenant.as_str() == tenant && s.agent == agent));
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

    #[test]
    fn sessions_expire_and_close() {
        let c = Console::default();
        let t = TenantId::new("acme").unwrap();
        let (tok, s) = c.open(t, "alice".into(), "Alice".into(), 1_000);
        assert_eq!(c.session(&tok, 2_000).unwrap().agent, "alice");
        assert!(
            c.session(&tok, s.expires_ms).is_none(),
            "expired at its expiry"
        );
        let (tok2, _) = c.open(
            TenantId::new("acme").unwrap(),
            "bob".into(),
            "Bob".into(),
            1_000,
        );
        c.close(&tok2);
        assert!(c.session(&tok2, 2_000).is_none());
        assert!(c.session("kefu_as_forged", 2_000).is_none());
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
