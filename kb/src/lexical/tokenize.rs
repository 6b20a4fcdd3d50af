//! Search tokens for mixed Chinese and English text.
//!
//! Chinese runs are segmented with jieba's search mode (long words also
//! yield their sub-words), and every Han character is also kept as a
//! unigram token (`字`-prefixed so it cannot collide with a word): customers
//! paraphrase (`忘记密码` / `密码忘了`), and unigrams let BM25 still see the
//! overlap. Latin runs are lower-cased words with a light plural strip.
//! Function words of both languages are dropped; they carry no meaning for
//! retrieval and would inflate the query coverage [`crate::judge`] measures.

use std::sync::OnceLock;

use jieba_rs::Jieba;
use kefu_core::types::is_cjk;

fn jieba() -> &'static Jieba {
    static J: OnceLock<Jieba> = OnceLock::new();
    J.get_or_init(Jieba::new)
}

const EN_STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "for", "by", "with",
    "from", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "me", "my",
    "you", "your", "we", "our", "us", "it", "its", "this", "that", "these", "those", "there",
    "can", "could", "would", "should", "will", "shall", "may", "might", "must", "have", "has",
    "had", "how", "what", "when", "where", "which", "who", "why", "please", "hi", "hello",
    "thanks", "thank", "so", "as", "about", "any", "some", "get", "got", "just", "im", "it's",
    "i'm", "there's", "not", "no", "yes", "up", "out", "into", "than", "then", "them", "they",
    "he", "she", "his", "her", "one", "also", "too", "very", "much", "many", "more", "want",
    "need", "know", "tell", "let", "s", "t",
];

const ZH_STOP: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "嘛",
    "哦",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "是",
    "在",
    "有",
    "和",
    "与",
    "或",
    "也",
    "都",
    "就",
    "还",
    "要",
    "会",
    "能",
    "可以",
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "什么",
    "哪",
    "哪里",
    "哪些",
    "多少",
    "请问",
    "一下",
    "这个",
    "那个",
    "个",
    "吗",
    "想",
    "请",
    "麻烦",
    "谢谢",
    "你好",
    "好",
    "这",
    "那",
    "得",
    "地",
    "着",
    "过",
    "把",
    "被",
    "让",
    "给",
    "对",
    "从",
    "到",
    "为",
    "又",
    "没",
    "没有",
    "不",
    "啥",
    "咋",
];

/// Whether `w` is a function word.
pub fn is_stopword(w: &str) -> bool {
    EN_STOP.contains(&w) || ZH_STOP.contains(&w)
}

fn is_latin_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

fn english(word: &str, out: &mut Vec<String>) {
    let w = word.to_lowercase();
    if w.is_empty() || is_stopword(&w) {
        return;
    }
    // Light plural strip: "refunds" -> "refund", "addresses" -> "address".
    let stem = if w.len() > 4 && w.ends_with("sses") {
        &w[..w.len() - 2]
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        &w[..w.len() - 1]
    } else {
        &w[..]
    };
    out.push(stem.to_owned());
}

fn chinese(run: &str, out: &mut Vec<String>) {
    for t in jieba().cut_for_search(run, true) {
        let w = t.word.trim();
        if w.is_empty() || is_stopword(w) || !w.chars().any(is_cjk) {
            continue;
        }
        out.push(w.to_owned());
    }
    for c in run.chars().filter(|c| is_cjk(*c)) {
        let mut b = [0u8; 4];
        let s = c.encode_utf8(&mut b);
        if !is_stopword(s) && !matches!(c, '，' | '。' | '？' | '！' | '、' | '：' | '；') {
            out.push(format!("字{s}"));
        }
    }
}

/// The search tokens of `text`, in order (duplicates kept: BM25 counts them).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    let mut run_cjk = false;
    let flush = |run: &mut String, cjk: bool, out: &mut Vec<String>| {
        if !run.is_empty() {
            if cjk {
                chinese(run, out)
            } else {
                english(run, out)
            }
            run.clear();
        }
    };
    for c in text.chars() {
        let cjk = is_cjk(c) && c.is_alphabetic();
        if cjk || is_latin_word_char(c) {
            if !run.is_empty() && cjk != run_cjk {
                flush(&mut run, run_cjk, &mut out);
            }
            run_cjk = cjk;
            run.push(c);
        } else {
            flush(&mut run, run_cjk, &mut out);
        }
    }
    flush(&mut run, run_cjk, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_words_and_unigrams_survive_paraphrase() {
        let a = tokenize("我忘记密码了怎么办");
        let b = tokenize("密码忘了");
        assert!(a.contains(&"密码".to_owned()), "{a:?}");
        assert!(!a.contains(&"怎么办".to_owned()) && !a.contains(&"我".to_owned()));
        // The paraphrase shares the word 密码 and the unigram 忘.
        assert!(b.contains(&"密码".to_owned()) && b.contains(&"字忘".to_owned()));
        assert!(a.contains(&"字忘".to_owned()));
    }

    #[test]
    fn english_is_lowercased_destopped_and_singular() {
        assert_eq!(
            tokenize("How do I get REFUNDS for my orders?"),
            vec!["refund", "order"]
        );
        assert_eq!(tokenize("addresses"), vec!["address"]);
    }

    #[test]
    fn mixed_text_splits_at_script_changes() {
        let t = tokenize("我的order还没发货");
        assert!(t.contains(&"order".to_owned()), "{t:?}");
        assert!(t.contains(&"发货".to_owned()), "{t:?}");
    }

    #[test]
    fn punctuation_and_empty_give_nothing() {
        assert!(tokenize("").is_empty());
        assert!(tokenize("？！。,.!?   ").is_empty());
    }
}
