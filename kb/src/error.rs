//! The crate's one error type.

/// What can go wrong building, loading or searching a knowledge base, or
/// loading and running an embedding model.
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
    /// A model file is missing, truncated or not what it claims to be.
    #[error("model {path}: {message}")]
    Model {
        /// The file or directory.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    pub(crate) fn model(path: &std::path::Path, message: impl std::fmt::Display) -> Error {
        Error::Model {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(feature = "candle")]
impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Error {
        Error::Embedding(e.to_string())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
