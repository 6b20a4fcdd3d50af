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
//! conversation's recent turns (fallbacks in a row, AI turns); carried
//! frustration is not persisted yet, so each message's own pressure counts.
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

/// Routing's memory rebuilt from the last turns (oldest first).
pub fn history(turns: &[Turn]) -> History {
    let bot = |t: &&Turn| t.role == Role::Bot;
    let fallbacks_in_row = turns
        .iter()
        .rev()
        .filter(bot)
        .take_while(|t| t.source == Some(Source::Fallback))
        .count();
    History {
        fallbacks_in_row: u8::try_from(fallbacks_in_row).unwrap_or(u8::MAX),
        turns_with_ai: u32::try_from(turns.iter().filter(bot).count()).unwrap_or(u32::MAX),
        ..History::default()
    }
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
