//! Tenant routing configuration: thresholds, fallbacks, keywords, with
//! validation on every path in (two-phase: a raw serde shape, then
//! [`RoutingConfig`] through `TryFrom`).

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Most tenant keywords a config may hold.
pub const MAX_TENANT_KEYWORDS: usize = 64;
/// Longest tenant keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 32;

/// How a tenant wants visitors routed between the AI and its people.
///
/// Deserialising validates (unknown fields are rejected); a config built in
/// code should be checked with [`RoutingConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRoutingConfig")]
pub struct RoutingConfig {
    /// Escalation level (0..=100) at which a human is offered. Default 40.
    pub offer_threshold: u8,
    /// Escalation level at which the visitor is handed off at once. Default 70.
    pub handoff_threshold: u8,
    /// AI fallbacks ("I don't know") in a row that earn an offer; twice as
    /// many hand off. Default 3.
    pub max_fallbacks_in_row: u8,
    /// Words that always go to a person, e.g. "挂失", "盗刷", "fraud".
    /// Matched case- and width-insensitively, whole words for Latin script,
    /// and not when negated ("不是盗刷").
    pub tenant_keywords: Vec<String>,
    /// Whether the tenant has live agents at all. Without them a handoff
    /// becomes [`super::Action::LeaveMessage`] and an offer is not made.
    pub handoff_enabled: bool,
    /// Percent of the previous turn's escalation level carried into this
    /// one, so that frustration builds over turns. 0..=90, default 60.
    pub carry_percent: u8,
    /// After an offer, turns during which it is not repeated. Default 3.
    pub reoffer_after_turns: u8,
    /// Offer a human after this many AI turns in one conversation; 0 = never
    /// (the default).
    pub offer_after_turns: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            offer_threshold: 40,
            handoff_threshold: 70,
            max_fallbacks_in_row: 3,
            tenant_keywords: Vec::new(),
            handoff_enabled: true,
            carry_percent: 60,
            reoffer_after_turns: 3,
            offer_after_turns: 0,
        }
    }
}

impl RoutingConfig {
    /// Checks the invariants: `1 <= offer < handoff <= 100`,
    /// `max_fallbacks_in_row >= 1`, `carry_percent <= 90`, and at most
    /// [`MAX_TENANT_KEYWORDS`] keywords of 1..=[`MAX_KEYWORD_CHARS`] characters.
    pub fn validate(&self) -> Result<()> {
        if self.offer_threshold == 0 {
            return Err(Error::Invalid(
                "routing: offer_threshold must be at least 1",
            ));
        }
        if self.offer_threshold >= self.handoff_threshold {
            return Err(Error::Invalid(
                "routing: offer_threshold must be below handoff_threshold",
            ));
        }
        if self.handoff_threshold > 100 {
            return Err(Error::Invalid(
                "routing: handoff_threshold must be at most 100",
            ));
        }
        if self.max_fallbacks_in_row == 0 {
            return Err(Error::Invalid(
                "routing: max_fallbacks_in_row must be at least 1",
            ));
        }
        if self.carry_percent > 90 {
            return Err(Error::Invalid("routing: carry_percent must be at most 90"));
        }
        if self.tenant_keywords.len() > MAX_TENANT_KEYWORDS {
            return Err(Error::Invalid("routing: more than 64 tenant keywords"));
        }
        for kw in &self.tenant_keywords {
            let n = kw.trim().chars().count();
            if n == 0 || n > MAX_KEYWORD_CHARS {
                return Err(Error::Invalid(
                    "routing: a tenant keyword must have 1..=32 characters",
                ));
            }
        }
        Ok(())
    }
}

/// The serde shape of [`RoutingConfig`] before validation.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRoutingConfig {
    offer_threshold: u8,
    handoff_threshold: u8,
    max_fallbacks_in_row: u8,
    tenant_keywords: Vec<String>,
    handoff_enabled: bool,
    carry_percent: u8,
    reoffer_after_turns: u8,
    offer_after_turns: u32,
}

impl Default for RawRoutingConfig {
    fn default() -> Self {
        let d = RoutingConfig::default();
        Self {
            offer_threshold: d.offer_threshold,
            handoff_threshold: d.handoff_threshold,
            max_fallbacks_in_row: d.max_fallbacks_in_row,
            tenant_keywords: d.tenant_keywords,
            handoff_enabled: d.handoff_enabled,
            carry_percent: d.carry_percent,
            reoffer_after_turns: d.reoffer_after_turns,
            offer_after_turns: d.offer_after_turns,
        }
    }
}

impl TryFrom<RawRoutingConfig> for RoutingConfig {
    type Error = Error;
    fn try_from(r: RawRoutingConfig) -> Result<Self> {
        let cfg = RoutingConfig {
            offer_threshold: r.offer_threshold,
            handoff_threshold: r.handoff_threshold,
            max_fallbacks_in_row: r.max_fallbacks_in_row,
            tenant_keywords: r.tenant_keywords,
            handoff_enabled: r.handoff_enabled,
            carry_percent: r.carry_percent,
            reoffer_after_turns: r.reoffer_after_turns,
            offer_after_turns: r.offer_after_turns,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let d = RoutingConfig::default();
        d.validate().unwrap();
        let json = serde_json::to_string(&d).unwrap();
        let back: RoutingConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn partial_json_takes_defaults() {
        let c: RoutingConfig = serde_json::from_str(r#"{"tenant_keywords":["挂失"]}"#).unwrap();
        assert_eq!(c.offer_threshold, 40);
        assert_eq!(c.tenant_keywords, ["挂失"]);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"offer_threshold":70,"handoff_threshold":70}"#,
            r#"{"offer_threshold":0}"#,
            r#"{"handoff_threshold":101}"#,
            r#"{"max_fallbacks_in_row":0}"#,
            r#"{"carry_percent":95}"#,
            r#"{"tenant_keywords":["  "]}"#,
            r#"{"unknown_field":1}"#,
        ] {
            assert!(
                serde_json::from_str::<RoutingConfig>(bad).is_err(),
                "{bad} was accepted"
            );
        }
        let many = RoutingConfig {
            tenant_keywords: alloc::vec![String::from("x"); 65],
            ..Default::default()
        };
        assert!(many.validate().is_err());
    }
}
