//! kefu-core: the pure heart of kefu, shared by the wasm edge and the native
//! regional service.
//!
//! Everything here is `#![no_std]` + `alloc` and deterministic: no I/O, no
//! clock (callers pass `now_ms: u64`), no randomness source (nonces and ids
//! come in as arguments or through [`ids::NonceSource`]). CI proves the
//! `no_std` claim by building this crate for `wasm32v1-none`, a target that
//! has no `std` at all.
//!
//! - [`session`]: [`Session`], [`Turn`] and their versioned MessagePack codec.
//! - [`codec`]: the bounded MessagePack reader every decoder goes through.
//! - [`ratelimit`]: the interpolated two-window [`SlidingWindow`] and keyed limit sets.
//! - [`overload`]: the [`CircuitBreaker`] state machine and brownout levels.
//! - [`cache`]: question normalisation, the tenant/KB-version scoped [`CacheKey`], the TTL'd LRU.
//! - [`seal`]: SM4-GCM record sealing (RFC 8998) and SM3 hashing.
//! - [`wire`]: the versioned edge <-> regional frames and their request signature.
//! - [`routing`]: explicit-human detection, emotion/urgency scoring, handoff decisions.
//! - [`pii`]: finding and masking resident ID numbers, bank cards, mobiles, e-mail.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod cache;
pub mod codec;
pub mod error;
pub mod ids;
pub mod overload;
pub mod pii;
pub mod ratelimit;
pub mod routing;
pub mod seal;
pub mod session;
pub mod types;
pub mod wire;

pub use cache::{AnswerCache, CacheKey};
pub use error::{Error, Result};
pub use overload::{BrownoutLevel, CircuitBreaker};
pub use ratelimit::{Limit, SlidingWindow};
pub use session::{Citation, ConversationState, Role, Session, Source, Turn};
pub use types::{ConversationId, KbVersion, Locale, TenantId, VisitorId};
