//! Several keyed limits checked together, all-or-nothing.

use serde::{Deserialize, Serialize};

use super::window::{Decision, Limit, SlidingWindow};

/// Which key a limit is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Messages from one visitor (widget identity).
    Visitor,
    /// Messages from one client IP address.
    Ip,
    /// Messages to one tenant, from everyone.
    Tenant,
    /// New conversations opened from one client IP address.
    NewConversationPerIp,
}

impl LimitKind {
    /// Every kind, in declaration order.
    pub const ALL: [LimitKind; 4] = [
        LimitKind::Visitor,
        LimitKind::Ip,
        LimitKind::Tenant,
        LimitKind::NewConversationPerIp,
    ];

    /// A stable lower-case name for metrics, headers and KV key prefixes.
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::Visitor => "visitor",
            LimitKind::Ip => "ip",
            LimitKind::Tenant => "tenant",
            LimitKind::NewConversationPerIp => "new_conversation_per_ip",
        }
    }
}

/// What [`check_all`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiDecision {
    /// Admitted by every limit, and counted in each.
    Allow {
        /// The smallest `remaining` over the limits (`u32::MAX` if none).
        remaining: u32,
        /// The limit with that smallest `remaining` (`None` if none were given).
        tightest: Option<LimitKind>,
    },
    /// Refused by at least one limit; nothing was counted anywhere.
    Deny {
        /// The refusing limit with the longest wait.
        kind: LimitKind,
        /// The exact wait after which every limit would admit, if nothing
        /// else is admitted meanwhile.
        retry_after_ms: u64,
    },
}

impl MultiDecision {
    /// True for [`MultiDecision::Allow`].
    pub const fn is_allowed(&self) -> bool {
        matches!(self, MultiDecision::Allow { .. })
    }
}

/// Checks one request against every `(kind, state, limit)` at `now_ms`.
///
/// All-or-nothing: if any limit refuses, no state changes at all, so a
/// request refused for its IP does not use up its visitor's allowance. The
/// refusal names the limit with the longest `retry_after_ms`; ties go to the
/// earlier entry. Since no estimate rises while nothing is admitted, that
/// longest wait is exactly when all of them admit again.
pub fn check_all(
    limits: &mut [(LimitKind, &mut SlidingWindow, Limit)],
    now_ms: u64,
) -> MultiDecision {
    let mut worst: Option<(LimitKind, u64)> = None;
    for (kind, window, limit) in limits.iter() {
        if let Decision::Deny { retry_after_ms } = window.peek(now_ms, *limit)
            && worst.is_none_or(|(_, longest)| retry_after_ms > longest)
        {
            worst = Some((*kind, retry_after_ms));
        }
    }
    if let Some((kind, retry_after_ms)) = worst {
        return MultiDecision::Deny {
            kind,
            retry_after_ms,
        };
    }
    let mut remaining = u32::MAX;
    let mut tightest = None;
    for (kind, window, limit) in limits.iter_mut() {
        // Same state and instant as the `peek` above, so this admits.
        if let Decision::Allow { remaining: r } = window.check(now_ms, *limit)
            && (tightest.is_none() || r < remaining)
        {
            remaining = r;
            tightest = Some(*kind);
        }
    }
    MultiDecision::Allow {
        remaining,
        tightest,
    }
}
