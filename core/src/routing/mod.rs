//! Routing between the AI and people: per visitor message, decide whether
//! to stay with the AI, offer a human, or hand off now — and say why.
//!
//! Chinese and English (and the two mixed) are read with the same machinery:
//!
//! 1. **Normalise** (`normalize.rs`): full-width ASCII and CJK punctuation to
//!    ASCII, lowercase, whitespace collapsed and dropped between ideographs
//!    (`转 人 工` = `转人工`). Only the first 2,000 characters are scored.
//! 2. **Scan** (`lexicon.rs`): a longest-match (maximal munch) tokenizer over
//!    one compile-time-sorted lexicon (`words.rs`) of anger, frustration,
//!    urgency, complaint, threat, security, money and insistence words,
//!    intensifiers (`太`, `非常`, "very"), diminishers (`有点`, "a bit"),
//!    negations, request verbs and nouns, and shadows (`人工智能` is not a
//!    request for `人工`, `差不多` is not `差`). English matches whole words,
//!    with light typo tolerance (optimal string alignment distance).
//! 3. **Score** (`score.rs`), in the spirit of lexicon-and-rules sentiment
//!    analysers such as VADER (Hutto & Gilbert, ICWSM 2014): a negation
//!    within three units (a CJK character or an English word) cancels a
//!    frustration or urgency word (`不急`, "not urgent"), halves an insult,
//!    and turns a good word bad (`不太满意`, "not helpful"); `没问题` has no
//!    negative word at all. An intensifier right before a word multiplies it
//!    by 1.5, a diminisher by 0.5. `!!`/`!!!`/`???`, words in CAPITALS and
//!    held letters add emotion. Several contributions combine as a soft
//!    maximum (the strongest in full, the rest at half).
//!    *Emotion* (anger + frustration + style), *urgency* and *risk* (money,
//!    security, complaints, insistence) are 0..=100 each; their clamped sum
//!    is the message's *pressure*.
//! 4. **Request detection** (`request.rs`): a fixed phrase (`转人工`, "live
//!    agent"), a verb + someone with only filler between (`转一下人工`,
//!    "talk to a human"; "travel agent" is not), someone alone in a clause
//!    (`人工！！`, "agent please"), or a refused bot (`不要机器人`, "no
//!    bots"). A wish-negation within five units (`不用`, `不想`, "don't",
//!    "no need") makes it a *refusal*; state negations (`还没`, "can't") do
//!    not (`怎么还没转人工`, "why can't I talk to a human" are requests).
//!
//! # Decision rules ([`decide()`])
//!
//! The escalation *level* is this message's pressure plus
//! `carry_percent` (default 60 %) of the previous turn's level, kept in
//! [`History::frustration`]; mild annoyance (pressure about 20) three turns
//! in a row therefore reaches the default offer threshold of 40.
//!
//! | rule | action |
//! |---|---|
//! | explicit request, tenant keyword, stated complaint (`我要投诉`), threat (12315, lawyer, police, chargeback, BBB, media) | hand off |
//! | level ≥ `handoff_threshold` (70) | hand off |
//! | level ≥ `offer_threshold` (40), asked whether it is a bot, asked how to complain | offer |
//! | `max_fallbacks_in_row` (3) AI fallbacks in a row / twice that | offer / hand off |
//! | `offer_after_turns` AI turns (0 = off) | offer |
//!
//! Then, in order: a visitor who refuses a human in this message
//! (`不用转人工`) stays with the AI unless the same message also asks
//! explicitly, threatens or hits a tenant keyword; an offer is not repeated
//! within `reoffer_after_turns` turns of the last one
//! ([`Reason::OfferRecentlyMade`]); when the tenant has no live agents
//! (`handoff_enabled = false`) a handoff becomes [`Action::LeaveMessage`]
//! and an offer is dropped ([`Reason::HandoffDisabled`]); outside business
//! hours a handoff becomes [`Action::LeaveMessage`] and an offer stays an
//! offer whose UI should propose leaving a message (both carry
//! [`Reason::OutsideBusinessHours`]).
//!
//! Everything is pure and deterministic: [`History::update`] folds a
//! decision into the next turn's history; nothing reads a clock.

mod config;
mod decide;
mod lexicon;
mod normalize;
mod request;
mod score;
mod words;

#[cfg(test)]
mod fixture_tests;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

pub use config::{MAX_KEYWORD_CHARS, MAX_TENANT_KEYWORDS, RoutingConfig};
pub use decide::{History, decide};
pub use normalize::MAX_SCORED_CHARS;

/// What to do with the conversation after this visitor message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The AI answers.
    StayAi,
    /// The AI answers and offers a human (a button or a line in the reply).
    OfferHuman,
    /// Put the visitor in the human queue now.
    HandoffNow,
    /// A handoff is due but no one can take it (outside business hours, or
    /// the tenant has no live agents): ask the visitor to leave a message.
    LeaveMessage,
}

