//! kefu-kb: a tenant's knowledge base as a searchable, immutable index.
//!
//! A knowledge base is curated FAQ entries and documents. Publishing one
//! turns it into a [`KbIndex`]: the entries cut into [`Chunk`]s
//! ([`chunk_document`], [`faq_chunk`]), a BM25 index over Chinese word
//! segmentation (jieba) plus English tokens ([`lexical`]), and, when an
//! [`Embedder`] is configured, a vector index ([`vector`]). Search fuses
//! the two rankings with reciprocal-rank fusion ([`SearchMode`]).
//!
//! [`judge`] then says what kind of answer the hits support — a curated FAQ
//! answer, passages to ground an answer on, or nothing relevant — so the
//! service never dresses a guess up as an answer. [`extractive_answer`] is
//! the answer when no generative model is configured.
//!
//! Everything here is synchronous and pure CPU; the service runs it on a
//! blocking thread. The index serialises to bytes ([`KbIndex::to_bytes`])
//! that the service seals with the tenant's key before they touch disk.

mod chunk;
mod embed;
mod error;
mod index;
mod judge;
pub mod lexical;
mod tokenize;
pub mod vector;

pub use chunk::{Chunk, ChunkConfig, EntryKind, chunk_document, faq_chunk};
pub use embed::{EmbedKind, Embedder, normalize};
pub use error::{Error, Result};
pub use index::{Hit, KbIndex, Progress, RankScore, SearchMode, SearchOptions};
pub use judge::{AnswerPolicy, Judgement, coverage, extractive_answer, judge};
pub use tokenize::tokenize;
