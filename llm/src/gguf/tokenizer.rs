//! A tokenizer built from a GGUF file's own metadata
//! (`tokenizer.ggml.*`, see the [GGUF spec]), so a model file is all a
//! deployment needs.
//!
//! Supported: byte-level BPE (`tokenizer.ggml.model = "gpt2"`), which the
//! Qwen2 and Llama 3 families and SmolLM2 use. The pre-tokenizer follows
//! `tokenizer.ggml.pre` (`smollm`: single digits then GPT-2 splitting;
//! `qwen2`: Qwen's split pattern; anything else: GPT-2's). Control and
//! user-defined tokens (`token_type` 3 and 4, e.g. `<|im_start|>`) are
//! special tokens: matched whole in the prompt, dropped from the output.
//!
//! [GGUF spec]: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::LlmError;

/// Qwen2's pre-tokenizer pattern (from its `tokenizer.json`).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A GGUF model's tokenizer and the special tokens generation needs.
#[derive(Clone)]
pub struct GgufTokenizer {
    /// The tokenizer.
    pub(crate) inner: Tokenizer,
    /// Tokens that end an answer.
    pub(crate) eos: Vec<u32>,
    /// Token text → id, for the chat template's markers.
    pub(crate) specials: HashMap<String, u32>,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab", &self.inner.get_vocab_size(true))
            .field("eos", &self.eos)
            .finish()
    }
}

fn model_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Model(e.to_string())
}

fn strings(ct: &Content, key: &str) -> Result<Vec<String>, LlmError> {
    let v = ct
        .metadata
        .get(key)
        .ok_or_else(|| LlmError::Model(format!("GGUF metadata has no {key}")))?;
    v.to_vec()
        .map_err(model_err)?
        .iter()
        .map(|x| x.to_string().cloned().map_err(model_err))
        .collect()
}

impl GgufTokenizer {
    /// Builds the tokenizer from `ct`'s metadata.
    pub fn from_gguf(ct: &Content) -> Result<GgufTokenizer, LlmError> {
        let md = |k: &str| ct.metadata.get(k);
        let kind = md("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("");
        if kind != "gpt2" {
            return Err(LlmError::Model(format!(
                "tokenizer model {kind:?} is not supported (byte-level BPE \"gpt2\" is)"
            )));
        }
        let tokens = strings(ct, "tokenizer.ggml.tokens")?;
        let merges: Vec<(String, String)> = strings(ct, "tokenizer.ggml.merges")?
            .into_iter()
            .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .collect();
        let types: Vec<i32> = match md("tokenizer.ggml.token_type").map(Value::to_vec) {
            Some(Ok(v)) => v.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            _ => Vec::new(),
        };
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(model_err)?;
        let mut tk = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        let pre: PreTokenizerWrapper = match md("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
        {
            Some("smollm") => {
                Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
            }
            Some("qwen2") => {
                let split = Split::new(
                    SplitPattern::Regex(QWEN2_PATTERN.into()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .map_err(model_err)?;
                Sequence::new(vec![split.into(), byte_level.use_regex(false).into()]).into()
            }
            _ => byte_level.into(),
        };
        tk.with_pre_tokenizer(Some(pre));
        tk.with_decoder(Some(ByteLevelDecoder::default()));
        let mut specials = HashMap::new();
        let mut added = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if matches!(types.get(i), Some(3 | 4)) {
                specials.insert(t.clone(), i as u32);
                added.push(AddedToken::from(t.clone(), true));
            }
        }
        tk.add_special_tokens(&added);
        let mut eos: Vec<u32> = Vec::new();
        if let Some(id) = md("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok()) {
            eos.push(id);
        }
        for t in [
            "<|im_end|>",
            "<|endoftext|>",
            "<|eot_id|>",
            "<|end_of_text|>",
        ] {
            if let Some(&id) = specials.get(t)
                && !eos.contains(&id)
            {
                eos.push(id);
            }
        }
        if eos.is_empty() {
            return Err(LlmError::Model(
                "the GGUF names no end-of-text token".into(),
            ));
        }
        Ok(GgufTokenizer {
            inner: tk,
            eos,
            specials,
        })
    }

    /// Token ids for `text`; special-token text in it becomes those tokens,
    /// so callers must defuse untrusted text first (the chat template does).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(model_err)?
            .get_ids()
            .to_vec())
    }

    /// Text for `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.inner.decode(ids, true).map_err(model_err)
    }

    /// How many tokens `text` is (for [`crate::compress`]).
    pub fn count(&self, text: &str) -> usize {
        self.encode(text)
            .map_or_else(|_| crate::compress::estimate_tokens(text), |v| v.len())
    }

    /// Whether the vocabulary has `token` as a special token.
    pub(crate) fn has(&self, token: &str) -> bool {
        self.specials.contains_key(token)
    }
}
