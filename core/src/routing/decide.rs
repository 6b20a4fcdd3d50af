//! The decision: one message's analysis + the conversation's [`History`] +
//! the tenant's [`RoutingConfig`] -> [`Decision`]. Rules are in the module
//! doc of [`super`].

use serde::{Deserialize, Serialize};

use super::score::{ComplaintKind, analyze};
use super::{Action, Decision, Reason, RoutingConfig, message_reasons};

/// What routing remembers about a conversation between messages.
///
/// Start with `History::default()` and fold each decision in with
/// [`History::update`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// The previous turn's escalation level (0..=100); a share of it
    /// (`carry_percent`) is added to the next message's pressure.
    pub frustration: u8,
    /// AI replies in a row that were fallbacks ("I don't know that").
    pub fallbacks_in_row: u8,
    /// Turns the AI has handled in this conversation.
    pub turns_with_ai: u32,
    /// Whether a human has been offered in this conversation.
    pub already_offered: bool,
    /// Turns since the last offer (0 on the turn after it).
    pub turns_since_offer: u32,
}

impl History {
    /// The history for the next message, after `decision` was acted on and
    /// the AI's reply to this message was (`ai_fell_back`) or was not a
    /// fallback. A handoff or leave-message spends the carried frustration:
    /// the visitor got what escalation could give.
    pub fn update(&self, decision: &Decision, ai_fell_back: bool) -> History {
        let escalated = matches!(decision.action, Action::HandoffNow | Action::LeaveMessage);
        let offered = decision.action == Action::OfferHuman;
        History {
            frustration: if escalated { 0 } else { decision.level },
            fallbacks_in_row: if ai_fell_back { self.fallbacks_in_row.saturating_add(1) } else { 0 },
            turns_with_ai: if escalated { self.turns_with_ai } else { self.turns_with_ai.saturating_add(1) },
            already_offered: self.already_offered || offered,
            turns_since_offer: if offered || !self.already_offered {
                0
            } else {
                self.turns_since_offer.saturating_add(1)
            },
        }
    }
}

/// Decides what to do with one visitor message. `in_business_hours` says
/// whether agents are on duty now (the caller owns the clock and calendar).
///
/// Pure and total: any text, history and config give a decision; an
/// unvalidated config is used as it is.
pub fn decide(text: &str, history: &History, cfg: &RoutingConfig, in_business_hours: bool) -> Decision {
    let a = analyze(text, &cfg.tenant_keywords);
    let mut reasons = message_reasons(&a);
    let pressure = a.pressure();
    let carry = u32::from(history.frustration) * u32::from(cfg.carry_percent.min(90)) / 100;
    let level = u8::try_from((u32::from(pressure) + carry).min(100)).unwrap_or(100);

    let threat = a.complaint == Some(ComplaintKind::Threat);
    let categorical = a.explicit
        || a.tenant_keyword.is_some()
        || threat
        || a.complaint == Some(ComplaintKind::Stated);
    let mut action = if categorical { Action::HandoffNow } else { Action::StayAi };
    let at_least = |action: &mut Action, floor: Action| *action = (*action).max(floor);

    if level >= cfg.handoff_threshold {
        at_least(&mut action, Action::HandoffNow);
    } else if level >= cfg.offer_threshold {
        at_least(&mut action, Action::OfferHuman);
    }
    if level >= cfg.offer_threshold && pressure < cfg.offer_threshold {
        reasons.push(Reason::BuildingFrustration { level });
    }
    if a.asked_bot || a.complaint == Some(ComplaintKind::Question) {
        at_least(&mut action, Action::OfferHuman);
    }
    let n = history.fallbacks_in_row;
    let max = cfg.max_fallbacks_in_row.max(1);
    if n >= max {
        reasons.push(Reason::RepeatedFallbacks { n });
        let floor = if n >= max.saturating_mul(2) { Action::HandoffNow } else { Action::OfferHuman };
        at_least(&mut action, floor);
    }
    if cfg.offer_after_turns > 0 && history.turns_with_ai >= cfg.offer_after_turns {
        reasons.push(Reason::LongConversation { turns: history.turns_with_ai });
        at_least(&mut action, Action::OfferHuman);
    }

    if a.declined && !a.explicit && !threat && a.tenant_keyword.is_none() {
        action = Action::StayAi;
    }
    let recently = history.already_offered && history.turns_since_offer < u32::from(cfg.reoffer_after_turns);
    if action == Action::OfferHuman && recently {
        action = Action::StayAi;
        reasons.push(Reason::OfferRecentlyMade);
    }
    if !cfg.handoff_enabled && action != Action::StayAi {
        action = if action == Action::HandoffNow { Action::LeaveMessage } else { Action::StayAi };
        reasons.push(Reason::HandoffDisabled);
    } else if !in_business_hours && action != Action::StayAi {
        if action == Action::HandoffNow {
            action = Action::LeaveMessage;
        }
        reasons.push(Reason::OutsideBusinessHours);
    }
    Decision { action, reasons, emotion: a.emotion, level }
}
