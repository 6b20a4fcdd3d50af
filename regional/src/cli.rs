//! (cli: next)
