//! The crate's one error type.

/// What can go wrong building, loading or searching a knowledge base.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Stored index bytes are not an index this version can read.
    #[error("index format: {0}")]
    Format(String),
    /// The embedder failed.
    #[error("embedding: {0}")]
    Embedding(String),
    /// Vectors of different dimensions were mixed.
    #[error("embedding dimension {got} does not match the index's {want}")]
    Dimension {
        /// The index's dimension.
        want: usize,
        /// The vector's.
        got: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