/// Why a decision came out as it did; each variant is meant to be shown to
/// an agent or in analytics. No variant carries the visitor's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The visitor asked for a person.
    ExplicitRequest,
    /// The visitor said they do not want a person.
    DeclinedHuman,
    /// The visitor asked whether they are talking to a bot.
    AskedIfHuman,
    /// Anger or frustration in the message (emotion score, 0..=100).
    Anger {
        /// The message's emotion score.
        score: u8,
    },
    /// Urgency in the message (0..=100).
    Urgency {
        /// The message's urgency score.
        score: u8,
    },
    /// A complaint; `threat` for legal, regulator, police, media or chargeback threats.
    Complaint {
        /// Whether it is a threat rather than a plain complaint.
        threat: bool,
    },
    /// Fraud, a stolen card or account, unauthorised use.
    AccountSecurity,
    /// Money at stake: refunds, charges, compensation.
    Money,
    /// The AI fell back this many times in a row.
    RepeatedFallbacks {
        /// Fallbacks in a row.
        n: u8,
    },
    /// One of the tenant's always-a-human keywords.
    TenantKeyword {
        /// The keyword as configured.
        keyword: String,
    },
    /// Frustration carried over several turns reached a threshold this
    /// message alone would not have.
    BuildingFrustration {
        /// The escalation level reached.
        level: u8,
    },
    /// The conversation has gone on for this many AI turns.
    LongConversation {
        /// AI turns so far.
        turns: u32,
    },
    /// An offer was due but one was made recently.
    OfferRecentlyMade,
    /// No agents on duty: a handoff becomes a message.
    OutsideBusinessHours,
    /// The tenant has no live agents.
    HandoffDisabled,
}

/// What one message says, before history and configuration are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// The visitor asked for a person (and did not negate it).
    pub explicit_human: bool,
    /// The visitor refused a person ("不用转人工").
    pub declined_human: bool,
    /// The visitor asked whether kefu is a bot.
    pub asked_if_human: bool,
    /// Anger and frustration, 0..=100.
    pub emotion: u8,
    /// Urgency, 0..=100.
    pub urgency: u8,
    /// Money, security, complaint and insistence stakes, 0..=100.
    pub risk: u8,
    /// A complaint or threat was made or asked about.
    pub complaint: bool,
    /// A legal, regulator, police, media or chargeback threat was made.
    pub threat: bool,
    /// The message's reasons, for display.
    pub reasons: Vec<Reason>,
}

/// The routing decision for one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why: the message's reasons first, then history and availability
    /// reasons, in the order the rules in the module doc consider them.
    pub reasons: Vec<Reason>,
    /// The message's emotion score, 0..=100.
    pub emotion: u8,
    /// The escalation level (this message's pressure plus carried
    /// frustration), 0..=100; [`History::update`] carries it forward.
    pub level: u8,
}

/// Emotion or urgency below this is not worth a reason.
const REASON_FLOOR: u8 = 20;

/// Reads one message: explicit request, emotion, urgency, complaint and
/// their reasons. `cfg` supplies the tenant keywords.
pub fn signals(text: &str, cfg: &RoutingConfig) -> Signals {
    let a = score::analyze(text, &cfg.tenant_keywords);
    let reasons = message_reasons(&a);
    Signals {
        explicit_human: a.explicit,
        declined_human: a.declined,
        asked_if_human: a.asked_bot,
        emotion: a.emotion,
        urgency: a.urgency,
        risk: a.risk,
        complaint: a.complaint.is_some(),
        threat: a.complaint == Some(score::ComplaintKind::Threat),
        reasons,
    }
}

/// The reasons one analysed message gives, in a fixed order.
fn message_reasons(a: &score::Analysis) -> Vec<Reason> {
    let mut r = Vec::new();
    if a.explicit {
        r.push(Reason::ExplicitRequest);
    }
    if a.declined {
        r.push(Reason::DeclinedHuman);
    }
    if let Some(k) = &a.tenant_keyword {
        r.push(Reason::TenantKeyword { keyword: k.clone() });
    }
    if let Some(kind) = a.complaint {
        r.push(Reason::Complaint {
            threat: kind == score::ComplaintKind::Threat,
        });
    }
    if a.security {
        r.push(Reason::AccountSecurity);
    }
    if a.emotion >= REASON_FLOOR {
        r.push(Reason::Anger { score: a.emotion });
    }
    if a.urgency >= REASON_FLOOR {
        r.push(Reason::Urgency { score: a.urgency });
    }
    if a.money {
        r.push(Reason::Money);
    }
    if a.asked_bot {
        r.push(Reason::AskedIfHuman);
    }
    r
}
