//! Vector search over unit vectors: cosine similarity as a dot product,
//! approximated by an HNSW graph (Malkov & Yashunin, "Efficient and robust
//! approximate nearest neighbor search using Hierarchical Navigable Small
//! World graphs", 2016; the `instant-distance` implementation).
//!
//! The graph is part of the serialised index, so loading a published
//! knowledge base never rebuilds it. [`VectorIndex::exact`] scans every
//! vector: it is the baseline the graph's recall@10 is measured against
//! (`benches/retrieval.rs`).

use std::cell::RefCell;
use std::sync::Arc;

use instant_distance::{Builder, HnswMap, Point, Search};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswConfig {
    /// Candidate list size while inserting (graph quality vs build time).
    pub ef_construction: usize,
    /// Candidate list size while searching (recall vs latency); fixed at
    /// build time by `instant-distance`. At least the search depth.
    pub ef_search: usize,
    /// Seed for the level assignment, so builds are reproducible.
    pub seed: u64,
}

impl Default for HnswConfig {
    /// Chosen by the recall@10 sweep at 100k vectors in `benches/retrieval.rs`
    /// (figures in BENCHMARKS.md).
    fn default() -> Self {
        HnswConfig {
            ef_construction: 100,
            ef_search: 96,
            seed: 0x6b65_6675,
        }
    }
}

/// A unit vector; distance is `1 - cosine`.
#[derive(Clone, Serialize, Deserialize)]
struct Unit(Vec<f32>);

impl Point for Unit {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.0, &other.0)
    }
}

/// Unit vectors, one per chunk, with their HNSW graph.
#[derive(Clone, Serialize, Deserialize)]
pub struct VectorIndex {
    dim: usize,
    /// Graph points carry their chunk number as the value.
    map: Arc<HnswMap<Unit, u32>>,
    /// Chunk number -> graph point id (the graph reorders points).
    point_of: Vec<u32>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dim", &self.dim)
            .field("len", &self.point_of.len())
            .finish()
    }
}

thread_local! {
    static SEARCH: RefCell<Search> = RefCell::new(Search::default());
}

impl VectorIndex {
    /// Builds the graph over `rows` (chunk `i` is row `i`); all rows must
    /// have one dimension.
    pub fn build(rows: Vec<Vec<f32>>, cfg: &HnswConfig) -> Result<VectorIndex> {
        let dim = rows.first().map_or(0, Vec::len);
        if let Some(r) = rows.iter().find(|r| r.len() != dim) {
            return Err(Error::Dimension {
                want: dim,
                got: r.len(),
            });
        }
        let n = u32::try_from(rows.len())
            .map_err(|_| Error::Format(format!("{} vectors is too many", rows.len())))?;
        let points: Vec<Unit> = rows.into_iter().map(Unit).collect();
        let map = Builder::default()
            .ef_construction(cfg.ef_construction.max(8))
            .ef_search(cfg.ef_search.max(8))
            .seed(cfg.seed)
            .build(points, (0..n).collect());
        let mut point_of = vec![0u32; n as usize];
        for (pid, &chunk) in map.values.iter().enumerate() {
            if let Some(slot) = point_of.get_mut(chunk as usize) {
                *slot = pid as u32;
            }
        }
        Ok(VectorIndex {
            dim,
            map: Arc::new(map),
            point_of,
        })
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How many vectors.
    pub fn len(&self) -> usize {
        self.point_of.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.point_of.is_empty()
    }

    /// Chunk `i`'s vector.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let pid = *self.point_of.get(i)? as usize;
        self.map
            .iter()
            .nth(pid)
            .map(|(_, p)| p.0.as_slice())
            .filter(|r| !r.is_empty())
    }

    fn check(&self, q: &[f32]) -> Result<()> {
        if q.len() == self.dim {
            Ok(())
        } else {
            Err(Error::Dimension {
                want: self.dim,
                got: q.len(),
            })
        }
    }

    /// About the `k` most similar chunks to `q` (at most `ef_search`), best
    /// first, with cosine scores, from the graph.
    pub fn search(&self, q: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        self.check(q)?;
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let q = Unit(q.to_vec());
        Ok(SEARCH.with(|s| {
            let mut s = s.borrow_mut();
            self.map
                .search(&q, &mut s)
                .take(k)
                .map(|it| (*it.value as usize, 1.0 - it.distance))
                .collect()
        }))
    }

    /// The exact `k` most similar chunks to `q`, by scanning all vectors.
    pub fn exact(&self, q: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        self.check(q)?;
        let mut v: Vec<(usize, f32)> = self
            .map
            .iter()
            .zip(&self.map.values)
            .map(|((_, p), &chunk)| (chunk as usize, dot(&p.0, q)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        Ok(v)
    }
}

/// The dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::normalize(&mut v);
        v
    }

    #[test]
    fn nearest_first_and_dimension_checked() {
        let rows = vec![unit(&[1.0, 0.0]), unit(&[0.0, 1.0]), unit(&[0.6, 0.8])];
        let v = VectorIndex::build(rows.clone(), &HnswConfig::default()).unwrap();
        let hits = v.search(&[0.0, 1.0], 2).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert_eq!(v.row(2), Some(rows[2].as_slice()));
        assert!(v.search(&[1.0], 2).is_err());
        assert!(
            VectorIndex::build(vec![vec![1.0], vec![1.0, 2.0]], &HnswConfig::default()).is_err()
        );
    }

    #[test]
    fn graph_agrees_with_exact_search_on_a_small_set() {
        // 300 deterministic pseudo-random unit vectors in 16 dimensions.
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let rows: Vec<Vec<f32>> = (0..300)
            .map(|_| unit(&(0..16).map(|_| next()).collect::<Vec<_>>()))
            .collect();
        let v = VectorIndex::build(rows.clone(), &HnswConfig::default()).unwrap();
        let mut agree = 0;
        for q in rows.iter().step_by(10) {
            let a: Vec<usize> = v.search(q, 10).unwrap().iter().map(|h| h.0).collect();
            let e: Vec<usize> = v.exact(q, 10).unwrap().iter().map(|h| h.0).collect();
            agree += a.iter().filter(|i| e.contains(i)).count();
        }
        // recall@10 over 30 queries; a graph with ef 96 over 300 points is
        // all but exhaustive.
        assert!(agree >= 290, "recall {agree}/300");
    }
}
