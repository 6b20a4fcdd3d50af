//! Question normalisation for cache lookup.
//!
//! Two questions that a support agent would answer with the same words
//! should normalise to the same string; two that need different answers must
//! not. The steps, in order:
//!
//! 1. Unicode NFKC ([UAX #15]): full-width `Ｑ１？` becomes `Q1?`, `ﬁ` becomes
//!    `fi`, compatibility ideographs become their unified forms.
//! 2. Lower case, per character (no locale-specific rules).
//! 3. Punctuation and symbols become spaces: ASCII, Latin-1, General
//!    Punctuation, CJK Symbols and Punctuation (`，。？！、；：“”‘’（）《》【】…`),
//!    the vertical/small/full-width forms, arrows, maths, dingbats and emoji.
//!    Apostrophes and invisible format characters are deleted instead, so
//!    `what's` is `whats`, not `what s`.
//! 4. NFKC again, since deleting characters can bring a letter and a
//!    combining mark together.
//! 5. Whitespace collapses to single spaces, and a space next to a Han or
//!    kana character is dropped: Chinese does not separate words, so
//!    `我的 order 没到` and `我的order没到` are the same question.
//! 6. Fillers are stripped until none is left (but never down to nothing):
//!    - anywhere: the English words `please`, `pls`, `plz`;
//!    - leading: `hi`, `hello`, `hey` (+ `there`), `你好`, `您好`, `请问`,
//!      `哈喽`, `嗨`, `在吗`, `在么`, `打扰一下`, `麻烦问一下`, `我想问一下`,
//!      `想问一下`, `问一下`;
//!    - trailing: `thanks`, `thank you`, `thank u`, `thx`, `谢谢(你|您)`,
//!      `多谢`, `谢了`, and the sentence-final particles `吗 呢 啊 呀 吧 哦 嘛 啦 哈`,
//!      and `么` unless it ends `什么 怎么 这么 那么 多么 要么`.
//!
//! # The particle policy
//!
//! 呢/啊/呀/哦/嘛/啦/哈 only set the tone. 吗 (and particle 么) turns a statement
//! into a yes/no question, and 吧 into a request for confirmation, but a
//! visitor who types `可以退款` in a support chat is asking `可以退款吗`, and the
//! knowledge base answers both the same way, so they are dropped too.
//! The trade-off: `附近有网吧` loses the 吧 of 网吧 and `你好像…` loses `你好`.
//! That is acceptable because the rule to worry about is one that *merges*
//! two real questions with different answers; a mangled key that no other
//! question produces only costs a cache miss. Negations (`不`, `没`) and
//! question words are never touched, so `可以退款` and `不可以退款` stay apart.
//!
//! The result is deterministic and idempotent: normalising a normalised
//! question changes nothing (checked by a property test).
//!
//! [UAX #15]: https://www.unicode.org/reports/tr15/

use alloc::string::String;
use alloc::vec::Vec;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::types::is_cjk;

/// Normalises a visitor's question for cache lookup (see the module docs).
pub fn normalize_question(text: &str) -> String {
    strip_fillers(canonical(text), true)
}

/// Steps 1-5 and the leading/anywhere fillers of step 6, keeping trailing
/// particles: what stand-alone detection reads (`运费呢` must keep its 呢).
pub(crate) fn without_greetings(text: &str) -> String {
    strip_fillers(canonical(text), false)
}

/// Steps 1-5.
fn canonical(text: &str) -> String {
    let lowered: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let mut spaced = String::with_capacity(lowered.len());
    for c in lowered.chars() {
        match class(c) {
            Class::Keep => spaced.push(c),
            Class::Space => spaced.push(' '),
            Class::Delete => {}
        }
    }
    let spaced = nfkc(spaced);
    tidy(&spaced)
}

fn nfkc(s: String) -> String {
    match is_nfkc_quick(s.chars()) {
        IsNormalized::Yes => s,
        _ => s.nfkc().collect(),
    }
}

enum Class {
    Keep,
    Space,
    Delete,
}

