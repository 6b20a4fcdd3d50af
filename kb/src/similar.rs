//! [`SimilarAnswers`]: answers kept for questions asked again in other
//! words (the similar-question cache), by query embedding.
//!
//! The edge caches exact repeats (kefu-core's normalised question); it has
//! no embeddings, so reuse across paraphrases happens here, in the regional
//! service, where the question's vector is computed for retrieval anyway.
//! A lookup is a scan over one tenant's entries for the same knowledge-base
//! version and language (at most [`SimilarAnswers::PER_SCOPE`], 384-wide
//! dot products: tens of microseconds), so it costs nothing next to a
//! model's answer, which is what it saves.
//!
//! Reusing an answer for a different question is worse than not reusing
//! it, so the bar is high and model-specific. For multilingual-e5-small
//! (the shop fixture, `similar_question_threshold_on_the_shop_fixture`,
//! replaying the questions in order): the lowest bar with no wrong reuse
//! on the tuning half is 0.935, but held out 0.935-0.945 still reused two
//! answers across intents, and "does the warranty cover fire damage?" is
//! 0.947 from its water-damage twin; so [`SIMILAR_MIN_COSINE_E5`] is 0.96,
//! where neither half reuses a wrong answer and plain rewordings ("does
//! your warranty cover ...", "is ... covered under ...") still score
//! 0.97-0.99. The fixture's deliberately varied paraphrases rarely reach
//! it (2 of 152 held out): the cache catches rewordings, not rephrasings.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use kefu_core::Locale;

/// The similar-question bar for multilingual-e5-small (Q4).
pub const SIMILAR_MIN_COSINE_E5: f32 = 0.96;

/// The similar-question bar measured for an embedding model, by its
/// [`crate::Embedder::model_id`]: multilingual-e5-small (measured on the Q4
/// weights; the f32 model scores within a few thousandths). `None` for a
/// model nobody measured: its cosines mean something else, so no answer is
/// reused across paraphrases with it unless a bar is configured.
pub fn measured_bar(model_id: &str) -> Option<f32> {
    model_id
        .to_ascii_lowercase()
        .contains("multilingual-e5-small")
        .then_some(SIMILAR_MIN_COSINE_E5)
}

struct Entry<T> {
    locale: Locale,
    vector: Vec<f32>,
    value: T,
}

struct Scope<T> {
    version: u64,
    entries: VecDeque<Entry<T>>,
}

/// Values (answers) by scope (tenant), knowledge-base version, language
/// and question vector; the oldest go first past
/// [`SimilarAnswers::PER_SCOPE`]. Vectors are unit length (as
/// [`crate::Embedder`]s give them), so the dot product is the cosine.
pub struct SimilarAnswers<T> {
    min_cosine: f32,
    scopes: Mutex<HashMap<String, Scope<T>>>,
}

impl<T> std::fmt::Debug for SimilarAnswers<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimilarAnswers")
            .field("min_cosine", &self.min_cosine)
            .finish_non_exhaustive()
    }
}

impl<T: Clone> SimilarAnswers<T> {
    /// The most entries kept per scope.
    pub const PER_SCOPE: usize = 1024;

    /// An empty cache reusing answers at `min_cosine` or above.
    pub fn new(min_cosine: f32) -> SimilarAnswers<T> {
        SimilarAnswers {
            min_cosine,
            scopes: Mutex::new(HashMap::new()),
        }
    }

    fn scopes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Scope<T>>> {
        self.scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value kept for the closest question to `vector` in `scope` at
    /// `version` and `locale`, if it is at least the bar; and its cosine.
    pub fn get(
        &self,
        scope: &str,
        version: u64,
        locale: Locale,
        vector: &[f32],
    ) -> Option<(T, f32)> {
        let scopes = self.scopes();
        let s = scopes.get(scope).filter(|s| s.version == version)?;
        s.entries
            .iter()
            .filter(|e| e.locale == locale && e.vector.len() == vector.len())
            .map(|e| (e, dot(&e.vector, vector)))
            .filter(|(_, c)| *c >= self.min_cosine)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, c)| (e.value.clone(), c))
    }

    /// Keeps `value` for the question `vector`. A newer `version` empties
    /// the scope first (answers rest on the version they came from).
    pub fn put(&self, scope: &str, version: u64, locale: Locale, vector: Vec<f32>, value: T) {
        let mut scopes = self.scopes();
        let s = scopes.entry(scope.to_owned()).or_insert_with(|| Scope {
            version,
            entries: VecDeque::new(),
        });
        if s.version != version {
            if version < s.version {
                return;
            }
            s.version = version;
            s.entries.clear();
        }
        if s.entries.len() >= Self::PER_SCOPE {
            s.entries.pop_front();
        }
        s.entries.push_back(Entry {
            locale,
            vector,
            value,
        });
    }

    /// Drops everything kept for `scope` (a deleted tenant).
    pub fn forget(&self, scope: &str) {
        self.scopes().remove(scope);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn reuses_only_close_questions_of_the_same_scope_version_and_language() {
        let c = SimilarAnswers::new(0.97);
        c.put("t1", 3, Locale::En, unit(&[1.0, 0.0, 0.0]), "refund answer");
        // Close enough (cos 0.995), not close enough (cos 0.95).
        let near = unit(&[1.0, 0.1, 0.0]);
        let far = unit(&[1.0, 0.33, 0.0]);
        assert_eq!(
            c.get("t1", 3, Locale::En, &near).map(|h| h.0),
            Some("refund answer")
        );
        assert_eq!(c.get("t1", 3, Locale::En, &far), None);
        assert_eq!(c.get("t1", 3, Locale::Zh, &near), None, "another language");
        assert_eq!(c.get("t2", 3, Locale::En, &near), None, "another tenant");
        assert_eq!(
            c.get("t1", 4, Locale::En, &near),
            None,
            "another KB version"
        );
        // A newer version retires the old answers; an older one is ignored.
        c.put("t1", 4, Locale::En, unit(&[0.0, 1.0, 0.0]), "v4");
        assert_eq!(c.get("t1", 3, Locale::En, &near), None);
        c.put("t1", 3, Locale::En, unit(&[1.0, 0.0, 0.0]), "stale");
        assert_eq!(c.get("t1", 4, Locale::En, &unit(&[1.0, 0.0, 0.0])), None);
        c.forget("t1");
        assert_eq!(c.get("t1", 4, Locale::En, &unit(&[0.0, 1.0, 0.0])), None);
    }

    #[test]
    fn the_closest_entry_wins_and_the_oldest_go_first() {
        let c = SimilarAnswers::new(0.9);
        c.put("t", 1, Locale::En, unit(&[1.0, 0.2]), "a");
        c.put("t", 1, Locale::En, unit(&[1.0, 0.05]), "b");
        assert_eq!(
            c.get("t", 1, Locale::En, &unit(&[1.0, 0.0])).map(|h| h.0),
            Some("b")
        );
        for i in 0..SimilarAnswers::<&str>::PER_SCOPE {
            c.put("t", 1, Locale::En, unit(&[0.0, 1.0 + i as f32]), "filler");
        }
        assert_eq!(
            c.get("t", 1, Locale::En, &unit(&[1.0, 0.0])),
            None,
            "evicted"
        );
    }
}
