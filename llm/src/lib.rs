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
//! - [`prompt`]: the grounded prompt, with retrieved and visitor text kept
//!   as data.
//!
//! [`CircuitBreaker`]: kefu_core::overload::CircuitBreaker

use std::fmt;
use std::future::Future;
use std::pin::Pin;

mod gateway;
mod openai;
pub mod prompt;
mod schedule;

pub use gateway::{Gateway, GatewayConfig, GatewayStats};
pub use openai::{OpenAiBackend, OpenAiConfig};
pub use schedule::{FairScheduler, SchedulerStats, Slot};

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
}

/// A stream of generated text pieces.
pub type TokenStream = Pin<Box<dyn futures_core::Stream<Item = Result<String, LlmError>> + Send>>;

/// A boxed future, for the object-safe trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that generates text for a chat.
pub trait LlmBackend: Send + Sync + fmt::Debug {
    /// A name for logs and metrics (never a URL with credentials).
    fn name(&self) -> &str;
    /// Starts generating; the stream yields text as it is produced.
    fn generate(&self, req: GenerateRequest) -> BoxFuture<'_, Result<TokenStream, LlmError>>;
}
