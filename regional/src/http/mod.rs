//! (http: next)
