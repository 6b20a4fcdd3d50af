//! Integration tests for kefu-regional: the router in-process against a real
//! redb in a temp dir. One binary, split by area.

mod append;
mod audit;
mod backup;
mod bad_input;
mod canary;
mod cli;
mod common;
mod console;
mod crash;
mod cross_tenant;
mod edge;
mod edge_batch;
mod edge_session;
mod erase;
mod handoff;
mod hybrid;
mod inproc;
mod kb;
mod llm;
mod reload;
mod restart;
mod retention;
mod serve;
mod similar;
mod stream;
mod tenants;
