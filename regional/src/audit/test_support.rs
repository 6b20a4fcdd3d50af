//! Shared helpers of the audit tests: a deterministic PRNG and sample entries.

use super::{AuditEntry, Outcome};

/// SplitMix64 (Steele, Lea, Flood 2014): a deterministic PRNG for test data.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` for tests (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACTIONS: [&str; 6] = [
    "tenant.create",
    "key.rotate",
    "kb.publish",
    "conversation.read",
    "handoff",
    "auth.fail",
];

/// A plausible entry for `tenant`, varied by `rng`.
pub(super) fn sample_entry(rng: &mut Rng, tenant: &str) -> AuditEntry {
    let r = rng.next();
    AuditEntry {
        actor: format!("agent:{}", r % 50),
        tenant: tenant.to_owned(),
        action: ACTIONS[(r >> 8) as usize % ACTIONS.len()].to_owned(),
        object: format!("conversation:{:016x}", r >> 3),
        at_ms: 1_700_000_000_000 + (r >> 40),
        source: format!("10.0.{}.{}", (r >> 16) % 256, (r >> 24) % 256),
        outcome: [Outcome::Ok, Outcome::Denied, Outcome::Failed][(r >> 32) as usize % 3],
    }
}
