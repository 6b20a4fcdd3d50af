//! Per-message scoring: walks the lexicon hits of a normalised message and
//! turns them into emotion, urgency and risk scores plus the categorical
//! facts (explicit request, refusal, bot question, complaint, threat).
//!
//! Combination rule (a soft maximum): the strongest contribution counts in
//! full, every further one at half, so one strong word decides the order of
//! magnitude and more words raise it without running away.

use alloc::string::String;
use alloc::vec::Vec;

use super::lexicon::{Kind, Scan, scan};
use super::normalize::{Normalized, fold_char, lower, normalize};
use super::request::{REQUEST_NEGATION_REACH, Want, negated_before, units, want};

/// How far (in units) a negation reaches forward to an emotion word.
const EMOTION_NEGATION_REACH: usize = 3;
/// How far (in units) an intensifier reaches forward.
const INTENSIFIER_REACH: usize = 2;

/// What a complaint hit amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum ComplaintKind {
    /// "怎么投诉", "how do I file a complaint?"
    Question,
    /// "我要投诉", "I want to make a complaint"
    Stated,
    /// A legal, regulator, police, media or chargeback threat.
    Threat,
}

/// Everything the decision needs to know about one message.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    pub explicit: bool,
    pub declined: bool,
    pub asked_bot: bool,
    pub emotion: u8,
    pub urgency: u8,
    pub risk: u8,
    pub complaint: Option<ComplaintKind>,
    pub security: bool,
    pub money: bool,
    pub tenant_keyword: Option<String>,
}

impl Analysis {
    /// Emotion + risk + urgency, clamped: how hard this one message pushes
    /// towards a person.
    pub fn pressure(&self) -> u8 {
        clamp(u32::from(self.emotion) + u32::from(self.risk) + u32::from(self.urgency))
    }
}

fn clamp(v: u32) -> u8 {
    u8::try_from(v.min(100)).unwrap_or(100)
}

/// The soft maximum of contributions given in tenths of a point.
fn combine(mut parts: Vec<u32>) -> u8 {
    parts.sort_unstable_by(|a, b| b.cmp(a));
    let mut it = parts.into_iter();
    let first = it.next().unwrap_or(0);
    let rest: u32 = it.fold(0u32, |acc, v| acc.saturating_add(v));
    clamp(first.saturating_add(rest / 2) / 10)
}

/// Analyses one message. `keywords` are the tenant's always-a-human words.
pub(super) fn analyze(text: &str, keywords: &[String]) -> Analysis {
    let norm = normalize(text);
    let t = norm.text.as_str();
    let sc = scan(t);
    let mut a = Analysis::default();
    let mut emotion: Vec<u32> = Vec::new();
    let mut urgency: Vec<u32> = Vec::new();
    let mut risk: u32 = 0;

    for (k, h) in sc.hits.iter().enumerate() {
        let before = sc.hits.get(..k).unwrap_or(&[]);
        let negated = negated_before(t, before, h.clause, h.start, EMOTION_NEGATION_REACH, false);
        let w = u32::from(h.weight) * 10;
        let scaled = if negated {
            w
        } else {
            w * intensity(t, &sc, k) / 10
        };
        match h.kind {
            Kind::Anger => emotion.push(if negated { w / 2 } else { scaled }),
            Kind::Frustration if !negated => emotion.push(scaled),
            Kind::Positive if negated => emotion.push(w),
            Kind::Urgency if !negated => urgency.push(scaled),
            Kind::Security if !negated => {
                a.security = true;
                risk += w;
            }
            Kind::Money => {
                a.money = true;
                risk += w;
            }
            Kind::Determination if !negated => risk += w,
            Kind::Complaint | Kind::Threat if !negated => {
                risk += w;
                let kind = if h.kind == Kind::Threat {
                    ComplaintKind::Threat
                } else if is_question(t, &sc, h.clause) {
                    ComplaintKind::Question
                } else {
                    ComplaintKind::Stated
                };
                a.complaint = a.complaint.max(Some(kind));
            }
            Kind::BotQuestion => a.asked_bot = true,
            Kind::Request | Kind::Noun | Kind::AntiBot => match want(t, &sc, k) {
                Want::Human => a.explicit = true,
                Want::Declined => a.declined = true,
                Want::Nothing if h.kind == Kind::AntiBot => emotion.push(w),
                Want::Nothing => {}
            },
            _ => {}
        }
    }
    emotion.extend(style_points(&norm));
    a.emotion = combine(emotion);
    a.urgency = combine(urgency);
    a.risk = clamp(risk / 10);
    a.tenant_keyword = tenant_keyword(t, &sc, keywords);
    a
}

