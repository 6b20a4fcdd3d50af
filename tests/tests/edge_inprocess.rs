//! The in-process edge: `kefu-regional serve` answering the public widget
//! API itself (kefu-edge's handlers on `MemoryPlatform`), through the same
//! end-to-end set as the wasm runtimes ([`kefu_tests::edge_suite`]).
//!
//! The outage scenario has no in-process form: the edge and the regional
//! service are one process, so the edge cannot outlive it. The edge's
//! store-and-forward against an unreachable upstream is covered by
//! kefu-edge's own tests and by the wasm runtimes here.

use kefu_tests::edge_suite::{self, EdgeRuntime, RunningEdge};
use kefu_tests::live::Regional;

struct InProcess;

impl EdgeRuntime for InProcess {
    fn regional_with(&self, env: &[(&str, &str)]) -> Regional {
        Regional::start_with(true, env)
    }

    fn start(&self, regional: &Regional) -> RunningEdge {
        RunningEdge {
            port: regional
                .public_port
                .expect("started with a public listener"),
            proc: None,
            state: None,
        }
    }
}

#[test]
fn health() {
    edge_suite::health(&InProcess);
}

#[test]
fn chat_turn() {
    edge_suite::chat_turn(&InProcess);
}

#[test]
fn cache_hit() {
    edge_suite::cache_hit(&InProcess);
}

#[test]
fn cache_hit_outlives_a_crash() {
    edge_suite::cache_hit_outlives_a_crash(&InProcess);
}

#[test]
fn limit() {
    edge_suite::limit(&InProcess);
}

#[test]
fn limit_under_concurrency() {
    edge_suite::limit_under_concurrency(&InProcess);
}

#[test]
fn streamed_turn() {
    edge_suite::streamed_turn(&InProcess);
}

#[test]
fn replay() {
    edge_suite::replay(&InProcess);
}

#[test]
fn bad_signature() {
    edge_suite::bad_signature(&InProcess);
}
