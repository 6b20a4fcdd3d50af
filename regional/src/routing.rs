//! Routing between the AI and people, per visitor message, on kefu-core's
//! signals ([`kefu_core::routing::decide`]).
//!
//! - **Hand off now** (an explicit "转人工" / "human please", a stated
//!   complaint or threat, the tenant's keywords, or escalation over the
//!   threshold): the conversation moves to `queued_for_human` in the same
//!   transaction as the visitor's message, the reasons go to the audit log
//!   (their kinds, never the text), and the visitor is told they are queued.
//! - **Offer a human**: the AI answers and adds one line offering a person.
//! - Otherwise the AI answers.
//!
//! While a human has the conversation the AI stays silent
//! ([`crate::edge::turn`]). The history routing reads is rebuilt from the
//! conversation's recent turns by deciding each earlier visitor message
//! again ([`history`]): frustration carried over messages, fallbacks in a
//! row, AI turns, and whether (and how long ago) a person was offered.
//! History starts at the conversation's `fresh_from_seq`: after an agent
//! hands back or closes, the old reason cannot send the next message
//! straight back to a person. The tenant's rules and business hours come
//! from its [`HandoffSettings`]; the queue and agents are in
//! [`crate::store::handoff`] and [`crate::console`].

use kefu_core::routing::{Action, Decision, History, decide};
use kefu_core::{Locale, Source};

use crate::store::exchange::{Reply, RouteTo};
use crate::store::handoff::{HandoffSettings, Position};
use crate::store::{ConversationState, Role, RouteEvent, Turn};

/// Turns of the conversation routing looks back on.
pub const HISTORY_TURNS: usize = 20;

/// Routing's memory rebuilt from the last turns (oldest first): each
/// earlier visitor message is decided again under the tenant's current
/// `settings` (at the time it was written, for business hours) and folded
/// in with the AI's reply to it, exactly as [`History::update`] does turn by
/// turn. So frustration builds over recent messages, fallbacks in a row
/// count, and an offer is not repeated within `reoffer_after_turns`.
pub fn history(turns: &[Turn], settings: &HandoffSettings) -> History {
    let mut h = History::default();
    let mut pending: Option<kefu_core::routing::Decision> = None;
    for t in turns {
        match t.role {
            Role::Visitor => {
                // A question with no reply stored (an edge acknowledgement
                // pending, say) still counts.
                if let Some(d) = pending.take() {
                    h = h.update(&d, false);
                }
                pending = Some(decide(
                    &t.text,
                    &h,
                    &settings.routing,
                    settings.on_duty(t.at_ms),
                ));
            }
            Role::Bot => {
                if let Some(d) = pending.take() {
                    h = h.update(&d, t.source == Some(Source::Fallback));
                }
            }
            Role::Agent | Role::System => {}
        }
    }
    if let Some(d) = pending {
        h = h.update(&d, false);
    }
    h
}

/// What routing decided for one message.
#[derive(Debug, Clone)]
pub struct Route {
    /// The decision (action and reasons).
    pub decision: Decision,
    locale: Locale,
    /// The line offering a human, when the decision is to offer one.
    pub offer: Option<&'static str>,
    /// The skill/group a handoff is queued for (the tenant's group rules).
    pub group: Option<String>,
}

/// The group the tenant's rules send a conversation to: the first rule one
/// of whose keywords is in the visitor's `recent` messages (newest first),
/// or whose reason kinds are among `reasons`.
pub fn group_for(
    settings: &HandoffSettings,
    recent: &[&str],
    reasons: &[String],
) -> Option<String> {
    settings.groups.iter().find_map(|rule| {
        let by_reason = rule.reasons.iter().any(|r| reasons.contains(r));
        let by_word = !rule.keywords.is_empty() && {
            let cfg = kefu_core::routing::RoutingConfig {
                tenant_keywords: rule.keywords.clone(),
                ..kefu_core::routing::RoutingConfig::default()
            };
            recent.iter().any(|t| {
                kefu_core::routing::signals(t, &cfg)
                    .reasons
                    .iter()
                    .any(|r| matches!(r, kefu_core::routing::Reason::TenantKeyword { .. }))
            })
        };
        (by_reason || by_word).then(|| rule.group.clone())
    })
}

/// A reason's kind (`explicit_request`, `anger`, ...).
fn kind_of(v: &serde_json::Value) -> String {
    v["kind"].as_str().unwrap_or_default().to_owned()
}

