//! An OpenAI-compatible streaming chat client (`POST /v1/chat/completions`
//! with `"stream": true`; Server-Sent Events of `chat.completion.chunk`
//! objects, ending `data: [DONE]`), as vLLM, llama.cpp `llama-server`,
//! Ollama and TGI serve it.

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{GenerateRequest, LlmBackend, LlmError, TokenStream};

/// Where and how to reach the upstream.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Base URL without `/v1`, e.g. `http://10.0.0.5:8000`.
    pub base_url: String,
    /// The model name to request.
    pub model: String,
    /// Bearer key, if the server wants one. Never printed.
    pub api_key: Option<String>,
    /// Connecting.
    pub connect_timeout: Duration,
    /// From sending the request to the first token.
    pub first_token_timeout: Duration,
    /// Between two tokens.
    pub idle_timeout: Duration,
    /// The whole answer, from sending the request to the last token (a
    /// request's own [`GenerateRequest::deadline`], if sooner, wins).
    pub request_deadline: Duration,
    /// Extra request headers (names are logged, values never).
    pub extra_headers: Vec<(String, String)>,
    /// PEM certificates trusted for `https://` besides the system's store
    /// (a private CA in front of an in-house GPU fleet).
    pub ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl OpenAiConfig {
    /// Defaults for `base_url` and `model`: 2 s to connect, 20 s to the
    /// first token (a busy GPU queue), 10 s between tokens, 120 s in all.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            model: model.into(),
            api_key: None,
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            request_deadline: Duration::from_secs(120),
            extra_headers: Vec::new(),
            ca_pem: None,
        }
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    config: OpenAiConfig,
    name: String,
    http: reqwest::Client,
}

impl OpenAiBackend {
    /// A client for `config`.
    pub fn new(config: OpenAiConfig) -> Result<OpenAiBackend, LlmError> {
        let mut b = reqwest::Client::builder().connect_timeout(config.connect_timeout);
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| LlmError::Protocol(format!("CA certificates: {e}")))?;
            if certs.is_empty() {
                return Err(LlmError::Protocol(
                    "CA certificates: no PEM certificate found".into(),
                ));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| LlmError::Protocol(e.to_string()))?;
        let name = format!("openai:{}", config.model);
        Ok(OpenAiBackend { config, name, http })
    }
}

/// Pulls the text pieces out of SSE bytes; keeps a partial line (bytes:
/// a chunk may end inside a UTF-8 character) in `buf`.
fn parse(buf: &mut Vec<u8>, out: &mut Vec<Result<String, LlmError>>) -> bool {
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&buf[..i])
            .trim_end_matches('\r')
            .to_owned();
        buf.drain(..=i);
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            return true;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(v) => {
                if let Some(t) = v["choices"][0]["delta"]["content"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                {
                    out.push(Ok(t.to_owned()));
                }
                if v["error"].is_object() {
                    out.push(Err(LlmError::Protocol("error event in the stream".into())));
                    return true;
                }
            }
            Err(_) => {
                out.push(Err(LlmError::Protocol(
                    "a stream chunk that is not JSON".into(),
                )));
                return true;
            }
        }
    }
    false
}

#[async_trait::async_trait]
impl LlmBackend for OpenAiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    async fn generate(&self, req: GenerateRequest) -> Result<TokenStream, LlmError> {
        {
            let body = json!({
                "model": self.config.model, "messages": req.messages, "stream": true,
                "max_tokens": req.max_tokens, "temperature": req.temperature,
            });
            let mut rb = self
                .http
                .post(format!("{}/v1/chat/completions", self.config.base_url))
                .json(&body);
            for (k, v) in &self.config.extra_headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            if let Some(k) = &self.config.api_key {
                rb = rb.bearer_auth(k);
            }
            let deadline = {
                let own = Instant::now() + self.config.request_deadline;
                req.deadline.map_or(own, |d| d.min(own))
            };
            let wait_for = move |limit: Duration| {
                limit.min(deadline.saturating_duration_since(Instant::now()))
            };
            let resp = tokio::time::timeout(wait_for(self.config.first_token_timeout), rb.send())
                .await
                .map_err(|_| LlmError::Timeout)?
                .map_err(|e| LlmError::Unreachable(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(LlmError::Upstream {
                    status: resp.status().as_u16(),
                });
            }
            let (first, idle) = (self.config.first_token_timeout, self.config.idle_timeout);
            let bytes = resp.bytes_stream();
            let state = (
                bytes,
                Vec::<u8>::new(),
                Vec::<Result<String, LlmError>>::new(),
                false,
                true,
            );
            let s = futures_util::stream::unfold(
                state,
                move |(mut bytes, mut buf, mut ready, mut done, mut is_first)| async move {
                    loop {
                        if !ready.is_empty() {
                            let item = ready.remove(0);
                            let stop = item.is_err();
                            if stop {
                                ready.clear();
                                done = true;
                            }
                            return Some((item, (bytes, buf, ready, done, false)));
                        }
                        if done {
                            return None;
                        }
                        let wait = wait_for(if is_first { first } else { idle });
                        match tokio::time::timeout(wait, bytes.next()).await {
                            Err(_) => {
                                done = true;
                                ready.push(Err(LlmError::Timeout));
                            }
                            Ok(None) => {
                                // Ended without [DONE]: what arrived stands, but say so.
                                done = true;
                                ready
                                    .push(Err(LlmError::Protocol("the stream ended early".into())));
                            }
                            Ok(Some(Err(e))) => {
                                done = true;
                                ready.push(Err(LlmError::Unreachable(e.without_url().to_string())));
                            }
                            Ok(Some(Ok(chunk))) => {
                                buf.extend_from_slice(&chunk);
                                if parse(&mut buf, &mut ready) {
                                    done = true;
                                }
                                if !ready.is_empty() {
                                    is_first = false;
                                }
                            }
                        }
                    }
                },
            );
            Ok(Box::pin(s) as TokenStream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_pieces_survive_any_chunking() {
        let wire = "data: {\"choices\":[{\"delta\":{\"content\":\"你好\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\", world\"}}]}\n\ndata: [DONE]\n\n";
        // Every byte position, including inside the UTF-8 of 你好.
        let wire = wire.as_bytes();
        for cut in 1..wire.len() {
            let (mut buf, mut out) = (Vec::new(), Vec::new());
            buf.extend_from_slice(&wire[..cut]);
            let mut done = parse(&mut buf, &mut out);
            buf.extend_from_slice(&wire[cut..]);
            done |= parse(&mut buf, &mut out);
            let text: String = out.iter().map(|r| r.clone().unwrap()).collect();
            assert_eq!(text, "你好, world", "cut at {cut}");
            assert!(done);
        }
    }
}
