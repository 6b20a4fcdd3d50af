//! The rate limits of a chat turn: per visitor, per client IP, per tenant,
//! and new conversations per IP, checked together with kefu-core's
//! [`check_all`] over windows kept in the store.
//!
//! Each window is read, checked and written back: two instances doing that
//! at once for the same key may both count from the same old value, so on a
//! store shared across locations (Workers KV, which is also eventually
//! consistent for up to a minute) the limits are approximate: a burst spread
//! over many locations can pass more than the limit. Where a count must be
//! exact, a shim backs [`KvBucket::Limits`](crate::platform::KvBucket) with
//! something serialising (a Durable Object, one Spin store on one host).

use std::net::IpAddr;

use kefu_core::ratelimit::{LimitKind, MultiDecision, check_all};
use kefu_core::wire::TenantConfig;
use kefu_core::{Limit, SlidingWindow, VisitorId};

use crate::Error;
use crate::edge::Edge;
use crate::platform::Platform;
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
    let mut windows: Vec<(LimitKind, SlidingWindow, Limit)> = Vec::with_capacity(keys.len());
    for (kind, key) in &keys {
        windows.push((*kind, store::window(p, key).await?, policy.limit(*kind)));
    }
    let now = p.now_ms();
    let mut refs: Vec<(LimitKind, &mut SlidingWindow, Limit)> =
        windows.iter_mut().map(|(k, w, l)| (*k, w, *l)).collect();
    match check_all(&mut refs, now) {
        MultiDecision::Deny {
            kind,
            retry_after_ms,
        } => Err(Error::RateLimited {
            kind,
            retry_after_ms,
        }),
        MultiDecision::Allow { .. } => {
            for ((_, key), (_, w, limit)) in keys.iter().zip(&windows) {
                // Two windows' worth: after that the state counts nothing.
                let ttl = limit.window_ms().saturating_mul(2);
                store::put_window(p, key, w, ttl).await?;
            }
            Ok(())
        }
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