/// Decides for `text` under the tenant's `settings`; `now_ms` places the
/// message against the tenant's business hours. `earlier` are the
/// visitor's previous messages since routing last started fresh, newest
/// first (for the group rules).
pub fn route(
    text: &str,
    earlier: &[&str],
    history: &History,
    locale: Locale,
    settings: &HandoffSettings,
    now_ms: u64,
) -> Route {
    let decision = decide(text, history, &settings.routing, settings.on_duty(now_ms));
    let offer = (decision.action == Action::OfferHuman).then_some(match locale {
        Locale::Zh => "如需人工客服，请点击“转人工”或直接告诉我。",
        Locale::En => "If you'd like a person to help, tap “Talk to a human” or just say so.",
    });
    let group = matches!(decision.action, Action::HandoffNow | Action::LeaveMessage)
        .then(|| {
            let kinds: Vec<String> = reasons_json(&decision).iter().map(kind_of).collect();
            let recent: Vec<&str> = std::iter::once(text)
                .chain(earlier.iter().copied())
                .collect();
            group_for(settings, &recent, &kinds)
        })
        .flatten();
    Route {
        decision,
        locale,
        offer,
        group,
    }
}

/// The decision's reasons as stored: kefu-core's serialised form.
fn reasons_json(d: &Decision) -> Vec<serde_json::Value> {
    d.reasons
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect()
}

/// The notice a visitor gets when handed to the human queue: their place
/// and, once agents have taken conversations, the expected wait.
pub fn queued_notice_text(locale: Locale, p: Position) -> String {
    let ahead = p.position.saturating_sub(1);
    let minutes = p.eta_secs.map(|s| s.div_ceil(60).max(1));
    match (locale, minutes) {
        (Locale::Zh, Some(m)) => format!(
            "已为您转接人工客服，正在排队：您前面还有 {ahead} 位，预计等待约 {m} 分钟。客服接入后会在这里回复您。"
        ),
        (Locale::Zh, None) => format!(
            "已为您转接人工客服，正在排队：您前面还有 {ahead} 位，请稍候，客服接入后会在这里回复您。"
        ),
        (Locale::En, Some(m)) => format!(
            "I've passed you to a human agent. You're number {} in the queue; the expected wait is about {m} min. An agent will reply here.",
            p.position
        ),
        (Locale::En, None) => format!(
            "I've passed you to a human agent. You're number {} in the queue; an agent will reply here.",
            p.position
        ),
    }
}

/// The notice before the queue position is known (replaced in the
/// exchange's transaction).
pub fn queued_notice(locale: Locale) -> Turn {
    Turn::new(
        Role::System,
        queued_notice_text(
            locale,
            Position {
                position: 1,
                eta_secs: None,
            },
        ),
    )
}

impl Route {
    /// The reply for a conversation the AI has: the AI's `answer`, with an
    /// offer line, or the queue notice and the move to the queue.
    pub fn apply(self, answer: Turn) -> Reply {
        let reasons = reasons_json(&self.decision);
        match self.decision.action {
            Action::HandoffNow | Action::LeaveMessage => {
                let offline = self.decision.action == Action::LeaveMessage;
                let note = RouteEvent {
                    reasons: reasons.clone(),
                    state: Some(ConversationState::QueuedForHuman),
                    group: self.group.clone(),
                    ..RouteEvent::new(if offline { "leave_message" } else { "handoff" }, 0, 0)
                };
                Reply {
                    turn: queued_notice(self.locale),
                    route_to: Some(RouteTo {
                        state: ConversationState::QueuedForHuman,
                        reasons: reasons.iter().map(kind_of).collect(),
                        locale: self.locale,
                        offline,
                        group: self.group,
                    }),
                    note: Some(note),
                }
            }
            Action::OfferHuman => {
                let mut turn = answer;
                // A fallback answer offers a person itself.
                if turn.source != Some(Source::Fallback)
                    && let Some(line) = self.offer
                {
                    turn.text = format!("{}\n\n{line}", turn.text);
                }
                Reply {
                    note: Some(RouteEvent {
                        reasons,
                        ..RouteEvent::new("offer", 0, 0)
                    }),
                    ..Reply::answer(turn)
                }
            }
            _ => Reply::answer(answer),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Routing under tenant rules, on kefu-core's hand-labelled fixture
    //! (`core/tests/fixtures/routing.tsv`: split, lang, action, context,
    //! text). Rows without context are single messages; kefu-core checks
    //! the labels' accuracy itself; here the tenant's rules change the
    //! outcome the way they promise.

    use super::*;
    use crate::store::handoff::{BusinessHours, GroupRule};

    const FIXTURE: &str = include_str!("../../core/tests/fixtures/routing.tsv");
    /// 2026-12-03, a Thursday, 01:30 UTC.
    const THURSDAY: u64 = 1_796_261_400_000;

    /// (label, explicit, text) of the rows that are one message alone, in
    /// the splits kefu-core holds to its labels (`dev`, `held`).
    fn single_messages() -> Vec<(&'static str, bool, &'static str)> {
        FIXTURE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (matches!(c[0], "dev" | "held") && matches!(c[3], "-" | "explicit")).then_some((
                    c[2],
                    c[3] == "explicit",
                    c[4],
                ))
            })
            .collect()
    }

