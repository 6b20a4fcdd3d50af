//! The e-mail scanner: a practical subset of RFC 5321 `Mailbox`.
//!
//! - Local part: 1-64 of `A-Z a-z 0-9 . _ % + -` directly before the `@`
//!   (leading dots dropped); a longer run is not an address. Quoted local
//!   parts and the rarer `atext` symbols (`!#$&'*/=?^{|}~` and the
//!   backtick) are left out: in running text they are far more often
//!   punctuation next to an address than part of it.
//! - Domain: at least two dot-separated labels of letters, digits and inner
//!   hyphens (1-63 each, 253 in all), ending in an alphabetic top-level label
//!   of 2-63 letters or an `xn--` label. Trailing dots and hyphens
//!   (sentence punctuation) are not part of the address, nor is anything
//!   after the letters of the last label that can be a top-level domain
//!   (`a@example.com-123` is `a@example.com`).
//! - Address literals (`user@[192.0.2.1]`) and internationalised addresses
//!   (RFC 6531, `用户@例子.中国`) are not found.
//!
//! Full-width letters, digits, `＠` and `．` are read as their ASCII forms.

use alloc::vec::Vec;
use core::ops::ControlFlow;

use super::text::{at_sign_at, char_at, fold};
use super::{PiiKind, PiiSpan};

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;

/// Calls `sink` with every e-mail span, in text order; spans never overlap.
pub(super) fn scan(
    text: &str,
    mut sink: impl FnMut(PiiSpan) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let bytes = text.as_bytes();
    let mut floor = 0;
    let mut i = 0;
    while i < bytes.len() {
        match at_sign_at(bytes, i) {
            Some(n) => {
                if let Some((start, end)) = address_at(text, i, n, floor) {
                    sink(PiiSpan {
                        kind: PiiKind::Email,
                        start,
                        end,
                    })?;
                    floor = end;
                }
                i += n;
            }
            None => i += 1,
        }
    }
    ControlFlow::Continue(())
}

fn is_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// The address around the `@` at byte `at` (of UTF-8 length `at_len`), not
/// reaching back before `floor` (the end of the previous address).
fn address_at(text: &str, at: usize, at_len: usize, floor: usize) -> Option<(usize, usize)> {
    // Local part, scanning back over at most 64 characters.
    let mut start = at;
    let mut count = 0;
    for (j, c) in text.get(floor..at)?.char_indices().rev() {
        if !is_local(fold(c)) {
            break;
        }
        count += 1;
        if count > MAX_LOCAL {
            return None;
        }
        start = floor + j;
    }
    while start < at
        && let Some((c, n)) = char_at(text, start)
        && fold(c) == '.'
    {
        start += n;
    }
    if start >= at {
        return None;
    }

    // Domain: fold to ASCII, remembering where each character ends.
    let mut dom = Vec::new();
    let mut ends = Vec::new();
    let mut pos = at + at_len;
    while let Some((c, n)) = char_at(text, pos) {
        let f = fold(c);
        if !(f.is_ascii_alphanumeric() || f == '-' || f == '.') {
            break;
        }
        if dom.len() == MAX_DOMAIN {
            break;
        }
        dom.push(f as u8);
        pos += n;
        ends.push(pos);
    }
    let m = domain_len(&dom)?;
    Some((start, *ends.get(m.checked_sub(1)?)?))
}

/// The length of the longest valid domain at the start of `dom`, if any.
///
/// Labels are read left to right; every label after the first may end the
/// domain with its leading letters as the top-level label (`example.com-62…`
/// ends after `com`, `x.example.123` after `example`), and reading stops at
/// the first label that is not a valid inner label (empty, too long, or with
/// a hyphen at either end).
fn domain_len(dom: &[u8]) -> Option<usize> {
    let mut best = None;
    let mut start = 0;
    for (k, label) in dom.split(|&b| b == b'.').enumerate() {
        if k > 0 {
            let letters = label.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            if label.starts_with(b"xn--") && label.len() > 4 && label_ok(label) {
                best = Some(start + label.len());
            } else if (2..=63).contains(&letters) {
                best = Some(start + letters);
            }
        }
        if !label_ok(label) {
            break;
        }
        start += label.len() + 1;
    }
    best
}

fn label_ok(l: &[u8]) -> bool {
    (1..=63).contains(&l.len()) && l.first() != Some(&b'-') && l.last() != Some(&b'-')
}
