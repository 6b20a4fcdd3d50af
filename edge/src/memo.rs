//! [`Memo`]: what one instance remembers between its requests, in its own
//! memory, so that a hot path does not decode the same record again.
//!
//! Nothing here is the truth: every entry mirrors a record in the store
//! ([`crate::store`]) and expires no later than that record's freshness, so
//! an instance that starts empty (a Spin instance serves one request)
//! behaves exactly as before, only slower.

use std::collections::HashMap;

use kefu_core::KbVersion;
use kefu_core::wire::TenantConfig;

/// Widget keys remembered at most; past that the memo starts over.
const MAX_TENANTS: usize = 1024;

/// A tenant config as decoded from the store or the regional service.
#[derive(Clone, Debug)]
struct Tenant {
    fetched_ms: u64,
    /// Fresh until then (the same rule as the store's copy).
    fresh_until_ms: u64,
    /// `None`: no tenant has the key.
    config: Option<TenantConfig>,
}

/// The instance's memory; behind the [`crate::Edge`]'s lock, never held
/// across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    tenants: HashMap<String, Tenant>,
    /// Turns this instance put in the outbox since it last delivered.
    pub(crate) outbox_added: usize,
    /// A request of this instance is delivering the outbox now: another
    /// one would list, and send again, the same turns.
    pub(crate) outbox_draining: bool,
}

impl Memo {
    /// The fresh config for `widget_key` (`Some(None)`: fresh "unknown").
    pub(crate) fn tenant(&self, widget_key: &str, now_ms: u64) -> Option<Option<TenantConfig>> {
        let t = self.tenants.get(widget_key)?;
        (now_ms >= t.fetched_ms && now_ms < t.fresh_until_ms).then(|| t.config.clone())
    }

    /// Remembers `config` for `widget_key`, fetched at `fetched_ms` and
    /// fresh for `ttl_ms`.
    pub(crate) fn put_tenant(
        &mut self,
        widget_key: &str,
        fetched_ms: u64,
        ttl_ms: u64,
        config: Option<TenantConfig>,
    ) {
        if self.tenants.len() >= MAX_TENANTS && !self.tenants.contains_key(widget_key) {
            self.tenants.clear();
        }
        self.tenants.insert(
            widget_key.to_owned(),
            Tenant {
                fetched_ms,
                fresh_until_ms: fetched_ms.saturating_add(ttl_ms),
                config,
            },
        );
    }

    /// Raises the remembered knowledge-base version of `widget_key`.
    pub(crate) fn note_kb_version(&mut self, widget_key: &str, kb: KbVersion) {
        if let Some(c) = self
            .tenants
            .get_mut(widget_key)
            .and_then(|t| t.config.as_mut())
            && c.kb_version < kb
        {
            c.kb_version = kb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_is_remembered_only_while_fresh() {
        let mut m = Memo::default();
        assert!(m.tenant("wk", 10).is_none());
        m.put_tenant("wk", 100, 50, None);
        assert_eq!(m.tenant("wk", 99), None, "before it was fetched");
        assert_eq!(m.tenant("wk", 100), Some(None));
        assert_eq!(m.tenant("wk", 149), Some(None));
        assert_eq!(m.tenant("wk", 150), None, "stale");
    }
}
