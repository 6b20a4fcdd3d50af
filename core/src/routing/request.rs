//! Is the visitor asking for a person? Verb + someone ("转一下人工",
//! "talk to a human"), someone alone in a short clause ("人工！！", "agent
//! please"), a fixed phrase ("转人工", "live agent"), or refusing the bot
//! ("不要机器人", "no bots") — unless a wish-negation governs it
//! ("不用转人工", "I don't want an agent"), which makes it a refusal.

use super::lexicon::{Hit, Kind, Scan};

/// How far (in units: a CJK character or an English word) a negation
/// reaches forward to a request it cancels.
pub(super) const REQUEST_NEGATION_REACH: usize = 5;

/// What one hit says about wanting a human.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Want {
    /// An explicit request for a person.
    Human,
    /// An explicit refusal ("不用转人工", "no need for a human").
    Declined,
    /// Nothing either way.
    Nothing,
}

/// Words that may stand between a verb and the person asked for.
const VERB_GAP: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "with",
    "me",
    "us",
    "your",
    "you",
    "some",
    "one",
    "of",
    "please",
    "pls",
    "plz",
    "real",
    "actual",
    "live",
    "proper",
    "another",
    "different",
    "other",
    "through",
    "一个",
    "一下",
    "一位",
    "个",
    "下",
    "你们的",
    "你们",
    "您们",
    "贵公司",
    "贵司",
    "真正的",
    "的",
    "位",
    "帮我",
    "给我",
    "我",
    "一",
    "们",
    "其他",
    "真正",
    "human",
];

/// Modifiers that make any staff noun a person ("真正的客服", "a real rep").
const HUMAN_MODIFIERS: &[&str] = &["真正", "活的", "真人", "real", "actual", "live", "human"];

/// Words that may surround the person asked for in a clause of its own.
const SHORT_CLAUSE: &[&str] = &[
    "please", "pls", "plz", "now", "the", "a", "an", "hi", "hello", "hey", "ok", "okay", "just",
    "me", "sir", "thanks", "thank", "you", "asap", "i", "want", "need", "请", "麻烦", "你好",
    "您好", "啊", "呀", "吧", "呢", "嘛", "哦", "喔", "了", "的", "我", "要", "快点", "快", "谢谢",
    "马上", "赶紧",
];

/// Counts units in `s`: one per CJK character, one per run of other letters or digits.
pub(super) fn units(s: &str) -> usize {
    let mut n = 0;
    let mut in_word = false;
    for c in s.chars() {
        if crate::types::is_cjk(c) {
            n += 1;
            in_word = false;
        } else if c.is_alphanumeric() || c == '\'' || c == '*' {
            if !in_word {
                n += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    n
}

/// Whether `s` holds only whitespace, punctuation and words from `fillers`.
pub(super) fn only_filler(s: &str, fillers: &[&str]) -> bool {
    only_filler_or(s, fillers, "")
}

/// [`only_filler`], with `extra` (when not empty) also counting as filler.
fn only_filler_or(s: &str, fillers: &[&str], extra: &str) -> bool {
    let mut rest = s;
    'outer: while let Some(c) = rest.chars().next() {
        if !(c.is_alphanumeric() || crate::types::is_cjk(c)) {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let extra = (!extra.is_empty()).then_some(extra);
        for f in fillers.iter().chain(extra.as_ref()) {
            if let Some(after) = rest.strip_prefix(f) {
                let ascii = f.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric);
                if ascii && after.starts_with(|ch: char| ch.is_ascii_alphanumeric()) {
                    continue;
                }
                rest = after;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Whether a negation of kind `kinds` sits in the same clause before byte
/// `at`, at most `reach` units before it. Only the nearest negation counts.
pub(super) fn negated_before(
    text: &str,
    hits: &[Hit],
    clause: usize,
    at: usize,
    reach: usize,
    blocking_only: bool,
) -> bool {
    for h in hits.iter().rev() {
        if h.end > at {
            continue;
        }
        if h.clause != clause {
            return false;
        }
        let is_neg = h.kind == Kind::Negator || (!blocking_only && h.kind == Kind::SoftNegator);
        if is_neg {
            return text.get(h.end..at).is_some_and(|gap| units(gap) <= reach);
        }
    }
    false
}

/// What hit `k` (a `Request`, `Noun` or `AntiBot`) says about wanting a human.
pub(super) fn want(text: &str, scan: &Scan, k: usize) -> Want {
    let hits = &scan.hits;
    let Some(h) = hits.get(k) else {
        return Want::Nothing;
    };
    let before = hits.get(..k).unwrap_or(&[]);
    let negated =
        |at: usize| negated_before(text, before, h.clause, at, REQUEST_NEGATION_REACH, true);
    match h.kind {
        Kind::Request => {
            if negated(h.start) {
                Want::Declined
            } else {
                Want::Human
            }
        }
        Kind::AntiBot => {
            if negated(h.start) {
                Want::Human
            } else {
                Want::Nothing
            }
        }
        Kind::Noun => match asked_from(text, scan, k) {
            Some(from) if negated(from) => Want::Declined,
            Some(_) => Want::Human,
            None if negated(h.start) => Want::Declined,
            None => Want::Nothing,
        },
        _ => Want::Nothing,
    }
}

/// For a `Noun` hit: where the request for it starts (its verb, or the noun
/// itself when it stands alone in its clause), if it is asked for at all.
fn asked_from(text: &str, scan: &Scan, k: usize) -> Option<usize> {
    let h = scan.hits.get(k)?;
    let verb = scan
        .hits
        .get(..k)?
        .iter()
        .rev()
        .find(|p| !matches!(p.kind, Kind::Neutral | Kind::Intensifier));
    if let Some(v) = verb {
        let strength = match v.kind {
            Kind::Verb => v.weight,
            Kind::Complaint => 2,
            _ => 0,
        };
        let gap = text.get(v.end..h.start).unwrap_or("x");
        let needed = if HUMAN_MODIFIERS.iter().any(|m| gap.contains(m)) {
            1
        } else {
            h.weight
        };
        if v.clause == h.clause && strength >= needed && only_filler(gap, VERB_GAP) {
            return Some(v.start);
        }
    }
    if h.weight <= 1 {
        let (cs, ce) = scan.clause_span(h.clause, text.len());
        let left = text.get(cs..h.start).unwrap_or("x");
        let right = text.get(h.end..ce).unwrap_or("x");
        // The noun itself may repeat: "人工人工人工", "agent agent".
        let me = text.get(h.start..h.end).unwrap_or("");
        if only_filler_or(left, SHORT_CLAUSE, me) && only_filler_or(right, SHORT_CLAUSE, me) {
            return Some(h.start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_count_cjk_chars_and_words() {
        assert_eq!(units("你好 world, it's"), 4);
        assert_eq!(units(" ,!"), 0);
    }

    #[test]
    fn fillers() {
        assert!(only_filler(" to a ", VERB_GAP));
        assert!(only_filler("一下", VERB_GAP));
        assert!(!only_filler(" travel ", VERB_GAP));
        assert!(
            !only_filler("tom", SHORT_CLAUSE),
            "'to' must not match inside 'tom'"
        );
        assert!(only_filler("!!!", SHORT_CLAUSE));
    }
}
