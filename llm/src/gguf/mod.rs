//! An in-process model: a quantized GGUF file run by [candle].
//!
//! - Architectures: `general.architecture` picks candle's
//!   `quantized_qwen2` (Qwen2, Qwen2.5) or `quantized_llama` (Llama 2/3,
//!   SmolLM2, Mistral-style files).
//! - The tokenizer is built from the same file ([`GgufTokenizer`]).
//! - The chat template is ChatML (`<|im_start|>`, as SmolLM2 and Qwen
//!   use) or Llama 3's header tokens, whichever the vocabulary has.
//! - Generation runs on a blocking thread and sends each decoded piece
//!   through a channel; it stops at an end-of-text token, `max_tokens`,
//!   the request's deadline ([`LlmError::Timeout`]) or when the caller drops
//!   the stream. One generation runs at a time per loaded model (the KV
//!   cache is the model's); put the gateway's concurrency cap at 1 for it.
//!
//! Qwen2.5-0.5B-Instruct works with the same loader:
//! `scripts/fetch-models.sh --qwen` puts it at
//! `.kefu/models/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf`.
//!
//! [candle]: https://github.com/huggingface/candle

mod tokenizer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

pub use tokenizer::GgufTokenizer;

use crate::{ChatMessage, ChatRole, GenerateRequest, LlmBackend, LlmError, TokenStream};

/// How to load and run a GGUF model.
#[derive(Debug, Clone)]
pub struct CandleOptions {
    /// The backend's name in logs and metrics (default: `candle:<file stem>`).
    pub name: Option<String>,
    /// Run on CUDA device `n` (needs the `cuda` feature); `None` = CPU.
    pub cuda_device: Option<usize>,
    /// Sampling seed (used only when temperature > 0).
    pub seed: u64,
    /// Penalty for repeating one of the last `repeat_last_n` tokens (1.0 = off).
    pub repeat_penalty: f32,
    /// How far back the repeat penalty looks.
    pub repeat_last_n: usize,
}

impl Default for CandleOptions {
    fn default() -> Self {
        CandleOptions {
            name: None,
            cuda_device: None,
            seed: 299_792_458,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
        }
    }
}

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Weights::Llama(_) => "Weights::Llama",
            Weights::Qwen2(_) => "Weights::Qwen2",
        })
    }
}

impl Weights {
    fn forward(&mut self, x: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(x, pos),
            Weights::Qwen2(m) => m.forward(x, pos),
        }
    }
}

/// A GGUF model loaded in this process.
#[derive(Debug, Clone)]
pub struct CandleGguf {
    name: String,
    model: Arc<Mutex<Weights>>,
    tokenizer: Arc<GgufTokenizer>,
    device: Device,
    context: usize,
    options: CandleOptions,
}

fn model_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Model(e.to_string())
}

