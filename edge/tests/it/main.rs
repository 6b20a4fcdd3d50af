//! kefu-edge integration tests: one binary split into area modules, all over
//! the in-memory platform and the fake regional service in `support`.

mod support;

mod bad_input;
mod cache;
mod chat;
mod cors;
mod health;
mod limits;
mod messages;
mod native;
mod outage;
mod visitor;
