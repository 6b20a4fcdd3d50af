//! A published knowledge base: chunks, a BM25 index and optional vectors,
//! searched alone or fused by reciprocal-rank fusion (Cormack, Clarke &
//! Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
//! Rank Learning Methods", SIGIR 2009).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::embed::{EmbedKind, Embedder};
use crate::lexical::Bm25;
use crate::vector::Vectors;
use crate::{Chunk, Error, Result, tokenize};

/// The bytes every serialised index starts with; the digit is the format.
const MAGIC: &[u8; 4] = b"KBI1";

/// Which rankings a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// BM25 only.
    Lexical,
    /// Vectors only (lexical when the index or query has none).
    Vector,
    /// Both, fused.
    #[default]
    Hybrid,
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// Which rankings.
    pub mode: SearchMode,
    /// How many hits.
    pub k: usize,
    /// RRF's constant (60 in the paper).
    pub rrf_k: f32,
    /// Weight of the lexical ranking in the fusion.
    pub lexical_weight: f32,
    /// Weight of the vector ranking in the fusion.
    pub vector_weight: f32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            mode: SearchMode::Hybrid,
            k: 5,
            rrf_k: 60.0,
            lexical_weight: 1.0,
            vector_weight: 1.0,
        }
    }
}

/// A chunk's place in one ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankScore {
    /// 1-based rank.
    pub rank: usize,
    /// The ranking's own score (BM25, or cosine).
    pub score: f32,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index into [`KbIndex::chunks`].
    pub chunk: usize,
    /// The fused score (RRF), or the single ranking's score.
    pub score: f32,
    /// Its lexical rank, if it had one.
    pub lexical: Option<RankScore>,
    /// Its vector rank, if it had one.
    pub vector: Option<RankScore>,
}

/// Progress of a long build, for progress bars and job status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `"tokenize"`, `"embed"` or `"done"`.
    pub stage: &'static str,
    /// Items done in this stage.
    pub done: usize,
    /// Items in this stage.
    pub total: usize,
}

/// A searchable, immutable knowledge-base version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KbIndex {
    chunks: Vec<Chunk>,
    bm25: Bm25,
    vectors: Option<Vectors>,
    embedder_model: Option<String>,
}

/// Embedding batch size during a build.
const EMBED_BATCH: usize = 32;

fn searchable(c: &Chunk) -> String {
    let mut s = format!("{}\n{}\n", c.title, c.title);
    for a in &c.alternates {
        s.push_str(a);
        s.push('\n');
    }
    s.push_str(&c.text);
    s
}

fn passage(c: &Chunk) -> String {
    format!("{}\n{}", c.title, c.text)
}

impl KbIndex {
    /// Indexes `chunks`; embeds them too when `embedder` is given.
    pub fn build(
        chunks: Vec<Chunk>,
        embedder: Option<&dyn Embedder>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KbIndex> {
        let total = chunks.len();
        let mut toks = Vec::with_capacity(total);
        for (i, c) in chunks.iter().enumerate() {
            toks.push(tokenize(&searchable(c)));
            if i % 64 == 0 {
                progress(Progress {
                    stage: "tokenize",
                    done: i,
                    total,
                });
            }
        }
        let bm25 = Bm25::build(toks);
        let (vectors, embedder_model) = match embedder {
            None => (None, None),
            Some(e) => {
                let mut rows = Vec::with_capacity(total);
                for batch in chunks.chunks(EMBED_BATCH) {
                    progress(Progress {
                        stage: "embed",
                        done: rows.len(),
                        total,
                    });
                    let texts: Vec<String> = batch.iter().map(passage).collect();
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let v = e.embed(&refs, EmbedKind::Passage)?;
                    if v.len() != batch.len() {
                        return Err(Error::Embedding(format!(
                            "{} vectors for {} texts",
                            v.len(),
                            batch.len()
                        )));
                    }
                    rows.extend(v);
                }
                (Some(Vectors::new(rows)?), Some(e.model_id().to_owned()))
            }
        };
        progress(Progress {
            stage: "done",
            done: total,
            total,
        });
        Ok(KbIndex {
            chunks,
            bm25,
            vectors,
            embedder_model,
        })
    }

    /// The chunks, in index order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The model the vectors came from; `None` for a lexical-only index.
    pub fn embedder_model(&self) -> Option<&str> {
        self.embedder_model.as_deref()
    }

    /// The BM25 index (for [`crate::judge`]).
    pub fn lexical(&self) -> &Bm25 {
        &self.bm25
    }

    /// The stored vector of chunk `i`.
    pub fn vector(&self, i: usize) -> Option<&[f32]> {
        self.vectors
            .as_ref()
            .map(|v| v.row(i))
            .filter(|r| !r.is_empty())
    }

    /// Serialises the index (then sealed by the caller).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        rmp_serde::encode::write_named(&mut out, self).map_err(|e| Error::Format(e.to_string()))?;
        Ok(out)
    }

