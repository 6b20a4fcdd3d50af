//! [`OpenAiEmbedder`]: an OpenAI-compatible `POST {base}/v1/embeddings`
//! client (the request and response shapes of OpenAI's embeddings API,
//! which llama.cpp's server, vLLM and text-embeddings-inference also serve).
//!
//! It blocks (reqwest's blocking client): call it from a blocking thread,
//! never from inside an async task. Returned vectors are re-normalised, as
//! not every server normalises.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{EmbedKind, Embedder, Error, Result, normalize};

/// A remote embedding model.
pub struct OpenAiEmbedder {
    url: String,
    api_key: Option<String>,
    model: String,
    dim: AtomicUsize,
    query_prefix: String,
    passage_prefix: String,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for OpenAiEmbedder {
    // The API key never reaches Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl OpenAiEmbedder {
    /// A client for `model` at `base_url` (e.g. `http://127.0.0.1:8080`; a
    /// trailing `/v1` is accepted), sending `api_key` as a bearer token.
    /// The dimension is learnt from the first response (or
    /// [`OpenAiEmbedder::with_dim`]).
    pub fn new(base_url: &str, api_key: Option<String>, model: &str) -> OpenAiEmbedder {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        OpenAiEmbedder {
            url: format!("{base}/v1/embeddings"),
            api_key,
            model: model.to_owned(),
            dim: AtomicUsize::new(0),
            query_prefix: String::new(),
            passage_prefix: String::new(),
            client,
        }
    }

    /// Trusts the CA certificates in `pem` (one or more PEM blocks) as well
    /// as the system's, for a server behind a private CA.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<OpenAiEmbedder> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Embedding(format!("CA certificates: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Embedding(
                "CA certificates: no PEM certificate found".into(),
            ));
        }
        let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60));
        for c in certs {
            b = b.add_root_certificate(c);
        }
        self.client = b
            .build()
            .map_err(|e| Error::Embedding(format!("https client: {e}")))?;
        Ok(self)
    }

    /// Declares the dimension up front.
    pub fn with_dim(self, dim: usize) -> OpenAiEmbedder {
        self.dim.store(dim, Ordering::Relaxed);
        self
    }

    /// Prefixes for queries and passages (e5 models want `query: ` and
    /// `passage: ` unless the server adds them).
    pub fn with_prefixes(mut self, query: &str, passage: &str) -> OpenAiEmbedder {
        self.query_prefix = query.to_owned();
        self.passage_prefix = passage.to_owned();
        self
    }
}

fn parse(body: &Value, n: usize) -> Result<Vec<Vec<f32>>> {
    let bad = |m: &str| Error::Embedding(format!("embeddings response: {m}"));
    let data = body["data"]
        .as_array()
        .ok_or_else(|| bad("no data array"))?;
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (pos, d) in data.iter().enumerate() {
        let i = d["index"].as_u64().map_or(pos, |i| i as usize);
        let v = d["embedding"]
            .as_array()
            .ok_or_else(|| bad("an item has no embedding"))?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| bad("a non-numeric embedding value"))?;
        *out.get_mut(i).ok_or_else(|| bad("index out of range"))? = Some(v);
    }
    out.into_iter()
        .map(|v| v.ok_or_else(|| bad("an input has no embedding")))
        .collect()
}

impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim.load(Ordering::Relaxed)
    }

    fn embed(&self, texts: &[&str], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = match kind {
            EmbedKind::Query => &self.query_prefix,
            EmbedKind::Passage => &self.passage_prefix,
        };
        let input: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({ "model": self.model, "input": input }));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req
            .send()
            .map_err(|e| Error::Embedding(format!("POST {}: {e}", self.url)))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .map_err(|e| Error::Embedding(format!("{status} from {}: {e}", self.url)))?;
        if !status.is_success() {
            let msg = body["error"]["message"].as_str().unwrap_or("no message");
            return Err(Error::Embedding(format!(
                "{status} from {}: {msg}",
                self.url
            )));
        }
        let mut vs = parse(&body, texts.len())?;
        let dim = vs.first().map_or(0, Vec::len);
        let want = self.dim();
        for v in &mut vs {
            if v.len() != dim || dim == 0 || (want != 0 && v.len() != want) {
                return Err(Error::Dimension {
                    want: if want != 0 { want } else { dim },
                    got: v.len(),
                });
            }
            normalize(v);
        }
        self.dim.store(dim, Ordering::Relaxed);
        Ok(vs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_ordered_by_index_and_checked() {
        let body = json!({"data": [
            {"index": 1, "embedding": [0.0, 2.0]},
            {"index": 0, "embedding": [3.0, 4.0]},
        ]});
        let v = parse(&body, 2).unwrap();
        assert_eq!(v, vec![vec![3.0, 4.0], vec![0.0, 2.0]]);
        assert!(parse(&json!({"data": [{"index": 0, "embedding": [1.0]}]}), 2).is_err());
        assert!(parse(&json!({"data": [{"index": 5, "embedding": [1.0]}]}), 1).is_err());
        assert!(parse(&json!({"error": {"message": "x"}}), 1).is_err());
    }

    #[test]
    fn debug_hides_the_key_and_urls_are_normalised() {
        let e = OpenAiEmbedder::new("http://h:1/v1/", Some("sk-secret".into()), "m");
        let d = format!("{e:?}");
        assert!(!d.contains("sk-secret"), "{d}");
        assert!(d.contains("http://h:1/v1/embeddings"), "{d}");
    }
}
