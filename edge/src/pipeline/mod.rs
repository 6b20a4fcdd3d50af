//! The edge's logic as plain functions over [`crate::Edge`]; the handlers
//! only parse, call one of these and render.
//!
//! - [`tenant`]: widget key -> [`kefu_core::wire::TenantConfig`].
//! - [`visitor`]: the signed-visitor check.
//! - [`limits`]: the four rate limits.
//! - [`session`]: session lookup (store, then regional).
//! - [`answers`]: the edge answer cache.
//! - [`regional`]: signed calls, deadline, breaker, brownout.
//! - [`outbox`]: store-and-forward of turns answered at the edge.
//! - [`turn`]: one chat turn, end to end.
//! - [`poll`]: catching up on messages after `since`.

pub mod answers;
pub mod limits;
pub mod outbox;
pub mod poll;
pub mod regional;
pub mod session;
pub mod tenant;
pub mod turn;
pub mod visitor;
