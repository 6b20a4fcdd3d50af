//! A fresh instance of the Spin component per request, as Spin runs it:
//! what one instantiation costs with the pooling allocator and with
//! wasmtime's default on-demand allocator (store, WASI context and instance
//! made and dropped; the compiled component is shared).
//!
//! `cargo bench -p kefu-edge-host --bench instantiate`

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use kefu_edge_host::{Allocation, SpinHost};

/// The Spin build, built with cargo (a no-op when fresh).
fn component() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "-p", "kefu-edge-spin", "--target", "wasm32-wasip2"])
        .args(["--profile", "wasm-release"])
        .current_dir(&root)
        .status()
        .expect("run cargo");
    assert!(st.success(), "building the component failed");
    root.join("target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm")
}

fn instantiate(c: &mut Criterion) {
    let wasm = component();
    let mut g = c.benchmark_group("instantiate");
    for (name, allocation) in [
        ("pooling", Allocation::Pooling),
        ("on_demand", Allocation::OnDemand),
    ] {
        let host = SpinHost::builder(&wasm)
            .allocation(allocation)
            .build()
            .expect("compile the component");
        host.instantiate_once().expect("instantiate");
        g.bench_function(name, |b| {
            b.iter(|| host.instantiate_once().expect("instantiate"));
        });
    }
    g.finish();
}

criterion_group!(benches, instantiate);
criterion_main!(benches);
