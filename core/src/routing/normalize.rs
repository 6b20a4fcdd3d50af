//! Light text normalisation for routing: full-width ASCII to half-width,
//! CJK punctuation to ASCII, lowercase, whitespace collapsed (and dropped
//! between two CJK ideographs, so "转 人 工" reads as "转人工"), plus the
//! ALL-CAPS count that lowercasing would otherwise lose.

use alloc::string::String;

use crate::types::is_cjk;

/// Messages are scored on at most this many characters; the rest is ignored.
/// It bounds the work per message, and a longer message is a rant whose
/// first 2,000 characters already say enough.
pub const MAX_SCORED_CHARS: usize = 2000;

/// Upper-case words that are ordinary acronyms, not shouting.
const ACRONYMS: &[&str] = &[
    "ATM", "API", "APP", "BBB", "CNY", "CVV", "DHL", "EMS", "EUR", "FAQ", "GPS", "IBAN", "OTP",
    "PDF", "PIN", "RMB", "SMS", "SWIFT", "UPS", "URL", "USA", "USD", "VAT", "VIP", "WIFI", "ASAP",
];

/// A normalised message and the style facts normalisation can see. Its
/// `Debug` shows sizes only: conversation text never reaches debug output.
#[derive(Default)]
pub(super) struct Normalized {
    /// Folded text: lowercase, half-width, collapsed whitespace.
    pub text: String,
    /// ASCII words of three or more letters written in capitals (acronyms excluded).
    pub caps_words: u16,
    /// ASCII words of any length.
    pub words: u16,
}

impl core::fmt::Debug for Normalized {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Normalized")
            .field("text_bytes", &self.text.len())
            .field("caps_words", &self.caps_words)
            .field("words", &self.words)
            .finish()
    }
}

/// Folds one character: full-width ASCII and CJK punctuation to ASCII, curly
/// quotes to straight ones. Does not lowercase.
pub(super) fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{3002}' | '\u{FF61}' => '.',
        '\u{3001}' => ',',
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        '\u{201C}' | '\u{201D}' => '"',
        '\u{2026}' => '.',
        '\u{3010}' | '\u{300C}' | '\u{300E}' => '[',
        '\u{3011}' | '\u{300D}' | '\u{300F}' => ']',
        _ => c,
    }
}

/// Lowercases a folded character (one char in, one char out; the rare
/// multi-char lowercase forms keep their first char).
pub(super) fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '\u{00AD}')
}

/// Normalises `input` (see the module doc) and counts capitalised words.
pub(super) fn normalize(input: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(input.len().min(MAX_SCORED_CHARS * 3)),
        ..Normalized::default()
    };
    let mut pending_space = false;
    // The current ASCII word, in its original case.
    let mut word = [0u8; 8];
    let mut word_len = 0usize;
    let mut word_upper = true;
    for c in input.chars().take(MAX_SCORED_CHARS) {
        if is_invisible(c) {
            continue;
        }
        let f = fold_char(c);
        if f.is_ascii_alphabetic() {
            if word_len < word.len() {
                word[word_len] = f as u8;
            }
            word_len += 1;
            word_upper &= f.is_ascii_uppercase();
        } else {
            end_word(&mut out, &word, word_len, word_upper);
            word_len = 0;
            word_upper = true;
        }
        if f.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space {
            pending_space = false;
            let prev_cjk = out.text.chars().next_back().is_some_and(is_cjk);
            let between_ideographs = prev_cjk && is_cjk(f);
            if !(out.text.is_empty() || between_ideographs) {
                out.text.push(' ');
            }
        }
        out.text.push(lower(f));
    }
    end_word(&mut out, &word, word_len, word_upper);
    out
}

fn end_word(out: &mut Normalized, word: &[u8; 8], len: usize, upper: bool) {
    if len == 0 {
        return;
    }
    out.words = out.words.saturating_add(1);
    if upper && len >= 3 {
        let known = len <= word.len() && ACRONYMS.iter().any(|a| a.as_bytes() == &word[..len]);
        if !known {
            out.caps_words = out.caps_words.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_case_and_spaces() {
        let n = normalize("ＨＵＭＡＮ　ＡＧＥＮＴ！！");
        assert_eq!(n.text, "human agent!!");
        assert_eq!(n.caps_words, 2);
        assert_eq!(normalize("转 人 工").text, "转人工");
        assert_eq!(normalize("  talk   to\ta human ").text, "talk to a human");
        assert_eq!(normalize("我要 refund，好吗？").text, "我要 refund,好吗?");
        assert_eq!(normalize("don’t").text, "don't");
    }

    #[test]
    fn acronyms_are_not_shouting() {
        let n = normalize("Is the ATM fee waived for VIP members? I NEED HELP");
        assert_eq!(n.caps_words, 2);
        assert_eq!(n.words, 11);
    }

    #[test]
    fn debug_hides_the_text() {
        let shown = std::format!("{:?}", normalize("我的密码是 hunter2"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("密码"),
            "{shown}"
        );
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "气".repeat(MAX_SCORED_CHARS * 2);
        assert_eq!(normalize(&long).text.chars().count(), MAX_SCORED_CHARS);
    }
}
