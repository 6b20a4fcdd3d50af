//! The reader: the configured model reads the question and the passages
//! retrieval accepted, together, and says whether they answer it.
//!
//! Retrieval's judgement ([`kefu_kb::judge`]) rests on a bi-encoder's
//! cosine and on term overlap; both say "related" for a question near the
//! knowledge base's subject that it does not answer ("can I pay with
//! bitcoin" against the payment-methods FAQ). A model that sees both texts
//! at once can tell. Before a [`Judgement::Faq`] or
//! [`Judgement::Passages`] is used, [`Generator::read`] asks the model
//! [`kefu_llm::prompt::build_reader`]'s one-word question (visitor text PII
//! masked, both texts in defused data blocks), greedy, a few tokens, within
//! [`ReaderPolicy::timeout`].
//!
//! - A clear **no** turns the answer into the honest "I don't know" with an
//!   offer of a human (source `fallback`, which routing counts).
//! - A clear **yes** keeps the judgement.
//! - **Anything else** — an error, a timeout, an overloaded gateway, a reply
//!   that is neither — also keeps the judgement: the reader fails open to
//!   what kefu answered without it, never to a guess in either direction.
//!   A broken or slow model must not turn every FAQ into "I don't know".
//!
//! [`ReaderPolicy::below_coverage`] gates it: hits whose lexical coverage
//! is at or above it (the visitor used the knowledge base's own words) are
//! not read, so the common case costs no model call.

use std::time::{Duration, Instant};

use kefu_kb::{Hit, Judgement, KbIndex, coverage};
use kefu_llm::prompt::ReaderReply;

use super::Generator;

/// When and how long the reader is asked (`[llm] reader`,
/// `reader_timeout_ms`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReaderPolicy {
    /// How long a reading may take; past it the judgement stands.
    pub timeout: Duration,
    /// Read only when the best accepted hit's lexical coverage
    /// ([`kefu_kb::coverage`]) is below this: `0.0` never reads, anything
    /// above `1.0` reads every accepted judgement.
    pub below_coverage: f32,
}

impl Default for ReaderPolicy {
    /// Chosen on the shop fixture's tuning half (BENCHMARKS.md, "The
    /// reader").
    fn default() -> Self {
        ReaderPolicy {
            timeout: Duration::from_millis(READER_TIMEOUT_MS),
            below_coverage: READER_BELOW_COVERAGE,
        }
    }
}

/// The default [`ReaderPolicy::timeout`], milliseconds.
pub const READER_TIMEOUT_MS: u64 = 4000;
/// The default [`ReaderPolicy::below_coverage`].
pub const READER_BELOW_COVERAGE: f32 = 2.0;
/// The most characters of one passage the reader sees.
pub const READER_PASSAGE_CHARS: usize = 300;
/// The most tokens a reading may write: one word, and room for a model
/// that starts with a space or a quote.
pub const READER_MAX_TOKENS: u32 = 4;

/// What the reader said about a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The passages answer the question: the judgement stands.
    Answers,
    /// They do not: answer "I don't know".
    DoesNotAnswer,
    /// No clear reply (error, timeout, overload, neither yes nor no): the
    /// judgement stands.
    Unsure,
    /// Not asked: no reader configured, nothing accepted, or the gate let
    /// the judgement through.
    Skipped,
}

/// The hits a judgement accepted, best first.
fn accepted(judgement: &Judgement) -> &[Hit] {
    match judgement {
        Judgement::Faq { hit } => std::slice::from_ref(hit),
        Judgement::Passages { hits } => hits,
        Judgement::NothingRelevant => &[],
    }
}

impl Generator {
    /// Whether [`Generator::read`] asks the model about `judgement`: a
    /// reader is configured, something was accepted, and its best hit's
    /// coverage is below the gate.
    pub fn should_read(&self, index: &KbIndex, question: &str, judgement: &Judgement) -> bool {
        let Some(policy) = self.reader else {
            return false;
        };
        accepted(judgement)
            .first()
            .is_some_and(|h| coverage(index, question, h.chunk) < policy.below_coverage)
    }

    /// Asks the model whether the passages `judgement` accepted answer
    /// `question` (gated by [`Generator::should_read`]). Logs only the
    /// outcome and its time, never the texts.
    pub async fn read(
        &self,
        tenant: &str,
        index: &KbIndex,
        question: &str,
        judgement: &Judgement,
    ) -> Reading {
        if !self.should_read(index, question, judgement) {
            return Reading::Skipped;
        }
        let Some(policy) = self.reader else {
            return Reading::Skipped;
        };
        use futures_util::StreamExt;
        // The best passage only, cut short: on a CPU model the prompt's
        // length is the reading's cost (prefill), and the best passage is
        // what the answer leads with.
        let passages: Vec<kefu_llm::prompt::Passage> = accepted(judgement)
            .iter()
            .take(1)
            .filter_map(|h| index.chunks().get(h.chunk))
            .map(|c| kefu_llm::prompt::Passage {
                id: c.entry_id.clone(),
                title: c.title.clone(),
                text: c.text.chars().take(READER_PASSAGE_CHARS).collect(),
            })
            .collect();
        let masked = kefu_core::pii::redact(question).text;
        let started = Instant::now();
        let req = kefu_llm::GenerateRequest {
            tenant: tenant.to_owned(),
            messages: kefu_llm::prompt::build_reader(&passages, &masked),
            max_tokens: READER_MAX_TOKENS,
            temperature: 0.0,
            deadline: Some(started + policy.timeout),
        };
        let run = async {
            let mut s = self.gateway.generate(req).await.ok()?;
            let mut text = String::new();
            // The first word decides; the rest of the stream is dropped
            // (which stops the model).
            loop {
                match s.next().await {
                    Some(Ok(piece)) => {
                        text.push_str(&piece);
                        match kefu_llm::prompt::read_reply(&text, false) {
                            ReaderReply::Partial => {}
                            r => return Some(r),
                        }
                    }
                    Some(Err(_)) => return None,
                    None => return Some(kefu_llm::prompt::read_reply(&text, true)),
                }
            }
        };
        let reply = tokio::time::timeout(policy.timeout, run)
            .await
            .ok()
            .flatten();
        let reading = match reply {
            Some(ReaderReply::Yes) => Reading::Answers,
            Some(ReaderReply::No) => Reading::DoesNotAnswer,
            _ => Reading::Unsure,
        };
        tracing::debug!(
            reading = ?reading,
            passages = passages.len(),
            ms = started.elapsed().as_millis() as u64,
            "reader"
        );
        reading
    }
}
