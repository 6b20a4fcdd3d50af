//! The lexicon as one table sorted at compile time, and the longest-match
//! scanner that turns a normalised message into a list of [`Hit`]s.
//!
//! The scanner is a maximal-munch tokenizer (as in a lexer): at each position
//! the longest entry that matches wins and the scan continues after it. That
//! is what lets `不要脸` be an insult rather than `不要` + `脸`, and `人工智能`
//! be "AI" rather than a request for `人工`. English entries match whole words
//! only; an English word with no entry gets one typo-tolerant second chance
//! (optimal string alignment distance, see [`super::score`]).

use alloc::vec::Vec;

use super::words::TABLES;

/// What a lexicon entry means to the scorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Anger,
    Frustration,
    Positive,
    Urgency,
    Complaint,
    Threat,
    Security,
    Money,
    Determination,
    Intensifier,
    Diminisher,
    Negator,
    SoftNegator,
    Boundary,
    Neutral,
    Verb,
    Noun,
    Request,
    AntiBot,
    BotQuestion,
}

/// One lexicon entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    /// The folded phrase; a trailing `~` marks an English stem.
    pub phrase: &'static str,
    pub kind: Kind,
    pub weight: u8,
}

impl Entry {
    const EMPTY: Entry = Entry {
        phrase: "",
        kind: Kind::Neutral,
        weight: 0,
    };

    /// The text to match (without the stem marker) and whether it is a stem.
    pub fn pattern(&self) -> (&'static str, bool) {
        match self.phrase.strip_suffix('~') {
            Some(p) => (p, true),
            None => (self.phrase, false),
        }
    }
}

const fn table_len(tables: &[(Kind, &[(&str, u8)])]) -> usize {
    let mut n = 0;
    let mut t = 0;
    while t < tables.len() {
        n += tables[t].1.len();
        t += 1;
    }
    n
}

const fn bytes_less(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

const fn sift_down(v: &mut [Entry], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && bytes_less(v[child].phrase.as_bytes(), v[child + 1].phrase.as_bytes())
        {
            child += 1;
        }
        if !bytes_less(v[root].phrase.as_bytes(), v[child].phrase.as_bytes()) {
            return;
        }
        let tmp = v[root];
        v[root] = v[child];
        v[child] = tmp;
        root = child;
    }
}

/// Flattens the tables and heap-sorts them by phrase bytes, at compile time.
const fn build<const N: usize>(tables: &[(Kind, &'static [(&'static str, u8)])]) -> [Entry; N] {
    let mut out = [Entry::EMPTY; N];
    let mut k = 0;
    let mut t = 0;
    while t < tables.len() {
        let (kind, rows) = tables[t];
        let mut j = 0;
        while j < rows.len() {
            out[k] = Entry {
                phrase: rows[j].0,
                kind,
                weight: rows[j].1,
            };
            k += 1;
            j += 1;
        }
        t += 1;
    }
    let mut start = N / 2;
    while start > 0 {
        start -= 1;
        sift_down(&mut out, start, N);
    }
    let mut end = N;
    while end > 1 {
        end -= 1;
        let tmp = out[0];
        out[0] = out[end];
        out[end] = tmp;
        sift_down(&mut out, 0, end);
    }
    out
}

const LEN: usize = table_len(TABLES);

/// The first code point of a non-empty UTF-8 string (0 for an empty one).
const fn first_char(s: &str) -> u32 {
    let b = s.as_bytes();
    if b.is_empty() {
        return 0;
    }
    let x = b[0] as u32;
    if x < 0x80 {
        x
    } else if x < 0xE0 {
        ((x & 0x1F) << 6) | cont(b, 1)
    } else if x < 0xF0 {
        ((x & 0x0F) << 12) | (cont(b, 1) << 6) | cont(b, 2)
    } else {
        ((x & 0x07) << 18) | (cont(b, 1) << 12) | (cont(b, 2) << 6) | cont(b, 3)
    }
}

/// The payload bits of continuation byte `i` (0 past the end).
const fn cont(b: &[u8], i: usize) -> u32 {
    if i < b.len() { b[i] as u32 & 0x3F } else { 0 }
}

const fn firsts<const N: usize>(entries: &[Entry; N]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut i = 0;
    while i < N {
        out[i] = first_char(entries[i].phrase);
        i += 1;
    }
    out
}