fn class(c: char) -> Class {
    match c {
        // Apostrophes, soft hyphen, zero-width and bidi marks, word joiners,
        // variation selectors, BOM, tag characters, emoji ZWJ.
        '\''
        | '\u{2018}'
        | '\u{2019}'
        | '\u{00AD}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{E0000}'..='\u{E007F}' => Class::Delete,
        c if c.is_whitespace() || c.is_control() || c.is_ascii_punctuation() => Class::Space,
        c if c.is_ascii() || c.is_alphanumeric() => Class::Keep,
        // Latin-1 signs, General Punctuation to Misc Symbols and Arrows,
        // Supplemental Punctuation, CJK Symbols and Punctuation, katakana
        // middle dot, vertical/compatibility/small forms, half/full-width
        // punctuation, emoji and other pictographs. Letters and numbers
        // inside these blocks (々, 〇, ⅰ) were kept above.
        '\u{00A1}'..='\u{00BF}'
        | '\u{00D7}'
        | '\u{00F7}'
        | '\u{2000}'..='\u{2BFF}'
        | '\u{2E00}'..='\u{2E7F}'
        | '\u{3000}'..='\u{303F}'
        | '\u{30FB}'
        | '\u{FE10}'..='\u{FE6F}'
        | '\u{FF01}'..='\u{FF65}'
        | '\u{1F000}'..='\u{1FAFF}' => Class::Space,
        _ => Class::Keep,
    }
}

/// A script written without spaces between words.
fn unspaced(c: char) -> bool {
    is_cjk(c) || ('\u{3040}'..='\u{30FF}').contains(&c)
}

/// Step 5: single spaces, none next to Han or kana.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let joins = out.chars().next_back().is_some_and(unspaced)
            || word.chars().next().is_some_and(unspaced);
        if !out.is_empty() && !joins {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

const FILLERS: &[&str] = &["please", "pls", "plz"];
const LEADING_EN: &[&str] = &["hi", "hello", "hey"];
const LEADING_ZH: &[&str] = &[
    "你好",
    "您好",
    "请问",
    "哈喽",
    "嗨",
    "在吗",
    "在么",
    "打扰一下",
    "麻烦问一下",
    "我想问一下",
    "想问一下",
    "问一下",
];
const TRAILING_EN: &[&str] = &["thank you", "thank u", "thanks", "thx"];
const TRAILING_ZH: &[&str] = &["谢谢你", "谢谢您", "谢谢", "多谢", "谢了"];
const PARTICLES: &[char] = &['吗', '呢', '啊', '呀', '吧', '哦', '嘛', '啦', '哈'];
const ME_WORDS: &[char] = &['什', '怎', '这', '那', '多', '要'];

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Step 6: strips fillers until none is left, never to an empty string.
fn strip_fillers(mut s: String, trailing: bool) -> String {
    loop {
        let next = tidy(&strip_once(&s, trailing));
        if next.is_empty() || next == s {
            return s;
        }
        s = next;
    }
}

/// One round of step 6: drops every filler word, one leading greeting and
/// (with `trailing`) one trailing thanks or particle.
fn strip_once(s: &str, trailing: bool) -> String {
    // Filler words: maximal ASCII-alphanumeric runs equal to one of FILLERS.
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| word_char(c)) {
        out.push_str(&rest[..i]);
        let w = &rest[i..];
        let len = w.find(|c: char| !word_char(c)).unwrap_or(w.len());
        if !FILLERS.contains(&&w[..len]) {
            out.push_str(&w[..len]);
        }
        rest = &w[len..];
    }
    out.push_str(rest);

    let mut t: &str = out.trim_start();
    if let Some(r) = strip_word_prefix(t, LEADING_EN) {
        t = strip_word_prefix(r.trim_start(), &["there"]).unwrap_or(r);
    } else if let Some(r) = LEADING_ZH.iter().find_map(|p| t.strip_prefix(p)) {
        t = r;
    }
    let mut t = t.trim();
    if trailing {
        if let Some(r) = strip_word_suffix(t, TRAILING_EN)
            .or_else(|| TRAILING_ZH.iter().find_map(|p| t.strip_suffix(p)))
        {
            t = r;
        } else if let Some(r) = t.strip_suffix(PARTICLES) {
            t = r;
        } else if let Some(r) = t.strip_suffix('么')
            && !r.ends_with(ME_WORDS)
        {
            t = r;
        }
    }
    String::from(t)
}

