//! The versioned edge <-> regional protocol: frames and request signatures.
//!
//! # Frames
//!
//! Eight frame types, each a MessagePack map keyed by field name with the
//! format version `"v"` first (the same encoding as [`crate::session`]; see
//! [`crate::codec`]):
//!
//! | frame | direction | carried on |
//! |---|---|---|
//! | [`TurnRequest`] | edge -> regional | `POST` [`paths::TURN`] |
//! | [`TurnResponse`] | regional -> edge | its response |
//! | [`Health`] | regional -> edge | `GET` [`paths::HEALTH`] |
//! | [`EdgeReport`] | edge -> regional | `POST` [`paths::REPORT`] |
//! | [`TenantConfigRequest`] | edge -> regional | `POST` [`paths::TENANT_CONFIG`] |
//! | [`TenantConfig`] | regional -> edge | its response (404: unknown widget key) |
//! | [`SessionRequest`] | edge -> regional | `POST` [`paths::SESSION`] |
//! | [`SessionResponse`] | regional -> edge | its response |
//!
//! They are separate types sharing a header (`v`) and the [`Frame`] trait,
//! not one tagged `enum`: every frame travels on its own path, so the path
//! already says which frame a body holds, and the path is part of the signed
//! string ([`sign`]), so a body signed for one path cannot be replayed as
//! another frame. Separate types also keep the encoding a flat map that any
//! MessagePack library reads without knowing about tags.
//!
//! Versioning follows the session rules: [`Frame::decode`] reads `v` first;
//! `v` newer than [`WIRE_VERSION`] (or 0) is [`Error::UnsupportedVersion`];
//! added fields carry `#[serde(default)]` and unknown fields are ignored; a
//! removed or retyped field, or a new enum variant, bumps [`WIRE_VERSION`].
//! Every frame type has a golden-bytes test.
//!
//! A turn's answer can also come streamed, as records ([`Record`], media
//! type [`TURN_STREAM_CONTENT_TYPE`]): model text as it is written, then the
//! `TurnResponse` frame.
//!
//! # Signatures
//!
//! Requests are signed with HMAC-SM3 ([RFC 2104] over [GB/T 32905-2016]
//! SM3) in a header; see [`sign`] for the canonical string and [`verify`] for
//! the checks, and [`ReplayGuard`] for the bounded nonce memory.
//!
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104
//! [GB/T 32905-2016]: https://datatracker.ietf.org/doc/html/draft-sca-cfrg-sm3-02

mod frames;
mod replay;
mod sign;
mod stream;
mod sync;
mod tenant;

pub use frames::{
    Cacheability, EdgeReport, HandoffState, Health, MAX_BROWNOUT, MAX_REPORT_TURNS,
    MAX_VISITOR_TEXT_BYTES, ReportedTurn, TurnRequest, TurnResponse,
};
pub use replay::{DEFAULT_REPLAY_CAPACITY, ReplayGuard};
pub use sign::{
    DEFAULT_WINDOW_MS, MIN_KEY_LEN, SIGNATURE_HEADER, Signature, body_digest, sign, verify,
};
pub use stream::{MAX_RECORD_BYTES, Record, RecordReader, TURN_STREAM_CONTENT_TYPE};
pub use sync::{MAX_SESSION_WAIT_MS, SessionRequest, SessionResponse};
pub use tenant::{
    ERASED_LISTED_MS, MAX_ERASED_LISTED, MAX_ORIGIN_BYTES, MAX_ORIGINS, MAX_VISITOR_KEY_BYTES,
    MAX_WIDGET_KEY_BYTES, MIN_VISITOR_KEY_BYTES, TenantConfig, TenantConfigRequest, VisitorSigAlg,
    check_widget_key,
};

use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, DecodeLimits};
use crate::{Error, Result};

/// The frame format version this build writes and the newest it reads.
pub const WIRE_VERSION: u8 = 1;

/// The request paths, which are also the path tags in signatures.
pub mod paths {
    /// Ask for an answer: a [`super::TurnRequest`] body.
    pub const TURN: &str = "/v1/turn";
    /// Report turns the edge served: an [`super::EdgeReport`] body.
    pub const REPORT: &str = "/v1/report";
    /// Regional readiness and brownout: answered with [`super::Health`].
    pub const HEALTH: &str = "/v1/health";
    /// Resolve a widget key: a [`super::TenantConfigRequest`] body, answered
    /// with a [`super::TenantConfig`] (or 404).
    pub const TENANT_CONFIG: &str = "/v1/tenant-config";
    /// Fetch (and optionally wait on) a session: a
    /// [`super::SessionRequest`] body, answered with a
    /// [`super::SessionResponse`].
    pub const SESSION: &str = "/v1/session";
}

/// What all frames share: a version header `v`, decode bounds and
/// invariants checked on both encode and decode.
pub trait Frame: Serialize + DeserializeOwned {
    /// The bounds this frame is decoded under; [`Frame::encode`] refuses to
    /// produce anything the peer would refuse.
    const LIMITS: DecodeLimits;

    /// The frame's `v` field.
    fn version(&self) -> u8;

    /// The frame's own invariants (lengths, ranges), beyond its types.
    fn check(&self) -> Result<()>;

    /// The frame's bytes. Fails if `v` is not [`WIRE_VERSION`], an invariant
    /// is broken, or the result would exceed `LIMITS.max_bytes`.
    fn encode(&self) -> Result<Vec<u8>> {
        if self.version() != WIRE_VERSION {
            return Err(Error::Invalid("frames are written at WIRE_VERSION"));
        }
        self.check()?;
        let bytes = codec::encode(self)?;
        if bytes.len() > Self::LIMITS.max_bytes {
            return Err(Error::TooLarge("frame longer than its max_bytes"));
        }
        Ok(bytes)
    }

    /// Reads a frame: bounded pre-scan, version dispatch, then invariants.
    fn decode(bytes: &[u8]) -> Result<Self> {
        codec::scan(bytes, &Self::LIMITS)?;
        match codec::read_version_field(bytes, "v")? {
            WIRE_VERSION => {
                let f: Self = codec::decode_scanned(bytes)?;
                f.check()?;
                Ok(f)
            }
            found => Err(Error::UnsupportedVersion {
                found,
                supported: WIRE_VERSION,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
