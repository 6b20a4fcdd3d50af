//! What may be cached: the [`cacheability`] rule and stand-alone detection.
//!
//! A cached answer is replayed to *another* visitor who asks the same
//! question. So only answers that depend on nothing but the question and the
//! knowledge base qualify: produced by the regional FAQ, KB or LLM pipeline,
//! for a question that stands on its own, outside a human handoff, with no
//! personal data on either side, for a tenant that allows caching.
//!
//! Stand-alone detection errs towards "depends on context": a false "no"
//! costs one model call, a false "yes" serves a visitor an answer to someone
//! else's conversation.

use crate::pii;
use crate::session::Source;
use crate::wire::HandoffState;

use super::normalize::{normalize_question, without_greetings, words};

/// Whether answers from this source may ever be cached: only what the
/// regional FAQ, KB or LLM pipeline produced. A cache hit is not re-cached;
/// fallbacks, acknowledgements and agent replies belong to one conversation.
pub fn source_cacheable(source: Source) -> bool {
    matches!(source, Source::Faq | Source::Kb | Source::Llm)
}

/// One answered turn, as the cache policy sees it.
#[derive(Clone, Copy, Debug)]
pub struct CacheCandidate<'a> {
    /// The visitor's question, as typed.
    pub question: &'a str,
    /// The answer about to be sent.
    pub answer: &'a str,
    /// 0 for the first visitor turn of the conversation.
    pub turn_index: u32,
    /// Who produced the answer.
    pub source: Source,
    /// The conversation's handoff state.
    pub handoff: HandoffState,
    /// The tenant's setting.
    pub tenant_allows_caching: bool,
}

/// Why an answer may not be cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotCacheable {
    /// The tenant turned answer caching off.
    TenantOptOut,
    /// The conversation is queued for or with a human agent.
    InHandoff,
    /// A fallback, acknowledgement or agent answer.
    Source(Source),
    /// Nothing left of the question after normalisation.
    EmptyQuestion,
    /// The question leans on earlier turns ("那这个呢", "what about it").
    NotStandalone,
    /// The question holds personal data.
    PiiInQuestion,
    /// The answer holds personal data.
    PiiInAnswer,
}

impl NotCacheable {
    /// A stable snake_case name for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NotCacheable::TenantOptOut => "tenant_opt_out",
            NotCacheable::InHandoff => "in_handoff",
            NotCacheable::Source(_) => "source",
            NotCacheable::EmptyQuestion => "empty_question",
            NotCacheable::NotStandalone => "not_standalone",
            NotCacheable::PiiInQuestion => "pii_in_question",
            NotCacheable::PiiInAnswer => "pii_in_answer",
        }
    }
}

/// The verdict of [`cacheability`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cacheable {
    /// The answer may be stored under the question's [`super::CacheKey`].
    Yes,
    /// It may not, for this reason (the first that applies, cheapest first).
    No(NotCacheable),
}

/// Whether the answer to one turn may be cached.
pub fn cacheability(c: &CacheCandidate<'_>) -> Cacheable {
    use NotCacheable::*;
    let reason = if !c.tenant_allows_caching {
        TenantOptOut
    } else if c.handoff != HandoffState::None {
        InHandoff
    } else if !source_cacheable(c.source) {
        Source(c.source)
    } else if normalize_question(c.question).is_empty() {
        EmptyQuestion
    } else if !is_standalone(c.question, c.turn_index) {
        NotStandalone
    } else if pii::contains_pii(c.question) {
        PiiInQuestion
    } else if pii::contains_pii(c.answer) {
        PiiInAnswer
    } else {
        return Cacheable::Yes;
    };
    Cacheable::No(reason)
}