/// All entries, sorted by phrase bytes so that the entries starting with a
/// given character form one contiguous run.
pub(super) static LEXICON: [Entry; LEN] = build::<LEN>(TABLES);

/// The first code point of each [`LEXICON`] entry. Byte order of UTF-8 is
/// code point order, so this is sorted too and binary search on it finds a
/// character's run without comparing strings.
static FIRST: [u32; LEN] = firsts(&LEXICON);

/// Whether entry `e` may be the target of a fuzzy match: a kind from
/// [`fuzzy_kind`], one plain ASCII word of four or more letters, not a stem.
const fn fuzzy_target(e: &Entry) -> bool {
    let b = e.phrase.as_bytes();
    if b.len() < 4 || !fuzzy_kind(e.kind) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_lowercase() {
            return false;
        }
        i += 1;
    }
    true
}

const fn fuzzy_targets<const N: usize>(entries: &[Entry; N]) -> [bool; N] {
    let mut out = [false; N];
    let mut i = 0;
    while i < N {
        out[i] = fuzzy_target(&entries[i]);
        i += 1;
    }
    out
}

/// [`fuzzy_target`] of each [`LEXICON`] entry.
static FUZZY: [bool; LEN] = fuzzy_targets(&LEXICON);

/// For each ASCII character, the `[start, end)` of its run in [`LEXICON`]
/// (the common case in English text needs no search at all).
const fn ascii_runs<const N: usize>(first: &[u32; N]) -> [[u16; 2]; 128] {
    let mut out = [[0u16; 2]; 128];
    let mut i = 0;
    while i < N {
        let f = first[i];
        if f < 128 {
            let slot = &mut out[f as usize];
            if slot[1] == 0 {
                slot[0] = i as u16;
            }
            slot[1] = i as u16 + 1;
        }
        i += 1;
    }
    out
}

/// [`ascii_runs`] of [`FIRST`].
static ASCII_RUNS: [[u16; 2]; 128] = ascii_runs(&firsts(&LEXICON));

/// The index range of the entries whose phrase starts with `c`.
fn range_of(c: char) -> core::ops::Range<usize> {
    if let Some([lo, hi]) = ASCII_RUNS.get(c as usize) {
        return usize::from(*lo)..usize::from(*hi);
    }
    let c = c as u32;
    let lo = FIRST.partition_point(|&f| f < c);
    let hi = lo + FIRST.get(lo..).unwrap_or(&[]).partition_point(|&f| f == c);
    lo..hi
}

/// The entries whose phrase starts with `c`.
pub(super) fn starting_with(c: char) -> &'static [Entry] {
    LEXICON.get(range_of(c)).unwrap_or(&[])
}

/// A lexicon entry found in a message, as byte offsets into the normalised text.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit {
    pub kind: Kind,
    pub weight: u8,
    pub start: usize,
    pub end: usize,
    /// Index of the clause the hit is in (clauses split at punctuation and
    /// at `Boundary` words).
    pub clause: usize,
}

/// Characters that end a clause.
pub(super) fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | ';' | ':' | '!' | '?' | '\n' | '(' | ')' | '[' | ']' | '"' | '~'
    )
}

pub(super) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '\'' || c == '*'
}

/// The hits of a message and where its clauses start.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub hits: Vec<Hit>,
    /// Byte offset at which each clause starts; `clause_starts[0] == 0`.
    pub clause_starts: Vec<usize>,
}

impl Scan {
    /// The byte range of clause `i`.
    pub fn clause_span(&self, i: usize, text_len: usize) -> (usize, usize) {
        let start = self.clause_starts.get(i).copied().unwrap_or(text_len);
        let end = self.clause_starts.get(i + 1).copied().unwrap_or(text_len);
        (start, end)
    }

    /// The clause a byte offset falls in.
    pub fn clause_of(&self, at: usize) -> usize {
        self.clause_starts
            .partition_point(|&s| s <= at)
            .saturating_sub(1)
    }
}

