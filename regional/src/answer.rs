//! Answering a visitor's question from the tenant's knowledge base.
//!
//! In order, and never a guess:
//! 1. **Curated FAQ**: a strong match is answered verbatim (source `faq`).
//! 2. **Grounded generation** (source `llm`): not wired in yet; with no
//!    model configured the service goes to 3.
//! 3. **Extractive**: the best passage, trimmed at sentence ends, with its
//!    citation (source `kb`).
//! 4. **Nothing relevant**: an honest "I don't know" and an offer of a
//!    human (source `fallback`), which kefu-core's routing counts as a
//!    failed answer.
//!
//! Retrieval runs on a blocking thread; the question text is never logged.

use kefu_core::{Locale, Source};
use kefu_kb::{AnswerPolicy, Hit, Judgement, KbIndex, SearchOptions, extractive_answer, judge};

use crate::Result;
use crate::store::{Citation, Role, TenantStore, Turn};

/// The longest extractive answer, in characters.
pub const MAX_EXTRACT_CHARS: usize = 400;
/// The longest citation snippet, in characters.
pub const MAX_SNIPPET_CHARS: usize = 160;

/// An answer and the knowledge-base version it came from (0: none).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The bot's turn.
    pub turn: Turn,
    /// The KB version it rests on.
    pub kb_version: u64,
}

fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(MAX_SNIPPET_CHARS).collect();
    if text.chars().count() > MAX_SNIPPET_CHARS {
        s.push('…');
    }
    s
}

fn citation(index: &KbIndex, hit: &Hit) -> Option<Citation> {
    let c = index.chunks().get(hit.chunk)?;
    Some(Citation {
        id: c.entry_id.clone(),
        title: c.title.clone(),
        url: c.url.clone(),
        snippet: Some(snippet(&c.text)),
    })
}

/// The honest "I don't know", offering a human.
pub fn dont_know(locale: Locale) -> Turn {
    let text = match locale {
        Locale::Zh => {
            "抱歉，我在知识库里没有找到这个问题的答案，不想随便猜测。需要为您转接人工客服吗？"
        }
        Locale::En => {
            "Sorry, I couldn't find this in our help content, and I'd rather not guess. Would you like to talk to a human agent?"
        }
    };
    Turn::new(Role::Bot, text).with_source(Source::Fallback)
}

/// The labelled answer while the tenant has published no knowledge base.
pub fn no_kb(locale: Locale) -> Turn {
    let text = match locale {
        Locale::Zh => "抱歉，知识库尚未发布，我暂时无法回答这个问题。需要为您转接人工客服吗？",
        Locale::En => {
            "Sorry, no knowledge base has been published yet, so I cannot answer this. Would you like to talk to a human agent?"
        }
    };
    Turn::new(Role::Bot, text).with_source(Source::Fallback)
}

/// Decides the answer from a published index (pure CPU).
pub fn from_index(index: &KbIndex, version: u64, question: &str, locale: Locale) -> Answer {
    let hits = index.search(question, None, &SearchOptions::default());
    let turn = match judge(index, question, &hits, &AnswerPolicy::default()) {
        Judgement::Faq { hit } => {
            let text = index
                .chunks()
                .get(hit.chunk)
                .map(|c| c.text.clone())
                .unwrap_or_default();
            Turn::new(Role::Bot, text)
                .with_source(Source::Faq)
                .with_citations(citation(index, &hit).into_iter().collect())
        }
        Judgement::Passages { hits } => {
            let best = &hits[0];
            Turn::new(
                Role::Bot,
                extractive_answer(index, question, best, MAX_EXTRACT_CHARS),
            )
            .with_source(Source::Kb)
            .with_citations(citation(index, best).into_iter().collect())
        }
        Judgement::NothingRelevant => dont_know(locale),
    };
    Answer {
        turn,
        kb_version: version,
    }
}

/// Answers `question` for the tenant.
pub async fn answer(tenant: &TenantStore, question: &str, locale: Locale) -> Result<Answer> {
    let Some(published) = tenant.kb_current().await? else {
        return Ok(Answer {
            turn: no_kb(locale),
            kb_version: 0,
        });
    };
    let q = question.to_owned();
    tokio::task::spawn_blocking(move || from_index(&published.index, published.version, &q, locale))
        .await
        .map_err(|_| crate::Error::ShuttingDown)
}
