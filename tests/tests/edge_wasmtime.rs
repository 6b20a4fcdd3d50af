//! The Spin component (kefu-edge-spin, `wasmtime-serve` build) under a real
//! `wasmtime serve` 48, in front of a real `kefu-regional serve`: the edge
//! end-to-end set ([`kefu_tests::edge_suite`]).
//!
//! The component is built with cargo (a no-op when fresh). wasmtime comes
//! from `scripts/setup.sh` (`.kefu/bin/wasmtime`) or `KEFU_WASMTIME`; its
//! absence is a failure, not a skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use kefu_tests::edge_suite::{self, EdgeRuntime, RunningEdge};
use kefu_tests::live::{EDGE_KEY, Proc, Regional, cargo, free_port, root, wait_ready};
use tempfile::TempDir;

/// The component, built with `--features wasmtime-serve` and copied aside
/// (the Spin build shares its cargo output path).
fn component() -> &'static Path {
    static WASM: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    &WASM
        .get_or_init(|| {
            cargo(&[
                "build",
                "-p",
                "kefu-edge-spin",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "wasm-release",
                "--features",
                "wasmtime-serve",
            ]);
            let built = root().join("target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm");
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("kefu-edge-wasmtime.wasm");
            std::fs::copy(&built, &copy).expect("copy the component");
            (dir, copy)
        })
        .1
}

fn wasmtime_bin() -> PathBuf {
    let p = std::env::var_os("KEFU_WASMTIME")
        .map_or_else(|| root().join(".kefu/bin/wasmtime"), PathBuf::from);
    let v = Command::new(&p).arg("--version").output();
    let v = v.unwrap_or_else(|e| panic!("{} ({e}): run scripts/setup.sh", p.display()));
    let v = String::from_utf8_lossy(&v.stdout).into_owned();
    assert!(v.starts_with("wasmtime 48."), "need wasmtime 48.x, got {v}");
    p
}

struct WasmtimeServe;

impl EdgeRuntime for WasmtimeServe {
    fn durable_store(&self) -> bool {
        false
    }

    fn start(&self, regional: &Regional) -> RunningEdge {
        let port = free_port();
        let url = format!(
            "SPIN_VARIABLE_REGIONAL_URL=http://127.0.0.1:{}",
            regional.port
        );
        let secret = format!("SPIN_VARIABLE_REGIONAL_SECRET={EDGE_KEY}");
        let mut child = Command::new(wasmtime_bin())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "-S", "cli"])
            .args(["--env", &url, "--env", &secret])
            .arg(component())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wasmtime serve");
        wait_ready(port, "/healthz", "wasmtime serve", &mut child);
        RunningEdge {
            port,
            proc: Some(Proc::new(child)),
            state: None,
        }
    }
}

#[test]
fn health() {
    edge_suite::health(&WasmtimeServe);
}

#[test]
fn chat_turn() {
    edge_suite::chat_turn(&WasmtimeServe);
}

#[test]
fn cache_hit() {
    edge_suite::cache_hit(&WasmtimeServe);
}

#[test]
fn cache_hit_outlives_a_crash() {
    edge_suite::cache_hit_outlives_a_crash(&WasmtimeServe);
}

#[test]
fn limit() {
    edge_suite::limit(&WasmtimeServe);
}

#[test]
fn streamed_turn() {
    edge_suite::streamed_turn(&WasmtimeServe);
}

#[test]
fn replay() {
    edge_suite::replay(&WasmtimeServe);
}

#[test]
fn bad_signature() {
    edge_suite::bad_signature(&WasmtimeServe);
}

#[test]
fn outage() {
    edge_suite::outage(&WasmtimeServe);
}