/// The multiplier (in tenths) an intensifier or diminisher right before hit `k` applies.
fn intensity(t: &str, sc: &Scan, k: usize) -> u32 {
    let Some(h) = sc.hits.get(k) else { return 10 };
    let Some(p) = k.checked_sub(1).and_then(|j| sc.hits.get(j)) else {
        return 10;
    };
    let near = p.clause == h.clause
        && t.get(p.end..h.start)
            .is_some_and(|g| units(g) <= INTENSIFIER_REACH);
    match p.kind {
        Kind::Intensifier if near => 15,
        Kind::Diminisher if near => 5,
        _ => 10,
    }
}

/// Whether clause `i` asks something ("怎么投诉", "how do I complain?").
fn is_question(t: &str, sc: &Scan, i: usize) -> bool {
    let (s, e) = sc.clause_span(i, t.len());
    let clause = t.get(s..e).unwrap_or("");
    let ends_with_q = t
        .get(..e)
        .is_some_and(|before| before.trim_end().ends_with('?'));
    const ZH: &[&str] = &[
        "怎么", "如何", "怎样", "哪里", "在哪", "哪儿", "吗", "流程", "能否", "可以",
    ];
    const EN: &[&str] = &[
        "how", "where", "what", "can", "could", "may", "should", "is", "are", "do", "does", "who",
        "which", "when",
    ];
    let first_word = clause
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty());
    ends_with_q
        || ZH.iter().any(|q| clause.contains(q))
        || first_word.is_some_and(|w| EN.contains(&w))
}

/// Emotion carried by typography: runs of ! and ?, words in capitals,
/// letters held down ("啊啊啊", "pleeease"). In tenths of a point.
fn style_points(n: &Normalized) -> Vec<u32> {
    let mut out = Vec::new();
    let (mut best, mut excl, mut ques) = (0u32, 0u32, 0u32);
    let (mut run_char, mut run_len, mut held) = ('\0', 0u32, false);
    for c in n.text.chars() {
        match c {
            '!' => excl += 1,
            '?' => ques += 1,
            _ => {
                flush(excl, ques, &mut best);
                excl = 0;
                ques = 0;
            }
        }
        if c == run_char {
            run_len += 1;
        } else {
            run_char = c;
            run_len = 1;
        }
        let letter = c.is_alphabetic() && !matches!(c, '哈' | '呵' | '嘻' | '嘿' | 'w' | 'z' | 'h');
        if run_len >= 3 && letter {
            held = true;
        }
    }
    flush(excl, ques, &mut best);
    if best > 0 {
        out.push(best * 10);
    }
    let shouting = n.caps_words >= 2 && u32::from(n.caps_words) * 2 >= u32::from(n.words);
    if shouting {
        out.push(200);
    } else if n.caps_words > 0 {
        out.push(u32::from(n.caps_words.min(2)) * 80);
    }
    if held {
        out.push(80);
    }
    out
}

/// Points for one run of `excl` exclamation and `ques` question marks.
fn flush(excl: u32, ques: u32, best: &mut u32) {
    let p = match (excl, ques) {
        (e, q) if e > 0 && q > 0 => 15,
        (e, _) if e >= 3 => 15,
        (2, _) => 10,
        (_, q) if q >= 3 => 10,
        (_, 2) => 5,
        _ => 0,
    };
    *best = (*best).max(p);
}

