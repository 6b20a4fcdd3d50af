//! Finding and masking personal data in Chinese and English text.
//!
//! Four kinds are found, in ASCII or full-width form (`０-９`, `Ａ-ｚ`, `＠`),
//! with spaces or dashes between digit groups:
//!
//! | kind | rule | masked as |
//! |---|---|---|
//! | [`PiiKind::ResidentId`] | GB 11643-1999 citizen identity number: region code starting 1-8, a real date in 1900-2099, sequence, ISO 7064 MOD 11-2 check (`X`/`x`) | last 4 kept: `**************002X` |
//! | [`PiiKind::BankCard`] | 16-19 digits, payment-network IIN, Luhn (ISO/IEC 7812-1) — UnionPay `62` also without Luhn | last 4 kept: `**** **** **** ***0 128` |
//! | [`PiiKind::Mobile`] | mainland `1[3-9]` + 9 digits, optional `+86`/`86`/`0086` | `138****8000` |
//! | [`PiiKind::Email`] | a practical RFC 5321 subset (see `email.rs`) | `z***@example.com` |
//!
//! # Policy decisions
//!
//! - **Whole digit runs.** A number is judged as the whole run of digits it
//!   sits in (see `digits.rs`): a Luhn-valid 16 digits inside a 20-digit
//!   order number is not a card, and digits glued to ASCII letters
//!   (`SF1234567890123`) or to a decimal point (`13800138000.50`) are not PII.
//!   Two grouped numbers written with only a space between them
//!   (`138 0013 8000 139 0013 8000`) are read as one run and missed.
//! - **UnionPay without Luhn.** Some UnionPay (IIN 62) debit cards are issued
//!   without a Luhn check digit, so a 16-19 digit number starting `62` is a
//!   card even when Luhn fails. A missed card leaks more than a masked order
//!   number costs, so this errs towards masking: about 1% of random 16-19
//!   digit numbers start with 62 and are masked, on top of the 10% of
//!   payment-IIN numbers that pass Luhn by chance. The test corpus counts
//!   both, in a category of its own.
//! - **Payment IINs only.** Cards must start 2221-2720, 3, 4, 5 or 6; so
//!   `2024...` order numbers and other industry numbers are never cards.
//! - **ID-shaped numbers are not cards.** 18 digits with a region digit 1-8
//!   and a date-like birth field that fail the ID checks are taken for
//!   mistyped IDs and not Luhn-tested; about 0.3% of real 18-digit cards look
//!   like that and are missed.
//! - **What is kept.** Cards and IDs keep their last four characters, as
//!   support agents confirm them ("尾号 002X"); region code and birth date, the
//!   parts that identify a person, are masked. Mobiles keep the carrier
//!   prefix and the last four, the form Chinese apps show. E-mail keeps the
//!   first character of the local part and the domain; the local part's
//!   length is hidden behind a fixed `***`. Separators and prefixes stay, so
//!   agents still recognise the shape.
//!
//! Scanning is one pass over the bytes for digit runs and one for `@` signs,
//! with bounded look-back (64 characters) and look-ahead (253) per `@`:
//! linear in the text length, no regex engine.

mod checks;
mod digits;
mod email;
mod text;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::ControlFlow;

use text::fold;

/// The kinds of personal data kefu finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiiKind {
    /// A mainland resident identity card number (GB 11643-1999).
    ResidentId,
    /// A payment card number (primary account number).
    BankCard,
    /// A mainland mobile phone number.
    Mobile,
    /// An e-mail address.
    Email,
}

impl PiiKind {
    /// A stable snake_case name for metrics and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::ResidentId => "resident_id",
            PiiKind::BankCard => "bank_card",
            PiiKind::Mobile => "mobile",
            PiiKind::Email => "email",
        }
    }
}

/// Where one piece of personal data sits: byte offsets into the scanned text,
/// always on character boundaries. A mobile span includes its `+86` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PiiSpan {
    /// What was found.
    pub kind: PiiKind,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

