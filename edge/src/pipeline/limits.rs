//! The rate limits of a chat turn: per visitor, per client IP, per tenant,
//! and new conversations per IP, checked together with kefu-core's
//! [`check_all`] over windows kept in the store.
//!
//! Where the platform can check and count in one serialised step
//! ([`Platform::check_limits`]: a Durable Object on Workers, one lock
//! in-process) the limits are exact under any concurrency. Elsewhere each
//! window is read, checked and written back: two instances doing that at
//! once for the same key may both count from the same old value, so on a
//! store with no compare-and-swap (Spin key-value, plain Workers KV, which
//! is also eventually consistent for up to a minute) a burst can pass a few
//! more than the limit, never fewer.

use std::net::IpAddr;

use kefu_core::VisitorId;
use kefu_core::ratelimit::LimitKind;
use kefu_core::wire::TenantConfig;

use crate::Error;
use crate::edge::Edge;
use crate::platform::{LimitCheck, LimitSpec, LimitVerdict, Platform};
use crate::store;

/// The subject an IP is counted under: the address for IPv4, its /64
/// network for IPv6 (one host usually holds a whole /64).
pub fn ip_subject(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_string()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(v4.to_string()),
            None => {
                let s = v6.segments();
                Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
        },
    }
}

/// Counts one chat turn against every limit that applies, or refuses it
/// with [`Error::RateLimited`] (nothing counted then). Without a known
/// client IP the per-IP limits are skipped.
pub async fn check<P: Platform>(
    edge: &Edge<P>,
    tenant: &TenantConfig,
    visitor: &VisitorId,
    client_ip: Option<&str>,
    new_conversation: bool,
) -> Result<(), Error> {
    let p = &edge.platform;
    let policy = edge.config.limits.with_overrides(&tenant.limits);
    let t = tenant.tenant.as_str();
    let ip = client_ip.and_then(ip_subject);
    let mut keys: Vec<(LimitKind, String)> = vec![
        (LimitKind::Visitor, format!("visitor:{t}:{visitor}")),
        (LimitKind::Tenant, format!("tenant:{t}")),
    ];
    if let Some(ip) = &ip {
        keys.push((LimitKind::Ip, format!("ip:{ip}")));
        if new_conversation {
            keys.push((LimitKind::NewConversationPerIp, format!("newconv:{ip}")));
        }
    }
    let check = LimitCheck {
        now_ms: p.now_ms(),
        limits: keys
            .into_iter()
            .map(|(kind, key)| LimitSpec {
                kind,
                key,
                limit: policy.limit(kind),
            })
            .collect(),
    };
    let verdict = match p.check_limits(t, &check).await {
        Some(v) => v?,
        None => {
            let mut windows = Vec::with_capacity(check.limits.len());
            for s in &check.limits {
                windows.push(store::window(p, &s.key).await?);
            }
            let verdict = check.decide(&mut windows);
            if verdict == LimitVerdict::Allow {
                for (s, w) in check.limits.iter().zip(&windows) {
                    store::put_window(p, &s.key, w, s.ttl_ms()).await?;
                }
            }
            verdict
        }
    };
    match verdict {
        LimitVerdict::Allow => Ok(()),
        LimitVerdict::Deny {
            kind,
            retry_after_ms,
        } => Err(Error::RateLimited {
            kind,
            retry_after_ms,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_share_their_64() {
        assert_eq!(ip_subject("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(
            ip_subject("2001:db8:1:2:aaaa::1"),
            ip_subject("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(ip_subject("2001:db8:1:2::1"), ip_subject("2001:db8:1:3::1"));
        assert_eq!(
            ip_subject("::ffff:203.0.113.9").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(ip_subject("not an ip"), None);
    }
}