    fn kinds(r: &Reply) -> Vec<String> {
        r.route_to
            .as_ref()
            .map(|t| t.reasons.clone())
            .unwrap_or_default()
    }

    fn answer() -> Turn {
        Turn::new(Role::Bot, "an answer").with_source(Source::Faq)
    }

    fn decide_for(text: &str, s: &HandoffSettings) -> Reply {
        route(
            text,
            &[],
            &History::default(),
            Locale::detect(text),
            s,
            THURSDAY,
        )
        .apply(answer())
    }

    #[test]
    fn explicit_requests_queue_now_and_become_left_messages_outside_business_hours() {
        let rows: Vec<_> = single_messages().into_iter().filter(|r| r.1).collect();
        assert!(rows.len() >= 20, "{} explicit rows", rows.len());
        let open = HandoffSettings::default();
        let closed = HandoffSettings {
            business_hours: Some(BusinessHours {
                utc_offset_minutes: 480,
                days: vec![1, 2, 3, 4, 5],
                open: "13:00".into(),
                close: "18:00".into(),
            }),
            ..HandoffSettings::default()
        };
        let mut checked = 0;
        for (label, _, text) in rows {
            if label != "handoff" {
                continue;
            }
            checked += 1;
            let r = decide_for(text, &open);
            let to = r
                .route_to
                .as_ref()
                .unwrap_or_else(|| panic!("{text}: not queued"));
            assert!(!to.offline, "{text}");
            assert!(
                kinds(&r).contains(&"explicit_request".to_owned()),
                "{text}: {:?}",
                kinds(&r)
            );
            let note = r.note.as_ref().unwrap();
            assert_eq!(note.action, "handoff");
            assert_eq!(note.state, Some(ConversationState::QueuedForHuman));
            // 09:30 in Beijing, before the tenant's 13:00 opening.
            let r = decide_for(text, &closed);
            let to = r.route_to.as_ref().unwrap();
            assert!(to.offline, "{text}: outside hours is a left message");
            assert!(
                kinds(&r).contains(&"outside_business_hours".to_owned()),
                "{text}"
            );
            assert_eq!(r.note.as_ref().unwrap().action, "leave_message");
        }
        assert!(checked >= 15, "{checked} explicit handoff rows");
    }

    #[test]
    fn ordinary_questions_stay_with_the_ai_and_leave_no_record() {
        let s = HandoffSettings::default();
        let stay: Vec<_> = single_messages()
            .into_iter()
            .filter(|r| r.0 == "stay")
            .collect();
        assert!(stay.len() >= 30, "{} stay rows", stay.len());
        let queued: Vec<&str> = stay
            .iter()
            .filter(|(_, _, text)| decide_for(text, &s).route_to.is_some())
            .map(|r| r.2)
            .collect();
        assert_eq!(queued, Vec::<&str>::new(), "questions sent to a person");
        for q in ["运费怎么算？", "How do I track my order?", "你们周末发货吗"] {
            let r = decide_for(q, &s);
            assert!(r.route_to.is_none() && r.note.is_none(), "{q}");
            assert_eq!(r.turn.text, "an answer");
        }
    }

    #[test]
    fn a_tenants_keywords_and_thresholds_change_the_decision() {
        let text = "我的信用卡好像被挂失了，怎么查看";
        let plain = decide_for(text, &HandoffSettings::default());
        assert!(plain.route_to.is_none(), "no rule: the AI answers");
        let mut s = HandoffSettings::default();
        s.routing.tenant_keywords = vec!["挂失".into()];
        let r = decide_for(text, &s);
        assert!(
            kinds(&r).contains(&"tenant_keyword".to_owned()),
            "{:?}",
            kinds(&r)
        );
        // The reason keeps the keyword with the conversation.
        assert!(
            r.note
                .as_ref()
                .unwrap()
                .reasons
                .iter()
                .any(|v| v["keyword"] == "挂失"),
            "{:?}",
            r.note
        );
        // Not when negated.
        assert!(
            decide_for("不是挂失的问题，只是想改地址", &s)
                .route_to
                .is_none()
        );

        // An angry message: handed off at the default threshold, only
        // offered when the tenant raises it.
        let angry = "你们这是什么垃圾服务！！！等了三天还没人处理，太气人了";
        let d = decide_for(angry, &HandoffSettings::default());
        assert!(d.route_to.is_some() || d.note.is_some(), "anger is heard");
        let mut lenient = HandoffSettings::default();
        lenient.routing.handoff_threshold = 100;
        lenient.routing.offer_threshold = 30;
        let r = decide_for(angry, &lenient);
        assert!(r.route_to.is_none(), "below the tenant's handoff threshold");
        assert_eq!(r.note.as_ref().map(|n| n.action.as_str()), Some("offer"));
        assert!(
            r.turn.text.contains("人工"),
            "the offer line is added: {}",
            r.turn.text
        );
    }

