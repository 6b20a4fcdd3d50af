//! The one error type of kefu-core.

use alloc::string::String;

/// Everything that can go wrong in kefu-core. Each variant says what a caller
/// can branch on; none carries key material or conversation plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that are not a well-formed frame or record of the expected shape.
    #[error("malformed message: {0}")]
    Decode(String),
    /// Input exceeds a stated bound (length, nesting depth, element count).
    #[error("input exceeds limit: {0}")]
    TooLarge(&'static str),
    /// A format version this build does not understand.
    #[error("unsupported format version {found} (this build reads up to {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    /// Encoding failed (only on values that break an invariant, e.g. too long).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// A sealed record failed authentication: wrong key, moved, or tampered with.
    #[error("record failed authentication")]
    Unseal,
    /// Key material of the wrong length or format.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A request signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// A signed request outside the accepted timestamp window.
    #[error("timestamp outside the accepted window")]
    Stale,
    /// A signed request seen before.
    #[error("replayed request")]
    Replay,
    /// A value outside its domain (an empty tenant id, a zero limit, ...).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// `Result` with kefu-core's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