/// The first tenant keyword present (and not negated) in the message.
fn tenant_keyword(t: &str, sc: &Scan, keywords: &[String]) -> Option<String> {
    for kw in keywords {
        let folded: String = kw.trim().chars().map(|c| lower(fold_char(c))).collect();
        if folded.is_empty() {
            continue;
        }
        let ascii_edges = (
            folded.starts_with(|c: char| c.is_ascii_alphanumeric()),
            folded.ends_with(|c: char| c.is_ascii_alphanumeric()),
        );
        for (at, m) in t.match_indices(folded.as_str()) {
            let end = at + m.len();
            let bad_left = ascii_edges.0 && t[..at].ends_with(|c: char| c.is_ascii_alphanumeric());
            let bad_right =
                ascii_edges.1 && t[end..].starts_with(|c: char| c.is_ascii_alphanumeric());
            if bad_left || bad_right {
                continue;
            }
            let clause = sc.clause_of(at);
            let before = sc
                .hits
                .get(..sc.hits.partition_point(|h| h.start < at))
                .unwrap_or(&[]);
            if !negated_before(t, before, clause, at, REQUEST_NEGATION_REACH, false) {
                return Some(kw.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Analysis {
        analyze(text, &[])
    }

    #[test]
    fn calm_questions_score_nothing() {
        for t in [
            "我忘记密码了怎么办",
            "how do I reset my password",
            "没问题，谢谢",
            "no problem, thanks!",
            "客服在吗",
        ] {
            let x = a(t);
            assert_eq!((x.emotion, x.urgency, x.explicit), (0, 0, false), "{t}");
        }
    }

    #[test]
    fn negation_flips_cancels_or_halves() {
        assert!(a("不太满意").emotion >= 30, "a negated good word is bad");
        assert_eq!(a("满意").emotion, 0);
        assert_eq!(a("not urgent").urgency, 0);
        assert!(a("urgent").urgency > 0);
        assert_eq!(a("我不急").urgency, 0);
        assert!(a("我很急").urgency > a("我急").urgency);
        assert_eq!(a("I'm not frustrated").emotion, 0);
        let insult = a("you are a scam").emotion;
        let doubted = a("this is not a scam, right").emotion;
        assert!(
            doubted > 0 && doubted < insult,
            "a negated insult is halved"
        );
    }

    #[test]
    fn intensity_and_style_raise_emotion() {
        assert!(a("太差了").emotion > a("差").emotion);
        assert!(a("extremely frustrated").emotion > a("frustrated").emotion);
        assert!(a("有点烦").emotion < a("烦").emotion, "diminishers lower");
        assert!(a("垃圾！！！").emotion > a("垃圾").emotion);
        assert!(a("THIS IS RIDICULOUS").emotion > a("this is ridiculous").emotion);
        assert!(a("why??? ok").emotion > a("why? ok").emotion);
        assert!(a("啊啊啊啊 不行").emotion > a("不行").emotion);
        assert_eq!(a("哈哈哈哈").emotion, 0, "laughter is not frustration");
    }

    #[test]
    fn requests_and_their_negations() {
        for t in [
            "转人工",
            "人工！！",
            "talk to a human",
            "agent",
            "AGENT!!!",
            "I want a person",
            "不要机器人",
            "no bots please",
        ] {
            assert!(a(t).explicit, "{t}");
        }
        for t in [
            "不用转人工",
            "no need for a human",
            "I don't want to talk to an agent",
            "我不想找人工",
        ] {
            let x = a(t);
            assert!(!x.explicit && x.declined, "{t}");
        }
        for t in [
            "my travel agent booked it",
            "人工智能是什么",
            "human error",
            "your agent told me to wait",
            "我已经跟客服说过了",
        ] {
            assert!(!a(t).explicit, "{t}");
        }
        assert!(
            a("怎么还没转人工").explicit,
            "a state negation is not a refusal"
        );
        assert!(a("why can't I talk to a human").explicit);
        assert!(a("你是机器人吗").asked_bot && !a("你是机器人吗").explicit);
    }

    #[test]
    fn complaints_stated_asked_and_threatened() {
        assert_eq!(a("我要投诉").complaint, Some(ComplaintKind::Stated));
        assert_eq!(a("怎么投诉").complaint, Some(ComplaintKind::Question));
        assert_eq!(
            a("how do I file a complaint?").complaint,
            Some(ComplaintKind::Question)
        );
        assert_eq!(
            a("I'll report you to the BBB").complaint,
            Some(ComplaintKind::Threat)
        );
        assert_eq!(a("我要去12315").complaint, Some(ComplaintKind::Threat));
        assert_eq!(a("不是投诉").complaint, None);
        assert_eq!(
            a("please be polite").complaint,
            None,
            "no fuzzy match to 'police'"
        );
    }
}
