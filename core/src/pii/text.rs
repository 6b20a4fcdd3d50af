//! Character helpers shared by the scanners: full-width folding and safe
//! byte-offset decoding.

/// Folds the full-width ASCII variants (U+FF01..=U+FF5E, e.g. `０`, `Ａ`, `＠`,
/// `－`, `＋`, `．`) to ASCII and the ideographic space U+3000 to a space.
/// Every other character is returned unchanged. This is the part of NFKC the
/// scanners need, done per character so byte offsets stay in the original.
pub(super) fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// The character starting at byte `i` and its UTF-8 length; `None` at the end
/// or when `i` is not a character boundary.
pub(super) fn char_at(s: &str, i: usize) -> Option<(char, usize)> {
    s.get(i..)?.chars().next().map(|c| (c, c.len_utf8()))
}

/// The character ending at byte `i` and its UTF-8 length.
pub(super) fn char_before(s: &str, i: usize) -> Option<(char, usize)> {
    s.get(..i)?.chars().next_back().map(|c| (c, c.len_utf8()))
}

/// Whether the folded character at `i` satisfies `f`.
pub(super) fn folded_at(s: &str, i: usize, f: impl Fn(char) -> bool) -> bool {
    char_at(s, i).is_some_and(|(c, _)| f(fold(c)))
}

/// Whether the folded character ending at `i` satisfies `f`.
pub(super) fn folded_before(s: &str, i: usize, f: impl Fn(char) -> bool) -> bool {
    char_before(s, i).is_some_and(|(c, _)| f(fold(c)))
}

/// A separator allowed *between* digit groups: space, NBSP, ideographic
/// space, ASCII/full-width hyphen-minus and the Unicode hyphens and en dash.
pub(super) fn is_separator(c: char) -> bool {
    matches!(
        fold(c),
        ' ' | '-' | '\u{00A0}' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}'
    )
}

/// Whether the byte at `i` starts an ASCII or full-width (U+FF10..=U+FF19,
/// UTF-8 `EF BC 90..99`) digit.
pub(super) fn digit_starts_at(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        Some(b'0'..=b'9') => true,
        Some(0xEF) => b.get(i + 1) == Some(&0xBC) && matches!(b.get(i + 2), Some(0x90..=0x99)),
        _ => false,
    }
}

/// The UTF-8 length of an `@` or full-width `＠` (U+FF20) starting at `i`.
pub(super) fn at_sign_at(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i) {
        Some(b'@') => Some(1),
        Some(0xEF) if b.get(i + 1) == Some(&0xBC) && b.get(i + 2) == Some(&0xA0) => Some(3),
        _ => None,
    }
}
