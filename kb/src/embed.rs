//! The embedding seam: anything that turns text into unit vectors.
//!
//! Implementations live where their dependencies belong: an
//! OpenAI-compatible `/v1/embeddings` client in the service, in-process
//! models behind their own features. The index only needs this trait.

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
