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
//! Agents and their queue (assignment, console) are not built yet: a queued
//! conversation is answered through the tenant API
//! (`POST /v1/conversations/{id}/messages` with `role: agent`).

use kefu_core::routing::{Action, Decision, History, RoutingConfig, decide};
use kefu_core::{Locale, Source};

use crate::store::exchange::Reply;
use crate::store::{ConversationState, Role, Turn};

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
}

/// Decides for `text`. Business hours are not configured yet: agents count
/// as on duty, so no decision is "leave a message".
pub fn route(text: &str, history: &History, locale: Locale) -> Route {
    let decision = decide(text, history, &RoutingConfig::default(), true);
    let offer = (decision.action == Action::OfferHuman).then_some(match locale {
        Locale::Zh => "如需人工客服，请点击“转人工”或直接告诉我。",
        Locale::En => "If you'd like a person to help, tap “Talk to a human” or just say so.",
    });
    Route {
        decision,
        locale,
        offer,
    }
}

/// The notice a visitor gets when handed to the human queue.
pub fn queued_notice(locale: Locale) -> Turn {
    let text = match locale {
        Locale::Zh => "已为您转接人工客服，正在排队，请稍候。客服接入后会在这里回复您。",
        Locale::En => {
            "I've passed you to a human agent. You're in the queue; an agent will reply here."
        }
    };
    Turn::new(Role::System, text)
}

impl Route {
    /// The reply for a conversation the AI has: the AI's `answer`, with an
    /// offer line, or the queue notice and the move to the queue.
    pub fn apply(self, answer: Turn) -> Reply {
        match self.decision.action {
            Action::HandoffNow | Action::LeaveMessage => {
                let why: Vec<String> = self
                    .decision
                    .reasons
                    .iter()
                    .map(|r| {
                        serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v["kind"].as_str().map(str::to_owned))
                            .unwrap_or_default()
                    })
                    .collect();
                Reply {
                    turn: queued_notice(self.locale),
                    route_to: Some((
                        ConversationState::QueuedForHuman,
                        format!("reasons={}", why.join(",")),
                    )),
                }
            }
            Action::OfferHuman if answer.source != Some(Source::Fallback) => {
                let mut turn = answer;
                if let Some(line) = self.offer {
                    turn.text = format!("{}\n\n{line}", turn.text);
                }
                Reply::answer(turn)
            }
            _ => Reply::answer(answer),
        }
    }
}