/// Chinese that points back into the conversation: demonstratives (这/那 and
/// everything built on them), 它 (but not 其它), "just now", "above", ordinal
/// picks from a list.
const ZH_DEICTIC: &[&str] = &[
    "这",
    "那",
    "刚才",
    "刚刚",
    "上面",
    "上述",
    "前面说",
    "你说的",
    "同上",
];
/// Openers that continue a previous turn.
const ZH_CONTINUERS: &[&str] = &["还有", "然后", "所以", "而且", "也"];
/// Question words: with one of these, a trailing 呢 is tone, not ellipsis.
const ZH_QUESTION_WORDS: &[&str] = &[
    "什么",
    "怎么",
    "如何",
    "为什么",
    "为啥",
    "哪",
    "几",
    "多少",
    "多久",
    "多长",
    "是否",
    "能否",
    "啥",
    "谁",
    "吗",
    "可不可以",
    "能不能",
    "是不是",
    "有没有",
    "要不要",
];
/// Whole questions that only make sense as a reply.
const BARE: &[&str] = &[
    "为什么",
    "为啥",
    "为何",
    "怎么",
    "怎么办",
    "怎么了",
    "怎么说",
    "什么意思",
    "啥意思",
    "真的",
    "是",
    "好",
    "好的",
    "可以",
    "不行",
    "不可以",
    "行",
    "多少",
    "多少钱",
    "多久",
    "哪里",
    "在哪",
    "在哪里",
    "谁",
    "什么",
    "啥",
    "什么时候",
    "确定",
    "对",
    "不对",
    "why",
    "why not",
    "how",
    "how so",
    "how come",
    "really",
    "what",
    "which",
    "which one",
    "when",
    "where",
    "who",
    "how much",
    "how long",
    "how many",
    "ok",
    "okay",
    "yes",
    "no",
    "sure",
    "what else",
    "anything else",
    "like what",
    "such as",
    "is it",
    "are you sure",
    "same",
    "me too",
    "huh",
];
/// English pronouns and demonstratives that refer back.
const EN_DEICTIC: &[&str] = &[
    "it",
    "its",
    "this",
    "these",
    "those",
    "that",
    "they",
    "them",
    "their",
    "he",
    "she",
    "him",
    "her",
    "else",
    "above",
    "previous",
    "earlier",
    "mentioned",
    "said",
];
/// English openers that continue a previous turn.
const EN_CONTINUERS: &[&str] = &[
    "and",
    "then",
    "so",
    "also",
    "but",
    "what about",
    "how about",
];
/// Words after which `that` introduces a clause rather than pointing.
const THAT_CLAUSE_NEXT: &[&str] = &[
    "i", "you", "we", "they", "he", "she", "it", "my", "your", "the", "a", "an",
];

/// Whether a question can be understood without the conversation before it.
///
/// The first turn always can. Later turns cannot if they point back
/// (这个/那个/它/刚才/第二个, it/this/that/they...), open as a continuation
/// (还有/然后/那…, and/so/what about...), are an elliptical `X呢` without a
/// question word (`运费呢` = "and the shipping fee?"), or are nothing but a
/// bare reply (`为什么`, `why?`, `真的吗`, `how much`). Dummy `it` in
/// `is it possible to…` / `how long does it take to…` does not count, nor
/// does `that` opening a clause (`I heard that you…`).
pub fn is_standalone(question: &str, turn_index: u32) -> bool {
    if turn_index == 0 {
        return true;
    }
    let s = without_greetings(question);
    if s.is_empty() {
        return false;
    }
    if BARE.contains(&normalize_question(question).as_str()) {
        return false;
    }
    // Chinese.
    let points_back = ZH_DEICTIC.iter().any(|d| s.contains(d))
        || s.match_indices('它').any(|(i, _)| !s[..i].ends_with('其'))
        || picks_from_a_list(&s);
    if points_back || ZH_CONTINUERS.iter().any(|p| s.starts_with(p)) {
        return false;
    }
    if let Some(body) = s.strip_suffix('呢')
        && !ZH_QUESTION_WORDS.iter().any(|w| body.contains(w))
    {
        return false;
    }
    // English.
    let w = words(&s);
    if EN_CONTINUERS.iter().any(|c| starts_with_words(&w, c)) {
        return false;
    }
    !w.iter().enumerate().any(|(i, &word)| {
        let next = w.get(i + 1).copied().unwrap_or("");
        let after = w.get(i + 2).copied().unwrap_or("");
        match word {
            "it" => !(matches!(next, "possible" | "ok" | "okay") || after == "to"),
            "that" => !THAT_CLAUSE_NEXT.contains(&next),
            _ => EN_DEICTIC.contains(&word),
        }
    })
}

