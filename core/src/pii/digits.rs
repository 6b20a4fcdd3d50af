//! The digit-run scanner behind resident IDs, bank cards and mobiles.
//!
//! A *run* is a maximal sequence of digit groups joined by single separators
//! (`6222 0212 3456 7890 128`, `138-0013-8000`), optionally preceded by `+`
//! and, for IDs, ended by a check character `X`. A run is judged whole:
//!
//! 1. If it has several groups, all of them together are tried against each
//!    kind, and the grouping must be one people write for that kind.
//! 2. Otherwise (or if that fails) each group is tried alone: a group is a
//!    maximal digit sequence, so a card number inside a longer order number is
//!    never found, while `共2件 13800138000` still finds the mobile.
//!
//! A run glued to ASCII letters (`SF1234...`, `YT...`) or part of a decimal
//! number (`13800138000.50`) is not personal data at that end.

use alloc::vec::Vec;
use core::ops::ControlFlow;

use super::checks::{self, X};
use super::text::{
    char_at, char_before, digit_starts_at, fold, folded_at, folded_before, is_separator,
};
use super::{PiiKind, PiiSpan};

/// The most digits any kind spans (`0086` + 11, 18, 19); longer groups are
/// never PII and are not copied.
const MAX: usize = 19;

struct Group {
    start: usize,
    end: usize,
    len: usize,
    buf: [u8; MAX],
}

impl Group {
    fn digits(&self) -> Option<&[u8]> {
        self.buf.get(..self.len)
    }
}

/// Calls `sink` with every ID, card and mobile span, in text order.
pub(super) fn scan(
    text: &str,
    mut sink: impl FnMut(PiiSpan) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let bytes = text.as_bytes();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if digit_starts_at(bytes, i) {
            i = run(text, i, &mut groups, &mut sink)?.max(i + 1);
        } else {
            i += 1;
        }
    }
    ControlFlow::Continue(())
}

/// Reads the run starting at `start`, reports what it holds, and returns the
/// byte offset just past it.
fn run(
    text: &str,
    start: usize,
    groups: &mut Vec<Group>,
    sink: &mut impl FnMut(PiiSpan) -> ControlFlow<()>,
) -> ControlFlow<(), usize> {
    groups.clear();
    let mut pos = start;
    let mut ended_by_x = false;
    loop {
        let mut g = Group {
            start: pos,
            end: pos,
            len: 0,
            buf: [0; MAX],
        };
        while let Some((c, n)) = char_at(text, pos) {
            let f = fold(c);
            if !f.is_ascii_digit() {
                break;
            }
            push(&mut g, f as u8 - b'0');
            pos += n;
        }
        // A check character X ends the group and the run, unless it begins a word.
        if let Some((c, n)) = char_at(text, pos)
            && matches!(fold(c), 'X' | 'x')
            && !folded_at(text, pos + n, |f| f.is_ascii_alphanumeric())
        {
            push(&mut g, X);
            pos += n;
            ended_by_x = true;
        }
        g.end = pos;
        groups.push(g);
        if ended_by_x {
            break;
        }
        match char_at(text, pos) {
            Some((c, n)) if is_separator(c) && folded_at(text, pos + n, |f| f.is_ascii_digit()) => {
                pos += n
            }
            _ => break,
        }
    }

    let (plus, left_ok) = left_context(text, start);
    let right_ok = right_context(text, pos, ended_by_x);
    let n = groups.len();

    // 1. The whole run, when it has several groups.
    let total: usize = groups.iter().map(|g| g.len).sum();
    if n >= 2 && left_ok && right_ok && total <= MAX {
        let mut d = [0u8; MAX];
        let mut lens = [0usize; MAX];
        let mut k = 0;
        for (slot, g) in lens.iter_mut().zip(groups.iter()) {
            *slot = g.len;
            for &v in g.digits().unwrap_or(&[]) {
                if let Some(s) = d.get_mut(k) {
                    *s = v;
                }
                k += 1;
            }
        }
        let (d, lens) = (&d[..total], &lens[..n]);
        let (first, last) = (groups[0].start, groups[n - 1].end);
        if let Some(p) = plus
            && mobile_with_country_code(d, lens, true)
        {
            sink(PiiSpan {
                kind: PiiKind::Mobile,
                start: p,
                end: last,
            })?;
            return ControlFlow::Continue(pos);
        }
        if let Some(kind) = classify(d, lens) {
            sink(PiiSpan {
                kind,
                start: first,
                end: last,
            })?;
            return ControlFlow::Continue(pos);
        }
    }

    // 2. Each group on its own.
    for (k, g) in groups.iter().enumerate() {
        let bounded = (k > 0 || left_ok) && (k + 1 < n || right_ok);
        let Some(d) = g.digits().filter(|_| bounded && g.len <= MAX) else {
            continue;
        };
        let lens = [g.len];
        if k == 0
            && let Some(p) = plus
            && mobile_with_country_code(d, &lens, true)
        {
            sink(PiiSpan {
                kind: PiiKind::Mobile,
                start: p,
                end: g.end,
            })?;
        } else if let Some(kind) = classify(d, &lens) {
            sink(PiiSpan {
                kind,
                start: g.start,
                end: g.end,
            })?;
        }
    }
    ControlFlow::Continue(pos)
}

