//! kefu-regional: the native service where conversations are kept for good.
//!
//! - [`config`]: the TOML + environment configuration, validated once.
//! - [`cli`]: the `kefu-regional` command line (`serve`, `tenant`, `audit`, `keys`).
//! - [`store`]: redb storage; every piece of conversation content sealed with
//!   the tenant's SM4 data key; tenant-scoped handles ([`store::TenantStore`]).
//! - [`store::writer`]: the group-commit writer every change goes through.
//! - [`http`]: the axum router, its one error type and the OpenAPI document.
//! - [`audit`]: the SM3 hash-chained, per-tenant audit log and its checkpoints.
//! - [`server`]: wiring, background tasks and graceful shutdown.
//! - [`logging`]: every log line passes a PII mask before it is written.

pub mod answer;
pub mod audit;
pub mod cli;
pub mod config;
pub mod console;
pub mod crypto;
pub mod edge;
pub mod error;
pub mod http;
pub mod json_int;
pub mod kb;
pub mod logging;
pub mod metrics;
pub mod public;
pub mod rng;
pub mod routing;
pub mod server;
pub mod store;

pub use config::Config;
pub use error::{Error, Result};
