//! Service metrics in the Prometheus text exposition format (version 0.0.4),
//! hand-written over atomics: a handful of counters and two histograms need
//! no metrics framework.
//!
//! Labels never carry tenant ids or any request content.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Commit-latency bucket bounds, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];
/// Batch-size bucket bounds.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Debug)]
struct Histogram<const N: usize> {
    bounds: [f64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in micro-units (µs or items), to stay integral.
    sum_micro: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micro: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if v <= *b {
                c.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        // Saturating float-to-int cast: `as` clamps, never panics.
        self.sum_micro.fetch_add((v * 1e6) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", c.load(Relaxed));
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micro.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    commit_seconds: Histogram<12>,
    commit_batch: Histogram<9>,
    commits_failed: AtomicU64,
    responses: [AtomicU64; 5],
    auth_failures: AtomicU64,
    rate_limited: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            commit_seconds: Histogram::new(LATENCY_BUCKETS),
            commit_batch: Histogram::new(BATCH_BUCKETS),
            commits_failed: AtomicU64::new(0),
            responses: std::array::from_fn(|_| AtomicU64::new(0)),
            auth_failures: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// One group commit: its size, how long it took, whether it committed.
    pub fn record_commit(&self, size: usize, took: Duration, ok: bool) {
        if ok {
            self.commit_seconds.observe(took.as_secs_f64());
            self.commit_batch.observe(size as f64);
        } else {
            self.commits_failed.fetch_add(1, Relaxed);
        }
    }

    /// One HTTP response, by status class.
    pub fn record_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Relaxed);
    }

    /// One failed authentication.
    pub fn record_auth_failure(&self) {
        self.auth_failures.fetch_add(1, Relaxed);
    }

    /// One request refused with 429.
    pub fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Relaxed);
    }

    /// Renders the exposition text; `conversations` is a gauge read at scrape time.
    pub fn render(&self, conversations: Option<u64>) -> String {
        let mut out = String::with_capacity(4096);
        self.commit_seconds.render(
            &mut out,
            "kefu_commit_duration_seconds",
            "Duration of durable group commits.",
        );
        self.commit_batch.render(
            &mut out,
            "kefu_commit_batch_size",
            "Changes folded into one commit.",
        );
        let _ = writeln!(
            out,
            "# HELP kefu_commits_failed_total Group commits rolled back.\n# TYPE kefu_commits_failed_total counter\nkefu_commits_failed_total {}",
            self.commits_failed.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kefu_http_responses_total HTTP responses by status class.\n# TYPE kefu_http_responses_total counter"
        );
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "kefu_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP kefu_auth_failures_total Failed authentications.\n# TYPE kefu_auth_failures_total counter\nkefu_auth_failures_total {}",
            self.auth_failures.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kefu_rate_limited_total Requests refused with 429.\n# TYPE kefu_rate_limited_total counter\nkefu_rate_limited_total {}",
            self.rate_limited.load(Relaxed)
        );
        if let Some(n) = conversations {
            let _ = writeln!(
                out,
                "# HELP kefu_conversations Stored conversations.\n# TYPE kefu_conversations gauge\nkefu_conversations {n}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record_commit(3, Duration::from_millis(3), true);
        m.record_commit(1, Duration::from_micros(200), true);
        let text = m.render(Some(7));
        assert!(
            text.contains("kefu_commit_duration_seconds_bucket{le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kefu_commit_duration_seconds_bucket{le=\"0.005\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kefu_commit_batch_size_bucket{le=\"4\"} 2"),
            "{text}"
        );
        assert!(text.contains("kefu_commit_batch_size_sum 4"), "{text}");
        assert!(text.contains("kefu_conversations 7"));
    }
}