/// `s` without a leading whole word from `words`.
fn strip_word_prefix<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    words
        .iter()
        .find_map(|w| s.strip_prefix(w).filter(|r| !r.starts_with(word_char)))
}

/// `s` without a trailing whole word (or phrase) from `words`.
fn strip_word_suffix<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    words
        .iter()
        .find_map(|w| s.strip_suffix(w).filter(|r| !r.ends_with(word_char)))
}

/// The space-separated words of a normalised string (for the policy rules).
pub(crate) fn words(s: &str) -> Vec<&str> {
    s.split(' ').filter(|w| !w.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        normalize_question(s)
    }

    #[test]
    fn width_case_punctuation_and_spaces() {
        assert_eq!(n("ＨＯＷ  do I get a Refund？？"), "how do i get a refund");
        assert_eq!(n("怎么退款？"), n("怎么　退款。。。"));
        assert_eq!(n("【退款】“多久”到账？！"), "退款多久到账");
        assert_eq!(n("我的 order 没到"), "我的order没到");
        assert_eq!(n("What's the fee?"), "whats the fee");
        assert_eq!(n("退款🙏怎么办…"), "退款怎么办");
        assert_eq!(n("运费 -- 多少 / 怎么算"), "运费多少怎么算");
    }

    #[test]
    fn particles_and_fillers() {
        assert_eq!(n("可以退款吗？"), "可以退款");
        assert_eq!(n("可以退款"), "可以退款");
        assert_eq!(n("你好，请问可以退款吗？谢谢！"), "可以退款");
        assert_eq!(n("怎么退款呢"), "怎么退款");
        assert_eq!(n("运费是什么"), "运费是什么");
        assert_eq!(n("为什么这么"), "为什么这么");
        assert_eq!(n("能退么"), "能退");
        assert_eq!(
            n("Hi there, how do I reset my password please? Thanks!"),
            "how do i reset my password"
        );
        assert_eq!(n("hippo food"), "hippo food");
        assert_eq!(n("hello"), "hello");
        assert_eq!(n("吗"), "吗");
        assert_eq!(n("谢谢"), "谢谢");
    }

    #[test]
    fn different_questions_stay_apart() {
        let pairs = [
            ("可以退款吗", "不可以退款吗"),
            ("可以退款吗", "可以换货吗"),
            ("运费多少", "运费多久"),
            ("how do i cancel", "how do i not cancel"),
            ("refund to card", "refund to wallet"),
            ("什么时候发货", "什么时候到货"),
        ];
        for (a, b) in pairs {
            assert_ne!(n(a), n(b), "{a} / {b}");
        }
    }

    #[test]
    fn idempotent_on_tricky_inputs() {
        for s in [
            "你好please refund",
            "êplease\u{301}",
            "谢 谢",
            "请 问退款",
            "吗 吗",
            "hi please",
            "İstanbul",
            "ǅ",
            "a\u{2019}s",
            "ẞ",
            "ᴬ",
            "=\u{338}",
        ] {
            assert_eq!(n(&n(s)), n(s), "{s:?}");
        }
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "你好", "您好", "请问", "吗", "么", "什", "呢", "吧", "谢谢", "退款", "可以", " ",
                "，", "。", "please", "hi", "there", "thanks", "thank", "you", "hello", "Ａ", "ｂ",
                "？", "!", "'", "’", "\u{301}", "e", "ß", "İ", "ǅ", "\u{3000}", "\u{200B}", "🙏",
                "1", "x",
            ])
            .prop_map(String::from),
            any::<char>().prop_map(String::from),
        ]
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(parts in prop::collection::vec(fragment(), 0..12)) {
            let s: String = parts.concat();
            let once = normalize_question(&s);
            prop_assert_eq!(normalize_question(&once), once);
        }

        #[test]
        fn normalize_is_idempotent_on_any_string(s in any::<String>()) {
            let once = normalize_question(&s);
            prop_assert_eq!(normalize_question(&once), once);
        }
    }
}