fn push(g: &mut Group, v: u8) {
    if let Some(slot) = g.buf.get_mut(g.len) {
        *slot = v;
    }
    g.len = g.len.saturating_add(1);
}

/// What precedes a run: the offset of a leading `+` (when it is not glued to a
/// word), and whether the run is free on its left (not glued to a letter or
/// digit, not the fraction of a decimal number).
fn left_context(text: &str, start: usize) -> (Option<usize>, bool) {
    let Some((c, n)) = char_before(text, start) else {
        return (None, true);
    };
    let at = start.saturating_sub(n);
    match fold(c) {
        '+' if !folded_before(text, at, |f| f.is_ascii_alphanumeric()) => (Some(at), true),
        '.' => (None, !folded_before(text, at, |f| f.is_ascii_digit())),
        f => (None, !f.is_ascii_alphanumeric()),
    }
}

/// Whether a run ending at `end` is free on its right. After a check
/// character `X` a dot is just a full stop.
fn right_context(text: &str, end: usize, ended_by_x: bool) -> bool {
    match char_at(text, end) {
        None => true,
        Some((c, n)) => match fold(c) {
            '.' => ended_by_x || !folded_at(text, end + n, |f| f.is_ascii_digit()),
            f => !f.is_ascii_alphanumeric(),
        },
    }
}

/// The kind of a run (or group) with digits `d` written in groups of `lens`.
/// A resident ID wins over a card: its checks are far stricter.
fn classify(d: &[u8], lens: &[usize]) -> Option<PiiKind> {
    if d.len() == 18 && matches!(lens, [18] | [6, 8, 4]) && checks::resident_id(d) {
        return Some(PiiKind::ResidentId);
    }
    if mobile_with_country_code(d, lens, false) {
        return Some(PiiKind::Mobile);
    }
    if card_grouping(lens) && checks::bank_card(d) {
        return Some(PiiKind::BankCard);
    }
    None
}

/// How people group a mobile number: `13800138000`, `138 0013 8000`,
/// `138 00138000`, `1380013 8000`.
fn mobile_grouping(lens: &[usize]) -> bool {
    matches!(lens, [11] | [3, 4, 4] | [3, 8] | [7, 4])
}

/// How people group a card number: ungrouped; 4-4-4-4 with a last group of
/// 1-7 digits (`6222 0212 3456 7890 128`); two groups led by 4 or 6 digits
/// (`622202 1234567890128`).
fn card_grouping(lens: &[usize]) -> bool {
    match lens {
        [_] | [4 | 6, _] => true,
        [init @ .., last] => {
            init.len() >= 2 && init.iter().all(|&l| l == 4) && (1..=7).contains(last)
        }
        [] => false,
    }
}

/// A mobile, optionally after the country code: `+86`/`86`/`0086` as its own
/// group, `+86` or `0086` glued on. A bare glued `86` (13 digits, no `+`) is
/// not accepted: too many other 13-digit numbers start with 86.
fn mobile_with_country_code(d: &[u8], lens: &[usize], plus: bool) -> bool {
    let ok = |rest: &[u8], rl: &[usize]| checks::mobile(rest) && mobile_grouping(rl);
    let Some((&first, tail)) = lens.split_first() else {
        return false;
    };
    if !plus && ok(d, lens) {
        return true;
    }
    match (plus, first, d) {
        (_, 2, [8, 6, rest @ ..]) | (false, 4, [0, 0, 8, 6, rest @ ..]) => ok(rest, tail),
        (true, 13, [8, 6, rest @ ..]) | (false, 15, [0, 0, 8, 6, rest @ ..]) => {
            tail.is_empty() && ok(rest, &[11])
        }
        _ => false,
    }
}