    /// Reads what [`KbIndex::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Result<KbIndex> {
        let body = b
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::Format("not a kefu knowledge-base index (bad magic)".into()))?;
        rmp_serde::from_slice(body).map_err(|e| Error::Format(e.to_string()))
    }

    /// Searches for `query`; `query_vec` is its embedding by the index's
    /// model, if the caller has one.
    pub fn search(&self, query: &str, query_vec: Option<&[f32]>, opts: &SearchOptions) -> Vec<Hit> {
        let k = opts.k.max(1);
        let depth = (k * 4).max(20);
        let lexical = match opts.mode {
            SearchMode::Vector if query_vec.is_some() && self.vectors.is_some() => Vec::new(),
            _ => self.bm25.search(&tokenize(query), depth),
        };
        let vector = match (opts.mode, query_vec, &self.vectors) {
            (SearchMode::Lexical, _, _) | (_, None, _) | (_, _, None) => Vec::new(),
            (_, Some(q), Some(v)) => v.search(q, depth).unwrap_or_default(),
        };
        let single = lexical.is_empty() || vector.is_empty();
        let mut fused: HashMap<usize, Hit> = HashMap::new();
        for (list, w, is_lex) in [
            (&lexical, opts.lexical_weight, true),
            (&vector, opts.vector_weight, false),
        ] {
            for (r, &(chunk, score)) in list.iter().enumerate() {
                let rs = RankScore { rank: r + 1, score };
                let h = fused.entry(chunk).or_insert(Hit {
                    chunk,
                    score: 0.0,
                    lexical: None,
                    vector: None,
                });
                if is_lex {
                    h.lexical = Some(rs);
                } else {
                    h.vector = Some(rs);
                }
                h.score += if single {
                    score
                } else {
                    w / (opts.rrf_k + (r + 1) as f32)
                };
            }
        }
        let mut hits: Vec<Hit> = fused.into_values().collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faq_chunk;

    fn chunks() -> Vec<Chunk> {
        vec![
            faq_chunk(
                "faq-pw",
                "忘记密码怎么办",
                "在登录页点击“忘记密码”，用手机验证码重置。",
                &[],
            ),
            faq_chunk(
                "faq-refund",
                "How do I get a refund?",
                "Refunds go back to the original payment method within 5 business days.",
                &[],
            ),
            faq_chunk("faq-ship", "配送需要多久", "大陆地区一般 2-4 天送达。", &[]),
        ]
    }

    #[test]
    fn lexical_search_finds_and_round_trips_through_bytes() {
        let idx = KbIndex::build(chunks(), None, &mut |_| {}).unwrap();
        let hits = idx.search("我忘了密码", None, &SearchOptions::default());
        assert_eq!(idx.chunks()[hits[0].chunk].entry_id, "faq-pw");
        let back = KbIndex::from_bytes(&idx.to_bytes().unwrap()).unwrap();
        assert_eq!(
            back.search("refund please", None, &SearchOptions::default())[0].chunk,
            1
        );
        assert!(back.embedder_model().is_none());
        assert!(KbIndex::from_bytes(b"nonsense").is_err());
        assert!(KbIndex::from_bytes(b"KBI1\xc1").is_err());
    }

    #[derive(Debug)]
    struct Axis;
    /// A toy embedder for fusion arithmetic only: one axis per known topic.
    impl Embedder for Axis {
        fn model_id(&self) -> &str {
            "axis"
        }
        fn dim(&self) -> usize {
            3
        }
        fn embed(&self, texts: &[&str], _: EmbedKind) -> Result<Vec<Vec<f32>>> {
            Ok(texts
                .iter()
                .map(|t| {
                    if t.contains("密码") || t.contains("password") {
                        vec![1.0, 0.0, 0.0]
                    } else if t.contains("efund") || t.contains("退款") {
                        vec![0.0, 1.0, 0.0]
                    } else {
                        vec![0.0, 0.0, 1.0]
                    }
                })
                .collect())
        }
    }

    #[test]
    fn hybrid_fuses_both_rankings_and_modes_select_them() {
        let idx = KbIndex::build(chunks(), Some(&Axis), &mut |_| {}).unwrap();
        assert_eq!(idx.embedder_model(), Some("axis"));
        // "退款" has no lexical match in the English FAQ; the vector finds it.
        let q = Axis.embed(&["退款"], EmbedKind::Query).unwrap().remove(0);
        let vec_only = SearchOptions {
            mode: SearchMode::Vector,
            ..Default::default()
        };
        assert_eq!(idx.search("退款", Some(&q), &vec_only)[0].chunk, 1);
        let lex_only = SearchOptions {
            mode: SearchMode::Lexical,
            ..Default::default()
        };
        assert!(
            idx.search("退款", Some(&q), &lex_only)
                .iter()
                .all(|h| h.chunk != 1)
        );
        let hy = idx.search("退款", Some(&q), &SearchOptions::default());
        assert_eq!(hy[0].chunk, 1);
        assert!(hy[0].vector.is_some());
        // A chunk ranked by both beats one ranked by either alone.
        let q = Axis
            .embed(&["password"], EmbedKind::Query)
            .unwrap()
            .remove(0);
        let hy = idx.search("忘记密码", Some(&q), &SearchOptions::default());
        assert_eq!(hy[0].chunk, 0);
        assert!(hy[0].lexical.is_some() && hy[0].vector.is_some());
    }
}
