//! BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25
//! and Beyond", 2009) over [`crate::tokenize`] tokens.
//!
//! A chunk's searchable text is its title (counted twice, a poor man's
//! BM25F: a FAQ question says more about what the entry answers than its
//! answer does), its alternates, and its text.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

mod tokenize;
pub use tokenize::{is_stopword, tokenize};

/// Term-frequency saturation.
pub const K1: f32 = 1.2;
/// Length normalisation.
pub const B: f32 = 0.75;

/// An inverted index with BM25 scoring.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bm25 {
    /// term -> (doc, term frequency), docs ascending.
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    avgdl: f32,
}

impl Bm25 {
    /// Indexes `docs` (each a token list); doc ids are positions.
    pub fn build<I: IntoIterator<Item = Vec<String>>>(docs: I) -> Bm25 {
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut doc_len = Vec::new();
        for (d, toks) in docs.into_iter().enumerate() {
            let d = u32::try_from(d).unwrap_or(u32::MAX);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in &toks {
                *tf.entry(t.clone()).or_default() += 1;
            }
            doc_len.push(u32::try_from(toks.len()).unwrap_or(u32::MAX));
            for (t, n) in tf {
                postings.entry(t).or_default().push((d, n));
            }
        }
        let total: u64 = doc_len.iter().map(|&l| u64::from(l)).sum();
        let avgdl = if doc_len.is_empty() {
            1.0
        } else {
            (total as f32 / doc_len.len() as f32).max(1.0)
        };
        Bm25 {
            postings,
            doc_len,
            avgdl,
        }
    }

    /// Documents indexed.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Inverse document frequency (the non-negative BM25+ variant); a term
    /// never seen gets the idf of a term seen once.
    pub fn idf(&self, term: &str) -> f32 {
        let n = self.doc_len.len() as f32;
        let df = self.postings.get(term).map_or(1, Vec::len).max(1) as f32;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// How many documents contain `term`.
    pub fn df(&self, term: &str) -> usize {
        self.postings.get(term).map_or(0, Vec::len)
    }

    /// Whether document `doc` contains `term`.
    pub fn contains(&self, doc: usize, term: &str) -> bool {
        let Ok(d) = u32::try_from(doc) else {
            return false;
        };
        self.postings
            .get(term)
            .is_some_and(|p| p.binary_search_by_key(&d, |&(x, _)| x).is_ok())
    }

    /// The best `k` documents for `query` tokens, best first, with scores.
    pub fn search(&self, query: &[String], k: usize) -> Vec<(usize, f32)> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let mut seen: Vec<&str> = Vec::new();
        for t in query {
            if seen.contains(&t.as_str()) {
                continue;
            }
            seen.push(t);
            let Some(p) = self.postings.get(t) else {
                continue;
            };
            let idf = self.idf(t);
            for &(d, tf) in p {
                let dl = self.doc_len.get(d as usize).copied().unwrap_or(0) as f32;
                let tf = tf as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / self.avgdl));
                *scores.entry(d).or_default() += s;
            }
        }
        let mut v: Vec<(usize, f32)> = scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(docs: &[&str]) -> Bm25 {
        Bm25::build(docs.iter().map(|d| tokenize(d)))
    }

    #[test]
    fn the_document_sharing_rare_terms_ranks_first() {
        let b = idx(&[
            "如何修改收货地址",
            "忘记密码怎么办？可以在登录页点击忘记密码重置",
            "How long does shipping take to Hong Kong",
        ]);
        let hits = b.search(&tokenize("我密码忘了"), 3);
        assert_eq!(hits[0].0, 1, "{hits:?}");
        let hits = b.search(&tokenize("shipping time to HK?"), 3);
        assert_eq!(hits[0].0, 2, "{hits:?}");
    }

    #[test]
    fn unknown_terms_and_empty_queries_find_nothing() {
        let b = idx(&["退货", "refund"]);
        assert!(b.search(&tokenize("bitcoin"), 5).is_empty());
        assert!(b.search(&[], 5).is_empty());
        assert!(Bm25::default().search(&tokenize("退货"), 5).is_empty());
    }
}
