//! Cutting entries into chunks that retrieval returns and answers cite.
//!
//! A curated FAQ entry is one chunk ([`faq_chunk`]). A document
//! ([`chunk_document`]) is read as Markdown blocks: headings, fenced code
//! blocks and paragraphs. Blocks are packed into chunks of at most
//! [`ChunkConfig::max_chars`] characters under the nearest heading; a
//! paragraph longer than that is cut at sentence ends (`。！？；.!?` and
//! line breaks), never inside a sentence, so a Chinese sentence always
//! stays whole. A fenced code block is never cut (it may make its chunk
//! longer than the bound). Consecutive chunks of one section share up to
//! [`ChunkConfig::overlap_chars`] characters of whole sentences.

use serde::{Deserialize, Serialize};

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A curated question and answer, answered verbatim.
    Faq,
    /// A document, answered from passages.
    Document,
}

/// A retrievable, citable piece of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// `<entry_id>#<n>`.
    pub id: String,
    /// The FAQ entry or document it comes from.
    pub entry_id: String,
    /// Its kind.
    pub kind: EntryKind,
    /// The FAQ question, or the document title (with the section heading).
    pub title: String,
    /// The FAQ answer, or the passage.
    pub text: String,
    /// Where to read more.
    pub url: Option<String>,
    /// Other phrasings of a FAQ question.
    pub alternates: Vec<String>,
}

/// Chunk size bounds, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// The most characters a chunk holds (code blocks excepted).
    pub max_chars: usize,
    /// Characters of whole sentences repeated from the previous chunk.
    pub overlap_chars: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_chars: 600,
            overlap_chars: 80,
        }
    }
}

/// The one chunk of a FAQ entry.
pub fn faq_chunk(entry_id: &str, question: &str, answer: &str, alternates: &[String]) -> Chunk {
    Chunk {
        id: format!("{entry_id}#0"),
        entry_id: entry_id.to_owned(),
        kind: EntryKind::Faq,
        title: question.trim().to_owned(),
        text: answer.trim().to_owned(),
        url: None,
        alternates: alternates.iter().map(|a| a.trim().to_owned()).collect(),
    }
}

enum Block {
    Heading(String),
    Code(String),
    Para(String),
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para = String::new();
    let mut code: Option<String> = None;
    let end_para = |para: &mut String, out: &mut Vec<Block>| {
        let p = para.trim();
        if !p.is_empty() {
            out.push(Block::Para(p.to_owned()));
        }
        para.clear();
    };
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(c) = code.as_mut() {
            c.push_str(line);
            c.push('\n');
            if t.starts_with("```") {
                out.push(Block::Code(c.trim_end().to_owned()));
                code = None;
            }
            continue;
        }
        if t.starts_with("```") {
            end_para(&mut para, &mut out);
            code = Some(format!("{line}\n"));
        } else if t.starts_with('#') {
            end_para(&mut para, &mut out);
            let h = t.trim_start_matches('#').trim();
            if !h.is_empty() {
                out.push(Block::Heading(h.to_owned()));
            }
        } else if t.is_empty() {
            end_para(&mut para, &mut out);
        } else {
            if !para.is_empty() {
                para.push('\n');
            }
            para.push_str(line.trim_end());
        }
    }
    if let Some(c) = code {
        // An unclosed fence runs to the end of the text: still one block.
        out.push(Block::Code(c.trim_end().to_owned()));
    }
    end_para(&mut para, &mut out);
    out
}

/// Whether `c` ends a sentence.
pub(crate) fn sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | '\n' | '…') || c == '.'
}

/// `text` cut after each sentence end (the end stays with its sentence; a
/// `.` counts only before whitespace, so `3.5` and `kefu.example` stay).
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let next = it.peek().map(|&(_, n)| n);
        let ends = match c {
            '.' => next.is_none_or(char::is_whitespace),
            _ => sentence_end(c),
        };
        // Keep closing quotes/brackets with the sentence they close.
        if ends && !matches!(next, Some('”' | '」' | '）' | ')' | '"')) {
            let end = i + c.len_utf8();
            if !text[start..end].trim().is_empty() {
                out.push(&text[start..end]);
            }
            start = end;
        }
    }
    if !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

struct Packer<'a> {
    cfg: &'a ChunkConfig,
    entry_id: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    heading: Option<String>,
    cur: Vec<String>,
    out: Vec<Chunk>,
}

impl Packer<'_> {
    fn len(&self) -> usize {
        self.cur.iter().map(|s| chars(s)).sum::<usize>() + self.cur.len()
    }

    fn emit(&mut self, keep_overlap: bool) {
        if self.cur.is_empty() {
            return;
        }
        let text = self.cur.join("\n").trim().to_owned();
        let title = match &self.heading {
            Some(h) if h != self.title => format!("{} › {h}", self.title),
            _ => self.title.to_owned(),
        };
        self.out.push(Chunk {
            id: format!("{}#{}", self.entry_id, self.out.len()),
            entry_id: self.entry_id.to_owned(),
            kind: EntryKind::Document,
            title,
            text,
            url: self.url.map(str::to_owned),
            alternates: Vec::new(),
        });
        let last = self.cur.pop().unwrap_or_default();
        self.cur.clear();
        if keep_overlap && self.cfg.overlap_chars > 0 && !last.starts_with("```") {
            // Whole sentences from the end of the last piece, within budget.
            let mut tail: Vec<&str> = Vec::new();
            let mut n = 0;
            for s in sentences(&last).into_iter().rev() {
                n += chars(s);
                if n > self.cfg.overlap_chars {
                    break;
                }
                tail.push(s);
            }
            if !tail.is_empty() {
                tail.reverse();
                self.cur.push(tail.concat().trim().to_owned());
            }
        }
    }

    fn push(&mut self, piece: String) {
        if !self.cur.is_empty() && self.len() + chars(&piece) + 1 > self.cfg.max_chars {
            self.emit(true);
            // An overlap that leaves no room for the piece is dropped.
            if self.len() + chars(&piece) + 1 > self.cfg.max_chars {
                self.cur.clear();
            }
        }
        self.cur.push(piece);
    }

    fn para(&mut self, p: &str) {
        if chars(p) <= self.cfg.max_chars {
            return self.push(p.to_owned());
        }
        // Too long: pack its sentences; a single over-long sentence is kept
        // whole rather than cut mid-sentence.
        let mut piece = String::new();
        for s in sentences(p) {
            if !piece.is_empty() && chars(&piece) + chars(s) > self.cfg.max_chars {
                self.push(std::mem::take(&mut piece).trim().to_owned());
            }
            piece.push_str(s);
        }
        if !piece.trim().is_empty() {
            self.push(piece.trim().to_owned());
        }
    }
}

/// The chunks of a Markdown or plain-text document.
pub fn chunk_document(
    entry_id: &str,
    title: &str,
    text: &str,
    url: Option<&str>,
    cfg: &ChunkConfig,
) -> Vec<Chunk> {
    let cfg = ChunkConfig {
        max_chars: cfg.max_chars.max(50),
        overlap_chars: cfg.overlap_chars.min(cfg.max_chars / 2),
    };
    let mut p = Packer {
        cfg: &cfg,
        entry_id,
        title: title.trim(),
        url,
        heading: None,
        cur: Vec::new(),
        out: Vec::new(),
    };
    for b in blocks(text) {
        match b {
            Block::Heading(h) => {
                p.emit(false);
                p.heading = Some(h);
            }
            Block::Code(c) => p.push(c),
            Block::Para(t) => p.para(&t),
        }
    }
    p.emit(false);
    p.out
}

#[cfg(test)]
mod tests;