    fn conversation(visitor: &[&str]) -> Vec<Turn> {
        let mut out = Vec::new();
        for (i, v) in visitor.iter().enumerate() {
            let mut q = Turn::new(Role::Visitor, *v);
            q.at_ms = THURSDAY + i as u64 * 60_000;
            let mut a = answer();
            a.at_ms = q.at_ms + 1_000;
            out.extend([q, a]);
        }
        out
    }

    #[test]
    fn the_rebuilt_history_is_the_turn_by_turn_one() {
        let s = HandoffSettings::default();
        let msgs = [
            "还是不行",
            "怎么还是不行？？",
            "你们到底能不能解决，太慢了",
            "still not working",
        ];
        let mut folded = History::default();
        for m in msgs {
            let d = decide(m, &folded, &s.routing, true);
            folded = folded.update(&d, false);
        }
        assert_eq!(history(&conversation(&msgs), &s), folded);
        assert!(folded.frustration > 0, "frustration carried: {folded:?}");
    }

    #[test]
    fn frustration_builds_over_recent_messages() {
        // The fixture's repeated-message rows: the third "still not
        // working" is an offer though the first is not.
        let s = HandoffSettings::default();
        for text in ["还是不行", "still not working"] {
            let first = route(
                text,
                &[],
                &history(&[], &s),
                Locale::detect(text),
                &s,
                THURSDAY,
            );
            assert_ne!(first.decision.action, Action::OfferHuman, "{text}");
            let turns = conversation(&[text, text]);
            let third = route(
                text,
                &[],
                &history(&turns, &s),
                Locale::detect(text),
                &s,
                THURSDAY,
            );
            assert_eq!(
                third.decision.action,
                Action::OfferHuman,
                "{text}: {:?}",
                third.decision
            );
        }
    }

    #[test]
    fn an_offer_is_not_repeated_on_the_next_message() {
        let mut s = HandoffSettings::default();
        s.routing.offer_after_turns = 1;
        let turns = conversation(&["how do I track my order"]);
        let r = route(
            "and the delivery date?",
            &[],
            &history(&turns, &s),
            Locale::En,
            &s,
            THURSDAY,
        );
        assert_eq!(r.decision.action, Action::OfferHuman);
        let mut turns = conversation(&["how do I track my order", "and the delivery date?"]);
        turns[3]
            .text
            .push_str("\n\nIf you'd like a person to help, tap “Talk to a human”.");
        let h = history(&turns, &s);
        assert!(h.already_offered, "{h:?}");
        let r = route("ok, and returns?", &[], &h, Locale::En, &s, THURSDAY);
        assert_ne!(r.decision.action, Action::OfferHuman, "{:?}", r.decision);
    }

    #[test]
    fn group_rules_pick_the_team_by_recent_words_or_reason() {
        let s = HandoffSettings {
            groups: vec![
                GroupRule {
                    group: "billing".into(),
                    keywords: vec!["退款".into(), "refund".into()],
                    reasons: vec![],
                },
                GroupRule {
                    group: "security".into(),
                    keywords: vec![],
                    reasons: vec!["account_security".into()],
                },
            ],
            ..HandoffSettings::default()
        };
        let earlier = ["我的退款还没到"];
        let r = route(
            "转人工",
            &earlier,
            &History::default(),
            Locale::Zh,
            &s,
            THURSDAY,
        );
        assert_eq!(r.group.as_deref(), Some("billing"));
        let r = route("转人工", &[], &History::default(), Locale::Zh, &s, THURSDAY);
        assert_eq!(r.group, None);
        assert_eq!(
            group_for(&s, &["hi"], &["account_security".to_owned()]).as_deref(),
            Some("security")
        );
        // Whole words for Latin script: "refunded" is not "refund".
        assert_eq!(group_for(&s, &["was it refunded"], &[]), None);
        // A group is only for a handoff, never for an answer.
        let r = route(
            "how do I get a refund",
            &[],
            &History::default(),
            Locale::En,
            &s,
            THURSDAY,
        );
        assert_eq!(r.group, None);
    }
}
