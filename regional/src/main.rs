//! The `kefu-regional` binary. Until the regional-service issue lands it says
//! so and exits non-zero, rather than pretending to serve.
fn main() {
    eprintln!("kefu-regional: the service is not built yet (see the regional-service issue)");
    std::process::exit(2);
}