impl CandleGguf {
    /// Loads `path`: weights, tokenizer and context length from the file.
    pub fn load(path: &Path, options: CandleOptions) -> Result<CandleGguf, LlmError> {
        let device = match options.cuda_device {
            None => Device::Cpu,
            Some(n) => Device::new_cuda(n).map_err(model_err)?,
        };
        let mut file = std::fs::File::open(path)
            .map_err(|e| LlmError::Model(format!("{}: {e}", path.display())))?;
        let ct = gguf_file::Content::read(&mut file)
            .map_err(|e| LlmError::Model(format!("{}: {e}", path.display())))?;
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let context = ct
            .metadata
            .get(&format!("{arch}.context_length"))
            .and_then(|v| v.to_u32().ok())
            .unwrap_or(2048) as usize;
        let tokenizer = GgufTokenizer::from_gguf(&ct)?;
        let model = match arch.as_str() {
            "qwen2" => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(ct, &mut file, &device)
                    .map_err(model_err)?,
            ),
            "llama" | "mistral" => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(ct, &mut file, &device)
                    .map_err(model_err)?,
            ),
            other => {
                return Err(LlmError::Model(format!(
                    "architecture {other:?} is not supported (qwen2, llama are)"
                )));
            }
        };
        let name = options.name.clone().unwrap_or_else(|| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("gguf");
            format!("candle:{stem}")
        });
        Ok(CandleGguf {
            name,
            model: Arc::new(Mutex::new(model)),
            tokenizer: Arc::new(tokenizer),
            device,
            context,
            options,
        })
    }

    /// The model's tokenizer (for exact token counts in [`crate::compress`]).
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// The chat as the model's template text. Message text that spells a
    /// template marker (`<|…|>`) is broken up first, so no message can
    /// open a turn of its own.
    pub fn chat_text(&self, messages: &[ChatMessage]) -> String {
        let clean = |s: &str| s.replace("<|", "< |").replace("|>", "| >");
        let role = |r: ChatRole| match r {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        let mut out = String::new();
        if self.tokenizer.has("<|im_start|>") {
            for m in messages {
                out.push_str(&format!(
                    "<|im_start|>{}\n{}<|im_end|>\n",
                    role(m.role),
                    clean(&m.content)
                ));
            }
            out.push_str("<|im_start|>assistant\n");
        } else if self.tokenizer.has("<|start_header_id|>") {
            out.push_str("<|begin_of_text|>");
            for m in messages {
                out.push_str(&format!(
                    "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                    role(m.role),
                    clean(&m.content)
                ));
            }
            out.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
        } else {
            for m in messages {
                out.push_str(&format!("{}: {}\n", role(m.role), clean(&m.content)));
            }
            out.push_str("assistant:");
        }
        out
    }

    /// Runs one generation on this (blocking) thread, sending pieces to `tx`.
    fn run(
        &self,
        prompt: Vec<u32>,
        req: &GenerateRequest,
        tx: &tokio::sync::mpsc::Sender<Result<String, LlmError>>,
    ) -> Result<(), LlmError> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let sampling = if req.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::All {
                temperature: f64::from(req.temperature),
            }
        };
        let mut logits_proc = LogitsProcessor::from_sampling(self.options.seed, sampling);
        let mut decoder = self.tokenizer.inner.decode_stream(true);
        let mut all = prompt.clone();
        let mut pos = 0usize;
        let mut input = prompt;
        for _ in 0..req.max_tokens {
            if tx.is_closed() {
                return Err(LlmError::Cancelled);
            }
            if req.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(LlmError::Timeout);
            }
            if pos + input.len() >= self.context {
                break;
            }
            let x = Tensor::new(input.as_slice(), &self.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(model_err)?;
            let logits = model
                .forward(&x, pos)
                .and_then(|l| l.squeeze(0))
                .and_then(|l| l.to_dtype(candle_core::DType::F32))
                .map_err(model_err)?;
            pos += input.len();
            let logits = if self.options.repeat_penalty == 1.0 {
                logits
            } else {
                let start = all.len().saturating_sub(self.options.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(
                    &logits,
                    self.options.repeat_penalty,
                    &all[start..],
                )
                .map_err(model_err)?
            };
            let next = logits_proc.sample(&logits).map_err(model_err)?;
            if self.tokenizer.eos.contains(&next) {
                break;
            }
            all.push(next);
            input = vec![next];
            if let Some(piece) = decoder.step(next).map_err(model_err)?
                && tx.blocking_send(Ok(piece)).is_err()
            {
                return Err(LlmError::Cancelled);
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl LlmBackend for CandleGguf {
    fn name(&self) -> &str {
        &self.name
    }

    async fn generate(&self, req: GenerateRequest) -> Result<TokenStream, LlmError> {
        let prompt = self.tokenizer.encode(&self.chat_text(&req.messages))?;
        if prompt.len() + 1 >= self.context {
            return Err(LlmError::Model(format!(
                "the prompt is {} tokens; the model's context is {}",
                prompt.len(),
                self.context
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = me.run(prompt, &req, &tx)
                && e != LlmError::Cancelled
            {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let s = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(s))
    }
}