/// Scans normalised `text` into hits with longest-match, word-bounded for
/// English; an unmatched English word of four or more letters gets a fuzzy try.
pub(super) fn scan(text: &str) -> Scan {
    let mut out = Scan {
        hits: Vec::new(),
        clause_starts: alloc::vec![0],
    };
    let mut clause = 0usize;
    let mut i = 0usize;
    let mut prev: Option<char> = None;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        let clen = c.len_utf8();
        if is_clause_break(c) {
            i += clen;
            if out.clause_starts.last() != Some(&i) && prev.is_none_or(|p| !is_clause_break(p)) {
                clause += 1;
                out.clause_starts.push(i);
            } else if let Some(last) = out.clause_starts.last_mut() {
                *last = i;
            }
            prev = Some(c);
            continue;
        }
        let word_start = !(c.is_ascii_alphanumeric() && prev.is_some_and(is_word_char));
        let found = if word_start {
            longest_at(text, i)
        } else {
            None
        };
        let found = found.or_else(|| {
            if word_start && c.is_ascii_alphabetic() {
                fuzzy_at(text, i)
            } else {
                None
            }
        });
        match found {
            Some((e, end)) => {
                if e.kind == Kind::Boundary {
                    clause += 1;
                    out.clause_starts.push(end);
                } else {
                    out.hits.push(Hit {
                        kind: e.kind,
                        weight: e.weight,
                        start: i,
                        end,
                        clause,
                    });
                }
                prev = text.get(..end).and_then(|s| s.chars().next_back());
                i = end;
            }
            None => {
                prev = Some(c);
                i += clen;
            }
        }
    }
    out
}

/// The longest entry matching at byte `i`, and where it ends.
fn longest_at(text: &str, i: usize) -> Option<(Entry, usize)> {
    let rest = text.get(i..)?;
    let first = rest.chars().next()?;
    let mut best: Option<(Entry, usize)> = None;
    for e in starting_with(first) {
        let (pat, stem) = e.pattern();
        // The last byte rejects most candidates before a full comparison.
        let (pb, rb) = (pat.as_bytes(), rest.as_bytes());
        if pb.len() > rb.len()
            || pb.last() != rb.get(pb.len().wrapping_sub(1))
            || !rest.starts_with(pat)
        {
            continue;
        }
        let mut end = i + pat.len();
        let ascii_tail = pat
            .as_bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if ascii_tail {
            let after = text.get(end..).unwrap_or("");
            if stem {
                end += after
                    .find(|ch: char| !ch.is_ascii_alphabetic())
                    .unwrap_or(after.len());
            } else if after
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphanumeric())
            {
                continue;
            }
        }
        if best
            .is_none_or(|(b, bend)| end > bend || (end == bend && pat.len() > b.pattern().0.len()))
        {
            best = Some((*e, end));
        }
    }
    best
}

/// Kinds a misspelt word may be matched to. Threats, security and money are
/// exact-only: "polite" must never read as "police".
const fn fuzzy_kind(k: Kind) -> bool {
    matches!(
        k,
        Kind::Noun | Kind::Verb | Kind::Anger | Kind::Frustration | Kind::Urgency
    )
}

/// Typo tolerance for an English word with no exact entry: words of 4-5
/// letters may have two neighbouring letters swapped ("tlak"), words of 6-8
/// one edit ("terible"), longer words two ("dissapointed"); the first letter
/// must be right. Distance is the optimal string alignment distance
/// (Damerau-Levenshtein restricted to non-overlapping transpositions).
fn fuzzy_at(text: &str, i: usize) -> Option<(Entry, usize)> {
    let rest = text.get(i..)?;
    let len = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if !(4..=MAX_FUZZY).contains(&len) || rest[len..].starts_with(|c: char| is_word_char(c)) {
        return None;
    }
    let word = rest.get(..len)?.as_bytes();
    let max = if len >= 9 { 2 } else { 1 };
    let mut best: Option<(Entry, usize)> = None;
    for k in range_of(char::from(word[0])) {
        let (Some(e), Some(true)) = (LEXICON.get(k), FUZZY.get(k).copied()) else {
            continue;
        };
        let p = e.phrase.as_bytes();
        if p.len().abs_diff(len) > max || p == word {
            continue;
        }
        let d = if len <= 5 {
            if is_one_swap(word, p) { Some(1) } else { None }
        } else {
            osa_within(word, p, max)
        };
        let Some(d) = d else { continue };
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((*e, d));
        }
    }
    best.map(|(e, _)| (e, i + len))
}

