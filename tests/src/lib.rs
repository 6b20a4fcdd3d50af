//! Shared helpers for kefu's cross-crate tests. The tests themselves live in
//! `tests/tests/`.
//!
//! - [`live`]: a real `kefu-regional serve`, HTTP by hand, child processes.
//! - [`edge_suite`]: the one end-to-end set every edge runtime must pass
//!   (in-process, the Spin component under `wasmtime serve`, the Worker
//!   under `wrangler dev`).

pub mod edge_suite;
pub mod live;