/// `第二个`, `第1种`, `第三款`: a pick from options given earlier.
fn picks_from_a_list(s: &str) -> bool {
    s.match_indices('第').any(|(i, _)| {
        let mut rest = s[i..].chars().skip(1);
        let numeral = rest
            .next()
            .is_some_and(|c| "一二三四五六七八九十两1234567890".contains(c));
        numeral && rest.next().is_some_and(|c| "个种款件条项张".contains(c))
    })
}

fn starts_with_words(w: &[&str], phrase: &str) -> bool {
    let p = words(phrase);
    w.len() >= p.len() && w.iter().zip(&p).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_follow_ups_zh() {
        for q in [
            "怎么退款",
            "可以开发票吗",
            "运费怎么算呢",
            "其它支付方式有哪些",
            "退款",
            "发货之前可以取消吗",
        ] {
            assert!(is_standalone(q, 3), "{q}");
        }
        for q in [
            "这个可以退吗",
            "那个多少钱",
            "它支持快充吗",
            "那怎么退款",
            "还有呢",
            "运费呢",
            "为什么？",
            "为什么",
            "真的吗",
            "刚才说的运费是多少",
            "也可以退吗",
            "然后呢",
        ] {
            assert!(!is_standalone(q, 3), "{q}");
            assert!(is_standalone(q, 0), "first turn: {q}");
        }
    }

    #[test]
    fn standalone_follow_ups_en() {
        for q in [
            "How do I get a refund?",
            "Is it possible to change my address?",
            "How long does it take to ship to Canada?",
            "I read that you ship overseas; which countries?",
            "What payment methods do you accept?",
        ] {
            assert!(is_standalone(q, 2), "{q}");
        }
        for q in [
            "Why?",
            "what about shipping",
            "how much is it",
            "Can I return this one?",
            "and the warranty",
            "Do they ship today?",
            "ok",
            "what else",
            "is that true?",
        ] {
            assert!(!is_standalone(q, 2), "{q}");
        }
    }

    fn candidate<'a>(q: &'a str, a: &'a str) -> CacheCandidate<'a> {
        CacheCandidate {
            question: q,
            answer: a,
            turn_index: 1,
            source: Source::Kb,
            handoff: HandoffState::None,
            tenant_allows_caching: true,
        }
    }

    #[test]
    fn cacheability_rules() {
        let ok = candidate("怎么申请退款？", "在订单页点击“申请退款”即可。");
        assert_eq!(cacheability(&ok), Cacheable::Yes);
        for src in [Source::Faq, Source::Llm] {
            assert_eq!(
                cacheability(&CacheCandidate { source: src, ..ok }),
                Cacheable::Yes
            );
        }
        for src in [Source::Cache, Source::Fallback, Source::Ack, Source::Agent] {
            assert_eq!(
                cacheability(&CacheCandidate { source: src, ..ok }),
                Cacheable::No(NotCacheable::Source(src))
            );
        }
        for h in [
            HandoffState::Offered,
            HandoffState::Queued,
            HandoffState::WithAgent,
        ] {
            assert_eq!(
                cacheability(&CacheCandidate { handoff: h, ..ok }),
                Cacheable::No(NotCacheable::InHandoff)
            );
        }
        let no = |c: CacheCandidate<'_>| match cacheability(&c) {
            Cacheable::No(r) => Some(r),
            Cacheable::Yes => None,
        };
        assert_eq!(
            no(CacheCandidate {
                tenant_allows_caching: false,
                ..ok
            }),
            Some(NotCacheable::TenantOptOut)
        );
        assert_eq!(
            no(candidate("那这个呢", "…")),
            Some(NotCacheable::NotStandalone)
        );
        assert_eq!(
            no(candidate("？？？", "…")),
            Some(NotCacheable::EmptyQuestion)
        );
        assert_eq!(
            no(candidate("我的手机号13800138000能改吗", "可以")),
            Some(NotCacheable::PiiInQuestion)
        );
        assert_eq!(
            no(candidate(
                "How do I contact support?",
                "Mail help@example.com."
            )),
            Some(NotCacheable::PiiInAnswer)
        );
        assert_eq!(
            no(candidate("How do I contact support?", "Use the form.")),
            None
        );
        assert_eq!(NotCacheable::PiiInAnswer.as_str(), "pii_in_answer");
    }
}
