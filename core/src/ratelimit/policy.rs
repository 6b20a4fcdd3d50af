//! The default limits and per-tenant overrides.

use serde::{Deserialize, Serialize};

use super::multi::LimitKind;
use super::window::Limit;

/// The limits a deployment applies to every request.
///
/// The defaults, all per minute:
///
/// | kind | max | why |
/// |---|---|---|
/// | per visitor | 20 | a person types perhaps a message every few seconds; 20 leaves room for quick follow-ups |
/// | per IP | 60 | several visitors behind one NAT or office proxy |
/// | per tenant | 6000 | 100 messages a second across a tenant, protecting the shared LLM budget |
/// | new conversations per IP | 10 | opening conversations is what a script abusing the widget does |
///
/// In TOML or JSON every field is optional and falls back to its default;
/// a tenant refines the deployment's policy with [`LimitOverrides`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitPolicy {
    /// Messages per visitor.
    pub visitor: Limit,
    /// Messages per client IP.
    pub ip: Limit,
    /// Messages per tenant.
    pub tenant: Limit,
    /// New conversations per client IP.
    pub new_conversation_per_ip: Limit,
}

impl LimitPolicy {
    /// 20 messages per visitor per minute.
    pub const DEFAULT_VISITOR: Limit = Limit::from_nonzero(20, 60_000);
    /// 60 messages per IP per minute.
    pub const DEFAULT_IP: Limit = Limit::from_nonzero(60, 60_000);
    /// 6000 messages per tenant per minute.
    pub const DEFAULT_TENANT: Limit = Limit::from_nonzero(6_000, 60_000);
    /// 10 new conversations per IP per minute.
    pub const DEFAULT_NEW_CONVERSATION_PER_IP: Limit = Limit::from_nonzero(10, 60_000);

    /// The limit for one kind of key.
    pub const fn limit(&self, kind: LimitKind) -> Limit {
        match kind {
            LimitKind::Visitor => self.visitor,
            LimitKind::Ip => self.ip,
            LimitKind::Tenant => self.tenant,
            LimitKind::NewConversationPerIp => self.new_conversation_per_ip,
        }
    }

    /// This policy with a tenant's overrides applied.
    pub fn with_overrides(&self, o: &LimitOverrides) -> LimitPolicy {
        LimitPolicy {
            visitor: o.visitor.unwrap_or(self.visitor),
            ip: o.ip.unwrap_or(self.ip),
            tenant: o.tenant.unwrap_or(self.tenant),
            new_conversation_per_ip: o
                .new_conversation_per_ip
                .unwrap_or(self.new_conversation_per_ip),
        }
    }
}

impl Default for LimitPolicy {
    fn default() -> Self {
        LimitPolicy {
            visitor: Self::DEFAULT_VISITOR,
            ip: Self::DEFAULT_IP,
            tenant: Self::DEFAULT_TENANT,
            new_conversation_per_ip: Self::DEFAULT_NEW_CONVERSATION_PER_IP,
        }
    }
}

/// A tenant's changes to the deployment's [`LimitPolicy`]; `None` keeps the
/// deployment's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverrides {
    /// Replaces [`LimitPolicy::visitor`].
    pub visitor: Option<Limit>,
    /// Replaces [`LimitPolicy::ip`].
    pub ip: Option<Limit>,
    /// Replaces [`LimitPolicy::tenant`].
    pub tenant: Option<Limit>,
    /// Replaces [`LimitPolicy::new_conversation_per_ip`].
    pub new_conversation_per_ip: Option<Limit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = LimitPolicy::default();
        assert_eq!((p.visitor.max(), p.visitor.window_ms()), (20, 60_000));
        assert_eq!((p.ip.max(), p.ip.window_ms()), (60, 60_000));
        assert_eq!((p.tenant.max(), p.tenant.window_ms()), (6_000, 60_000));
        assert_eq!(
            (
                p.new_conversation_per_ip.max(),
                p.new_conversation_per_ip.window_ms()
            ),
            (10, 60_000)
        );
        assert_eq!(p.limit(LimitKind::Ip), p.ip);
        assert_eq!(
            p.limit(LimitKind::NewConversationPerIp),
            p.new_conversation_per_ip
        );
    }

    #[test]
    fn partial_config_keeps_defaults_and_rejects_zero_and_typos() {
        let p: LimitPolicy =
            serde_json::from_str(r#"{"ip":{"max":120,"window_ms":60000}}"#).unwrap();
        assert_eq!(p.ip, Limit::per_minute(120).unwrap());
        assert_eq!(p.visitor, LimitPolicy::DEFAULT_VISITOR);
        assert!(
            serde_json::from_str::<LimitPolicy>(r#"{"ip":{"max":0,"window_ms":60000}}"#).is_err()
        );
        assert!(serde_json::from_str::<LimitPolicy>(r#"{"ip":{"max":5,"window_ms":0}}"#).is_err());
        assert!(
            serde_json::from_str::<LimitPolicy>(r#"{"ipp":{"max":5,"window_ms":10}}"#).is_err()
        );
    }

    #[test]
    fn tenant_overrides_replace_only_what_they_name() {
        let base = LimitPolicy::default();
        let o: LimitOverrides =
            serde_json::from_str(r#"{"tenant":{"max":12000,"window_ms":60000}}"#).unwrap();
        let p = base.with_overrides(&o);
        assert_eq!(p.tenant.max(), 12_000);
        assert_eq!(p.visitor, base.visitor);
        assert_eq!(p.ip, base.ip);
        assert_eq!(p.new_conversation_per_ip, base.new_conversation_per_ip);
        assert_eq!(base.with_overrides(&LimitOverrides::default()), base);
    }
}
