//! kefu-regional: the native service. It lands with the regional-service issue;
//! today this crate only links kefu-core with `std` so the workspace builds.

pub mod audit;
