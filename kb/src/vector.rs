//! Vector search over unit vectors: cosine similarity as a dot product.
//!
//! Exact search scans every vector; it is the baseline any approximate
//! index is measured against (recall@10), and it is what small knowledge
//! bases use.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Unit vectors, one per chunk, stored flat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vectors {
    dim: usize,
    data: Vec<f32>,
}

impl Vectors {
    /// Stores `rows`, which must all have one dimension.
    pub fn new(rows: Vec<Vec<f32>>) -> Result<Vectors> {
        let dim = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(dim * rows.len());
        for r in rows {
            if r.len() != dim {
                return Err(Error::Dimension {
                    want: dim,
                    got: r.len(),
                });
            }
            data.extend(r);
        }
        Ok(Vectors { dim, data })
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How many vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        self.data
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or(&[])
    }

    /// The `k` most similar rows to `q`, best first, with cosine scores.
    pub fn search(&self, q: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        if q.len() != self.dim {
            return Err(Error::Dimension {
                want: self.dim,
                got: q.len(),
            });
        }
        let mut v: Vec<(usize, f32)> = (0..self.len()).map(|i| (i, dot(self.row(i), q))).collect();
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

    #[test]
    fn nearest_first_and_dimension_checked() {
        let v = Vectors::new(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]]).unwrap();
        let hits = v.search(&[0.0, 1.0], 2).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(v.search(&[1.0], 2).is_err());
        assert!(Vectors::new(vec![vec![1.0], vec![1.0, 2.0]]).is_err());
    }
}