/// A text with its personal data masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted {
    /// The masked text.
    pub text: String,
    /// What was masked, as offsets into the *original* text.
    pub spans: Vec<PiiSpan>,
}

/// Finds all personal data in `text`, in order, without overlaps. An e-mail
/// address wins over digits inside it (`13800138000@qq.com` is one e-mail).
pub fn find(text: &str) -> Vec<PiiSpan> {
    let mut emails = Vec::new();
    let _ = email::scan(text, |s| {
        emails.push(s);
        ControlFlow::Continue(())
    });
    let mut out = Vec::with_capacity(emails.len());
    let mut next = 0;
    let _ = digits::scan(text, |s| {
        while let Some(e) = emails.get(next)
            && e.end <= s.start
        {
            out.push(*e);
            next += 1;
        }
        if emails.get(next).is_none_or(|e| e.start >= s.end) {
            out.push(s);
        }
        ControlFlow::Continue(())
    });
    out.extend(emails.get(next..).unwrap_or(&[]));
    out
}

/// Whether `text` holds any personal data; stops at the first find.
pub fn contains_pii(text: &str) -> bool {
    let stop = |_| ControlFlow::Break(());
    email::scan(text, stop).is_break() || digits::scan(text, stop).is_break()
}

/// Masks all personal data in `text` (see the module docs for what is kept).
pub fn redact(text: &str) -> Redacted {
    let spans = find(text);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for s in &spans {
        out.push_str(text.get(last..s.start).unwrap_or_default());
        // An address glued to another `@` (`a@x.comb@y.com`) has a domain
        // that runs into the next local part: mask the domain too.
        let glued = text::at_sign_at(text.as_bytes(), s.end).is_some();
        let span = text.get(s.start..s.end).unwrap_or_default();
        mask_into(&mut out, span, s.kind, glued);
        last = s.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Redacted { text: out, spans }
}

/// Copies `s`, masking the IDs, cards and mobiles in it.
fn mask_digits_in(out: &mut String, s: &str) {
    let mut last = 0;
    let _ = digits::scan(s, |sp| {
        out.push_str(s.get(last..sp.start).unwrap_or_default());
        mask_into(
            out,
            s.get(sp.start..sp.end).unwrap_or_default(),
            sp.kind,
            false,
        );
        last = sp.end;
        ControlFlow::Continue(())
    });
    out.push_str(s.get(last..).unwrap_or_default());
}

fn is_digit_or_x(f: char) -> bool {
    f.is_ascii_digit() || f == 'X' || f == 'x'
}

fn mask_into(out: &mut String, span: &str, kind: PiiKind, glued: bool) {
    if kind == PiiKind::Email {
        let at = span.char_indices().find(|&(_, c)| fold(c) == '@');
        let Some((i, c)) = at else {
            return out.push_str("***");
        };
        if let Some(first) = span.chars().next().filter(|_| i > 0) {
            out.push(fold(first));
        }
        out.push_str("***@");
        match span.get(i + c.len_utf8()..) {
            Some(domain) if !glued => {
                // Digits in a domain can be a phone number (`a@13800138000.com`).
                let domain: String = domain.chars().map(fold).collect();
                mask_digits_in(out, &domain);
            }
            _ => out.push_str("***"),
        }
        return;
    }
    let total = span.chars().filter(|&c| is_digit_or_x(fold(c))).count();
    // Digit positions to mask; the span's digits end with the number itself.
    let masked = match kind {
        PiiKind::Mobile => total.saturating_sub(8)..total.saturating_sub(4),
        _ => 0..total.saturating_sub(4),
    };
    let mut k = 0;
    for c in span.chars() {
        let f = fold(c);
        if is_digit_or_x(f) {
            out.push(if masked.contains(&k) { '*' } else { f });
            k += 1;
        } else {
            out.push(c);
        }
    }
}
