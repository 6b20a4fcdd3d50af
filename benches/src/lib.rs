//! Cross-crate benchmarks and the load kit (they land with the service issues).
