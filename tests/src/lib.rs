//! Shared helpers for kefu's cross-crate tests. The tests themselves live in
//! `tests/tests/`, one binary split into area modules.
