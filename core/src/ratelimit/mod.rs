//! Rate limiting with the interpolated two-window counter.
//!
//! [`SlidingWindow`] implements the scheme Cloudflare describes in
//! ["How we built rate limiting capable of scaling to millions of domains"][cf]
//! (Julien Desgats, 2017): keep the request count of the current fixed window
//! and of the one before it, and estimate the rate over the last `window_ms`
//! as
//!
//! ```text
//! rate = prev_count × (window − elapsed_in_current) / window + curr_count
//! ```
//!
//! assuming the previous window's requests were spread evenly across it. The
//! state is three integers (16 bytes, a few bytes of MessagePack), so the edge
//! can keep one per key in a KV store; the test suite measures the admitted
//! count against an exact sliding log on a long bursty trace.
//!
//! Everything here is pure: callers pass `now_ms` and persist the state.
//!
//! - [`Limit`]: "at most `max` requests per `window_ms`", validated non-zero.
//! - [`SlidingWindow::check`] / [`SlidingWindow::peek`] → [`Decision`], whose
//!   `retry_after_ms` is the exact earliest time a request would be admitted.
//! - [`check_all`]: several keyed limits ([`LimitKind`]) at once,
//!   all-or-nothing, reporting the tightest one ([`MultiDecision`]).
//! - [`LimitPolicy`]: the default per-visitor / per-IP / per-tenant /
//!   new-conversations-per-IP limits, with per-tenant [`LimitOverrides`].
//!
//! [cf]: https://blog.cloudflare.com/counting-things-a-lot-of-different-things/

mod multi;
mod policy;
mod window;

#[cfg(test)]
mod accuracy_tests;
#[cfg(test)]
mod tests;

pub use multi::{LimitKind, MultiDecision, check_all};
pub use policy::{LimitOverrides, LimitPolicy};
pub use window::{Decision, Limit, SlidingWindow};
