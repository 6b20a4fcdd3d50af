//! The sealing primitives the regional service uses, in one place: kefu-core's
//! SM4-GCM record sealing (RFC 8998), key wrapping, SM3 and HMAC-SM3.
//!
//! Everything the service writes that holds conversation content goes
//! through [`seal`] under a tenant data key; data keys are stored only as
//! [`wrap_key`] output under the master key.

pub use kefu_core::seal::{
    Key, RecordAad, hmac_sm3, open, seal, sealed_key_version, sm3, unwrap_key, wrap_key,
};