/// Longest word the fuzzy matcher looks at.
const MAX_FUZZY: usize = 24;

fn is_one_swap(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = (0..a.len()).filter(|&k| a[k] != b[k]);
    match (diff.next(), diff.next(), diff.next()) {
        (Some(x), Some(y), None) => y == x + 1 && a[x] == b[y] && a[y] == b[x],
        _ => false,
    }
}

/// Optimal string alignment distance of two short ASCII words, if it is at
/// most `max` (rolling rows; gives up as soon as a whole row exceeds `max`).
fn osa_within(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    const W: usize = MAX_FUZZY + 1;
    let (n, m) = (a.len(), b.len());
    if n > MAX_FUZZY || m > MAX_FUZZY {
        return None;
    }
    let (mut prev2, mut prev, mut cur) = ([0usize; W], [0usize; W], [0usize; W]);
    for (j, cell) in prev.iter_mut().enumerate().take(m + 1) {
        *cell = j;
    }
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        prev2 = prev;
        prev = cur;
    }
    Some(prev[m]).filter(|&d| d <= max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::normalize::normalize;

    #[test]
    fn lexicon_is_sorted_unique_and_folded() {
        for pair in LEXICON.windows(2) {
            assert!(
                pair[0].phrase < pair[1].phrase,
                "{:?} / {:?}",
                pair[0].phrase,
                pair[1].phrase
            );
        }
        for e in LEXICON.iter() {
            let (pat, _) = e.pattern();
            assert!(!pat.is_empty());
            assert_eq!(
                normalize(pat).text,
                pat,
                "entry {pat:?} is not in folded form"
            );
        }
    }

    #[test]
    fn first_char_index_agrees_with_the_entries() {
        for e in LEXICON.iter() {
            let c = e.phrase.chars().next().unwrap();
            let run = starting_with(c);
            assert!(run.iter().all(|x| x.phrase.starts_with(c)));
            assert!(run.iter().any(|x| x.phrase == e.phrase));
        }
        assert!(starting_with(' ').is_empty());
        assert!(
            LEXICON.len() < usize::from(u16::MAX),
            "ASCII_RUNS holds u16 indices"
        );
    }

    #[test]
    fn longest_match_wins() {
        let kinds = |s: &str| {
            scan(&normalize(s).text)
                .hits
                .iter()
                .map(|h| h.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds("不要脸"), [Kind::Anger]);
        assert_eq!(kinds("人工智能客服"), [Kind::Neutral, Kind::Noun]);
        assert_eq!(kinds("不要机器人"), [Kind::Negator, Kind::AntiBot]);
        assert_eq!(kinds("my travel agent"), [Kind::Noun]);
        assert_eq!(kinds("agents"), [Kind::Noun]);
        assert_eq!(kinds("scammers!"), [Kind::Anger]);
        assert_eq!(kinds("madness"), []);
    }

    #[test]
    fn typos_within_reason() {
        let kinds = |s: &str| {
            scan(s)
                .hits
                .iter()
                .map(|h| (h.kind, h.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds("tlak"), [(Kind::Verb, 4)]);
        assert_eq!(kinds("reprsentative"), [(Kind::Noun, 13)]);
        assert_eq!(kinds("terible"), [(Kind::Anger, 7)]);
        assert_eq!(kinds("dissapointed"), [(Kind::Frustration, 12)]);
        // exact-only kinds and unrelated words stay unmatched
        assert_eq!(kinds("polite"), []);
        assert_eq!(kinds("walk"), []);
        assert_eq!(osa_within(b"abcd", b"abdc", 2), Some(1));
        assert_eq!(osa_within(b"kitten", b"sitting", 3), Some(3));
        assert_eq!(osa_within(b"kitten", b"sitting", 2), None);
        assert_eq!(
            osa_within(b"ca", b"abc", 3),
            Some(3),
            "OSA, not full Damerau"
        );
    }

    #[test]
    fn clauses_split_at_punctuation_and_but() {
        let n = normalize("不用了，但是 I want a human!! ok");
        let s = scan(&n.text);
        let clauses: Vec<usize> = s.hits.iter().map(|h| h.clause).collect();
        assert_eq!(clauses, [0, 2, 2, 3]);
    }
}
