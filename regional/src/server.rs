//! (server: next)
