//! Cached answers at the edge: looked up under kefu-core's [`CacheKey`]
//! (tenant + knowledge-base version + locale + normalised question), stored
//! from regional answers marked cacheable that also pass kefu-core's
//! [`cacheability`] rule here.
//!
//! The key includes the tenant's current KB version, so once the edge
//! learns of a new version (tenant config refresh, or a regional answer
//! resting on it) entries of older versions are never looked up again; they
//! expire on their TTL. Similar-question lookup is not done at the edge,
//! which has no cheap embeddings: the regional service does it, for tenants
//! that opt in (`similar_answers`; kefu-kb's `SimilarAnswers`), with the
//! query embedding it computes for retrieval anyway.

use kefu_core::cache::{CacheCandidate, Cacheable, cacheability, is_standalone};
use kefu_core::session::{ConversationState, Role, Session};
use kefu_core::wire::{HandoffState, TenantConfig, TurnResponse};
use kefu_core::{CacheKey, Locale};

use super::tenant;
use crate::edge::Edge;
use crate::platform::Platform;
use crate::store::{self, CachedAnswer};

/// 0 for the visitor's first message in the conversation, else how many
/// visitor messages came before (at least 1 if older turns left the window).
pub fn turn_index(session: Option<&Session>) -> u32 {
    let Some(s) = session else { return 0 };
    let visitors = s.turns().iter().filter(|t| t.role == Role::Visitor).count();
    let evicted = s.turns().front().is_some_and(|t| t.seq > 0);
    u32::try_from(visitors)
        .unwrap_or(u32::MAX)
        .saturating_add(u32::from(evicted))
}

/// Whether the question side of kefu-core's rule allows a cached answer:
/// caching on for the tenant, the bot answering (no handoff), a question
/// that stands on its own and holds no personal data.
pub fn may_use_cache(config: &TenantConfig, session: Option<&Session>, question: &str) -> bool {
    config.cache_answers
        && session.is_none_or(|s| s.state() == ConversationState::Ai)
        && is_standalone(question, turn_index(session))
        && !kefu_core::pii::contains_pii(question)
        && !kefu_core::cache::normalize_question(question).is_empty()
}

/// The cached answer to `question`, if any.
pub async fn lookup<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    locale: Locale,
    question: &str,
) -> Option<CachedAnswer> {
    let key = CacheKey::new(&config.tenant, config.kb_version, locale, question);
    store::answer(&edge.platform, &key.encode())
        .await
        .ok()
        .flatten()
        .filter(|a| a.kb_version == config.kb_version)
}

/// Stores a regional answer if the regional service marked it cacheable and
/// kefu-core's rule agrees; notes a newer KB version either way.
pub async fn store_if_cacheable<P: Platform>(
    edge: &Edge<P>,
    config: &TenantConfig,
    session: Option<&Session>,
    locale: Locale,
    question: &str,
    resp: &TurnResponse,
) {
    let Some(c) = resp.cacheable else { return };
    tenant::note_kb_version(edge, config, c.kb_version).await;
    let verdict = cacheability(&CacheCandidate {
        question,
        answer: &resp.answer,
        turn_index: turn_index(session),
        source: resp.source,
        handoff: resp.handoff,
        tenant_allows_caching: config.cache_answers,
    });
    if verdict != Cacheable::Yes || resp.handoff != HandoffState::None || c.ttl_ms == 0 {
        return;
    }
    let key = CacheKey::new(&config.tenant, c.kb_version, locale, question);
    let value = CachedAnswer {
        answer: resp.answer.clone(),
        source: resp.source,
        citations: resp.citations.clone(),
        kb_version: c.kb_version,
    };
    let _ = store::put_answer(&edge.platform, &key.encode(), &value, c.ttl_ms).await;
}
