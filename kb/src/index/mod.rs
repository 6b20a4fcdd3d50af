//! A published knowledge base: chunks, a BM25 index and optional vectors,
//! searched alone or fused by reciprocal-rank fusion (Cormack, Clarke &
//! Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
//! Rank Learning Methods", SIGIR 2009), weighted per ranking.
//!
//! Serialised form: the 4-byte magic `KBI2` then the index as MessagePack
//! (named fields). `KBI1` (lexical-only, before the HNSW graph) still
//! loads when it holds no vectors.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::embed::{EmbedKind, Embedder};
use crate::lexical::{Bm25, tokenize};
use crate::{Chunk, Error, Result};

pub mod vector;
use vector::{HnswConfig, VectorIndex};

/// The bytes every serialised index starts with; the digit is the format.
const MAGIC: &[u8; 4] = b"KBI2";
/// The lexical-only format before it.
const MAGIC_V1: &[u8; 4] = b"KBI1";

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
    /// `"tokenize"`, `"embed"`, `"hnsw"` or `"done"`.
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
    vectors: Option<VectorIndex>,
    embedder_model: Option<String>,
}

/// The format-1 index, read for compatibility (it never held vectors).
#[derive(Deserialize)]
struct KbIndexV1 {
    chunks: Vec<Chunk>,
    bm25: Bm25,
    vectors: Option<serde::de::IgnoredAny>,
    embedder_model: Option<String>,
}

/// How an index is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Texts per embedder call.
    pub embed_batch: usize,
    /// The HNSW graph's parameters.
    pub hnsw: HnswConfig,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            embed_batch: 16,
            hnsw: HnswConfig::default(),
        }
    }
}

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
    /// Indexes `chunks`; embeds them too when `embedder` is given (with the
    /// default [`IndexConfig`]).
    pub fn build(
        chunks: Vec<Chunk>,
        embedder: Option<&dyn Embedder>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KbIndex> {
        KbIndex::build_with(chunks, embedder, &IndexConfig::default(), progress)
    }

    /// [`KbIndex::build`] with explicit batch size and HNSW parameters.
    pub fn build_with(
        chunks: Vec<Chunk>,
        embedder: Option<&dyn Embedder>,
        cfg: &IndexConfig,
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
                for batch in chunks.chunks(cfg.embed_batch.max(1)) {
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
                if let Some(r) = rows.iter().find(|r| r.len() != e.dim()) {
                    return Err(Error::Dimension {
                        want: e.dim(),
                        got: r.len(),
                    });
                }
                progress(Progress {
                    stage: "hnsw",
                    done: 0,
                    total,
                });
                let v = VectorIndex::build(rows, &cfg.hnsw)?;
                (Some(v), Some(e.model_id().to_owned()))
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
        self.vectors.as_ref().and_then(|v| v.row(i))
    }

    /// The vector index, if the index has vectors.
    pub fn vectors(&self) -> Option<&VectorIndex> {
        self.vectors.as_ref()
    }

    /// Serialises the index (then sealed by the caller).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        rmp_serde::encode::write_named(&mut out, self).map_err(|e| Error::Format(e.to_string()))?;
        Ok(out)
    }

    /// Reads what [`KbIndex::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Result<KbIndex> {
        let fmt = |e: rmp_serde::decode::Error| Error::Format(e.to_string());
        if let Some(body) = b.strip_prefix(MAGIC.as_slice()) {
            let idx: KbIndex = rmp_serde::from_slice(body).map_err(fmt)?;
            if let Some(v) = &idx.vectors
                && v.len() != idx.chunks.len()
            {
                return Err(Error::Format(format!(
                    "{} vectors for {} chunks",
                    v.len(),
                    idx.chunks.len()
                )));
            }
            return Ok(idx);
        }
        if let Some(body) = b.strip_prefix(MAGIC_V1.as_slice()) {
            let v1: KbIndexV1 = rmp_serde::from_slice(body).map_err(fmt)?;
            if v1.vectors.is_some() {
                return Err(Error::Format(
                    "format-1 index with vectors: rebuild it (publish again)".into(),
                ));
            }
            return Ok(KbIndex {
                chunks: v1.chunks,
                bm25: v1.bm25,
                vectors: None,
                embedder_model: v1.embedder_model,
            });
        }
        Err(Error::Format(
            "not a kefu knowledge-base index (bad magic)".into(),
        ))
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
mod tests;
