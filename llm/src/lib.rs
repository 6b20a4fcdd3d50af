//! kefu-llm: generation for grounded answers.
//!
//! - [`LlmBackend`]: anything that streams tokens for a chat; one
//!   implementation per kind of upstream. [`OpenAiBackend`] speaks the
//!   OpenAI-compatible `/v1/chat/completions` API that vLLM, llama.cpp's
//!   `llama-server`, Ollama and TGI serve, streaming over SSE.
//! - [`Gateway`]: what the service calls. An ordered fallback list of
//!   backends, each behind kefu-core's [`CircuitBreaker`]
//!   (cool-down included), a retry budget, and a per-tenant fair
//!   scheduler ([`FairScheduler`]) in front of them all.
//! - [`CandleGguf`]: an in-process GGUF model (Qwen2 and Llama families,
//!   SmolLM2 included) on candle, CPU by default, CUDA with the `cuda`
//!   feature.
//! - [`prompt`]: the grounded prompt, with retrieved and visitor text kept
//!   as data.
//! - [`compress`]: fitting a long conversation and its passages into a
//!   token budget.
//!
//! [`CircuitBreaker`]: kefu_core::overload::CircuitBreaker

use std::fmt;
use std::pin::Pin;

pub mod compress;
mod gateway;
#[cfg(feature = "candle")]
mod gguf;
mod openai;
pub mod prompt;
mod schedule;

#[cfg(feature = "candle")]
pub use gguf::{CandleGguf, CandleOptions, GgufTokenizer};

pub use gateway::{BackendStats, Gateway, GatewayConfig, GatewayStats};
pub use openai::{OpenAiBackend, OpenAiConfig};
pub use schedule::{FairScheduler, Scheduler, SchedulerStats, Slot};

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The visitor (and the data blocks the prompt builds).
    User,
    /// The model.
    Assistant,
}

/// One chat message. Holds conversation text: never logged.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatMessage {
    /// Who.
    pub role: ChatRole,
    /// What.
    pub content: String,
}

impl fmt::Debug for ChatMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatMessage")
            .field("role", &self.role)
            .field("chars", &self.content.chars().count())
            .finish()
    }
}

/// One generation.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The tenant it is for (fair scheduling).
    pub tenant: String,
    /// The chat.
    pub messages: Vec<ChatMessage>,
    /// The most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    pub temperature: f32,
    /// When the whole answer must be done: a backend stops (with
    /// [`LlmError::Timeout`]) once it passes.
    pub deadline: Option<std::time::Instant>,
}

/// Why a generation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// No first token, or no next token, in time.
    #[error("the model did not answer in time")]
    Timeout,
    /// The upstream answered with an error status.
    #[error("upstream status {status}")]
    Upstream {
        /// The HTTP status.
        status: u16,
    },
    /// The upstream could not be reached.
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// The upstream's stream was not what the API says.
    #[error("upstream protocol: {0}")]
    Protocol(String),
    /// Every backend's circuit is open, or the retry budget is spent.
    #[error("no model backend is available")]
    Unavailable,
    /// No backend is configured.
    #[error("no model backend is configured")]
    NotConfigured,
    /// Too many generations are queued; try later.
    #[error("the model is overloaded")]
    Overloaded,
    /// Every backend's circuit breaker is open.
    #[error("every model backend is resting after failures")]
    CircuitOpen,
    /// The caller went away before the answer was done.
    #[error("the generation was cancelled")]
    Cancelled,
    /// An in-process model failed (loading, tokenizing or running).
    #[error("model: {0}")]
    Model(String),
}

/// A stream of generated text pieces.
pub type TokenStream = Pin<Box<dyn futures_core::Stream<Item = Result<String, LlmError>> + Send>>;

/// Something that generates text for a chat.
#[async_trait::async_trait]
pub trait LlmBackend: Send + Sync + fmt::Debug {
    /// A name for logs and metrics (never a URL with credentials).
    fn name(&self) -> &str;
    /// Starts generating; the stream yields text as it is produced.
    async fn generate(&self, req: GenerateRequest) -> Result<TokenStream, LlmError>;
}
