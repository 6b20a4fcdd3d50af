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
            fallbacks_in_row: if ai_fell_back {
                self.fallbacks_in_row.saturating_add(1)
            } else {
                0
            },
            turns_with_ai: if escalated {
                self.turns_with_ai
            } else {
                self.turns_with_ai.saturating_add(1)
            },
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
pub fn decide(
    text: &str,
    history: &History,
    cfg: &RoutingConfig,
    in_business_hours: bool,
) -> Decision {
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
    let mut action = if categorical {
        Action::HandoffNow
    } else {
        Action::StayAi
    };
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
        let floor = if n >= max.saturating_mul(2) {
            Action::HandoffNow
        } else {
            Action::OfferHuman
        };
        at_least(&mut action, floor);
    }
    if cfg.offer_after_turns > 0 && history.turns_with_ai >= cfg.offer_after_turns {
        reasons.push(Reason::LongConversation {
            turns: history.turns_with_ai,
        });
        at_least(&mut action, Action::OfferHuman);
    }

    if a.declined && !a.explicit && !threat && a.tenant_keyword.is_none() {
        action = Action::StayAi;
    }
    let recently =
        history.already_offered && history.turns_since_offer < u32::from(cfg.reoffer_after_turns);
    if action == Action::OfferHuman && recently {
        action = Action::StayAi;
        reasons.push(Reason::OfferRecentlyMade);
    }
    if !cfg.handoff_enabled && action != Action::StayAi {
        action = if action == Action::HandoffNow {
            Action::LeaveMessage
        } else {
            Action::StayAi
        };
        reasons.push(Reason::HandoffDisabled);
    } else if !in_business_hours && action != Action::StayAi {
        if action == Action::HandoffNow {
            action = Action::LeaveMessage;
        }
        reasons.push(Reason::OutsideBusinessHours);
    }
    Decision {
        action,
        reasons,
        emotion: a.emotion,
        level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    fn cfg() -> RoutingConfig {
        RoutingConfig::default()
    }

    /// Sends `msgs` in order from a fresh history; returns every decision.
    fn converse(msgs: &[&str], cfg: &RoutingConfig) -> alloc::vec::Vec<Decision> {
        let mut h = History::default();
        msgs.iter()
            .map(|m| {
                let d = decide(m, &h, cfg, true);
                h = h.update(&d, false);
                d
            })
            .collect()
    }

    #[test]
    fn mild_annoyance_builds_to_an_offer_on_the_third_turn() {
        for msgs in [
            ["还是不行", "还是不行", "还是不行"],
            [
                "still not working",
                "it still doesn't work",
                "still not working",
            ],
            ["这个还是不行", "还是用不了", "还是不行啊"],
        ] {
            let d = converse(&msgs, &cfg());
            let actions: alloc::vec::Vec<Action> = d.iter().map(|d| d.action).collect();
            assert_eq!(
                actions,
                [Action::StayAi, Action::StayAi, Action::OfferHuman],
                "{msgs:?}"
            );
            assert!(
                d[2].reasons
                    .iter()
                    .any(|r| matches!(r, Reason::BuildingFrustration { .. }))
            );
            assert!(d[0].level < d[1].level && d[1].level < d[2].level);
        }
    }

    #[test]
    fn calm_turns_let_frustration_fade() {
        let d = converse(&["垃圾！！！", "好的", "好的", "好的"], &cfg());
        assert_eq!(d[0].action, Action::OfferHuman);
        assert!(d[1].level < d[0].level && d[2].level < d[1].level && d[3].level < d[2].level);
        assert_eq!(d[3].action, Action::StayAi);
    }

    #[test]
    fn a_calm_refund_question_stays_but_a_threat_hands_off() {
        let h = History::default();
        assert_eq!(
            decide("how do I get a refund", &h, &cfg(), true).action,
            Action::StayAi
        );
        assert_eq!(
            decide("怎么申请退款？", &h, &cfg(), true).action,
            Action::StayAi
        );
        let d = decide("refund me or I'll file a chargeback", &h, &cfg(), true);
        assert_eq!(d.action, Action::HandoffNow);
        assert!(d.reasons.contains(&Reason::Complaint { threat: true }));
        assert!(d.reasons.contains(&Reason::Money));
    }

    #[test]
    fn fallbacks_offer_then_hand_off() {
        let mut h = History {
            fallbacks_in_row: 2,
            ..History::default()
        };
        assert_eq!(decide("ok", &h, &cfg(), true).action, Action::StayAi);
        h.fallbacks_in_row = 3;
        let d = decide("ok", &h, &cfg(), true);
        assert_eq!(d.action, Action::OfferHuman);
        assert!(d.reasons.contains(&Reason::RepeatedFallbacks { n: 3 }));
        h.fallbacks_in_row = 6;
        assert_eq!(decide("ok", &h, &cfg(), true).action, Action::HandoffNow);
        // The counter itself comes from update.
        let d = decide("ok", &History::default(), &cfg(), true);
        let h = History::default().update(&d, true).update(&d, true);
        assert_eq!(h.fallbacks_in_row, 2);
        assert_eq!(h.update(&d, false).fallbacks_in_row, 0);
    }

    #[test]
    fn refusing_a_human_is_respected() {
        let h = History {
            fallbacks_in_row: 3,
            frustration: 60,
            ..History::default()
        };
        for text in [
            "不用转人工，我自己看看",
            "no need for a human, thanks",
            "I don't want an agent",
        ] {
            let d = decide(text, &h, &cfg(), true);
            assert_eq!(d.action, Action::StayAi, "{text}");
            assert!(d.reasons.contains(&Reason::DeclinedHuman), "{text}");
        }
        // ... but an explicit request in the same message wins.
        let d = decide("不要机器人，我要人工", &h, &cfg(), true);
        assert_eq!(d.action, Action::HandoffNow);
    }

    #[test]
    fn offers_are_not_repeated_at_once() {
        let c = cfg();
        let d1 = decide("这服务太差了", &History::default(), &c, true);
        assert_eq!(d1.action, Action::OfferHuman);
        let h1 = History::default().update(&d1, false);
        assert!(h1.already_offered);
        let d2 = decide("这服务太差了", &h1, &c, true);
        assert_eq!(d2.action, Action::StayAi);
        assert!(d2.reasons.contains(&Reason::OfferRecentlyMade));
        // A handoff-level message is never held back by a recent offer.
        assert_eq!(decide("转人工", &h1, &c, true).action, Action::HandoffNow);
        // After reoffer_after_turns quiet turns, the offer may come again.
        let mut h = h1;
        for _ in 0..c.reoffer_after_turns {
            let d = decide("好的", &h, &c, true);
            h = h.update(&d, false);
        }
        assert_eq!(
            decide("这服务太差了", &h, &c, true).action,
            Action::OfferHuman
        );
    }

    #[test]
    fn outside_hours_and_without_agents() {
        let h = History::default();
        let d = decide("转人工", &h, &cfg(), false);
        assert_eq!(d.action, Action::LeaveMessage);
        assert!(d.reasons.contains(&Reason::OutsideBusinessHours));
        let d = decide("这服务太差了", &h, &cfg(), false);
        assert_eq!(d.action, Action::OfferHuman);
        assert!(d.reasons.contains(&Reason::OutsideBusinessHours));
        assert!(
            decide("what are your hours", &h, &cfg(), false)
                .reasons
                .is_empty()
        );

        let off = RoutingConfig {
            handoff_enabled: false,
            ..cfg()
        };
        assert_eq!(
            decide("talk to a human", &h, &off, true).action,
            Action::LeaveMessage
        );
        let d = decide("这服务太差了", &h, &off, true);
        assert_eq!(d.action, Action::StayAi);
        assert!(d.reasons.contains(&Reason::HandoffDisabled));
        // A leave-message spends the carried frustration like a handoff.
        let d = decide("你们就是骗子，我要报警！！！", &h, &off, true);
        assert_eq!(d.action, Action::LeaveMessage);
        assert!(d.level > 0);
        assert_eq!(h.update(&d, false).frustration, 0);
    }

    #[test]
    fn tenant_keywords_whole_words_and_not_negated() {
        let c = RoutingConfig {
            tenant_keywords: vec![
                String::from("挂失"),
                String::from("VIP"),
                String::from("盗刷"),
            ],
            ..cfg()
        };
        let h = History::default();
        let d = decide("我要挂失", &h, &c, true);
        assert_eq!(d.action, Action::HandoffNow);
        assert!(d.reasons.contains(&Reason::TenantKeyword {
            keyword: String::from("挂失")
        }));
        assert_eq!(
            decide("ＶＩＰ room booking", &h, &c, true).action,
            Action::HandoffNow
        );
        assert_eq!(
            decide("is vipshop your partner?", &h, &c, true).action,
            Action::StayAi
        );
        assert_eq!(
            decide("不是挂失，我想改密码", &h, &c, true).action,
            Action::StayAi
        );
    }

    #[test]
    fn long_conversations_can_earn_an_offer() {
        let c = RoutingConfig {
            offer_after_turns: 12,
            ..cfg()
        };
        let h = History {
            turns_with_ai: 12,
            ..History::default()
        };
        let d = decide("好的，谢谢", &h, &c, true);
        assert_eq!(d.action, Action::OfferHuman);
        assert!(d.reasons.contains(&Reason::LongConversation { turns: 12 }));
        assert_eq!(
            decide("好的，谢谢", &h, &cfg(), true).action,
            Action::StayAi
        );
    }

    #[test]
    fn thresholds_move_decisions() {
        let strict = RoutingConfig {
            offer_threshold: 80,
            handoff_threshold: 95,
            ..cfg()
        };
        let h = History::default();
        assert_eq!(
            decide("这服务太差了", &h, &cfg(), true).action,
            Action::OfferHuman
        );
        assert_eq!(
            decide("这服务太差了", &h, &strict, true).action,
            Action::StayAi
        );
        // Explicit requests and threats do not depend on thresholds.
        assert_eq!(
            decide("转人工", &h, &strict, true).action,
            Action::HandoffNow
        );
        assert_eq!(
            decide("我会找律师", &h, &strict, true).action,
            Action::HandoffNow
        );
    }

    #[test]
    fn reasons_serialise_for_a_ui() {
        let json = serde_json::to_string(&[
            Reason::ExplicitRequest,
            Reason::Anger { score: 47 },
            Reason::TenantKeyword {
                keyword: String::from("挂失"),
            },
        ])
        .unwrap();
        assert_eq!(
            json,
            r#"[{"kind":"explicit_request"},{"kind":"anger","score":47},{"kind":"tenant_keyword","keyword":"挂失"}]"#
        );
        let d = decide("AGENT!!!", &History::default(), &cfg(), true);
        let back: Decision = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(
            serde_json::to_string(&Action::LeaveMessage).unwrap(),
            r#""leave_message""#
        );
    }

    #[test]
    fn deterministic() {
        let h = History {
            frustration: 33,
            fallbacks_in_row: 1,
            ..History::default()
        };
        let a = decide("太坑了吧!!", &h, &cfg(), true);
        let b = decide("太坑了吧!!", &h, &cfg(), true);
        assert_eq!(a, b);
        assert_eq!(h.update(&a, true), h.update(&b, true));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_stays_in_range(text in "\\PC{0,200}", frustration in 0u8..=255, fb in 0u8..=255) {
            let h = History { frustration, fallbacks_in_row: fb, turns_with_ai: u32::MAX, already_offered: true, turns_since_offer: u32::MAX };
            let d = decide(&text, &h, &cfg(), false);
            proptest::prop_assert!(d.level <= 100 && d.emotion <= 100);
            let s = super::super::signals(&text, &cfg());
            proptest::prop_assert!(s.urgency <= 100 && s.risk <= 100);
            let _ = h.update(&d, true);
        }

        #[test]
        fn lexicon_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(&super::super::lexicon::LEXICON[..]), 0..40)) {
            let text: String = words.iter().map(|e| e.phrase).collect::<alloc::vec::Vec<_>>().join(" ");
            let d = decide(&text, &History::default(), &cfg(), true);
            proptest::prop_assert!(d.level <= 100);
        }
    }
}
