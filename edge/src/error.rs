//! The edge's one error type and the one place errors become HTTP
//! responses: `{"error":{"code","message"}}` with the status for the code.

use core::fmt;

use kefu_core::ratelimit::LimitKind;
use serde::Serialize;

use crate::http::EdgeResponse;
use crate::platform::PlatformError;

/// Everything a public request can fail with. Messages never hold a
/// secret or conversation text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input: `code` says which rule (400).
    BadRequest {
        /// A stable snake_case code a client can branch on.
        code: &'static str,
        /// For humans.
        message: &'static str,
    },
    /// The body is longer than [`crate::http::MAX_BODY_BYTES`] (413).
    TooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// No tenant has this widget key (401).
    UnknownWidgetKey,
    /// The visitor signature is missing or wrong (401).
    BadVisitorSignature,
    /// The request's `Origin` is not one of the tenant's (403).
    OriginNotAllowed,
    /// No such route (404).
    NotFound,
    /// The request names a conversation this visitor does not have here
    /// (another visitor's, or one the service no longer knows: purged
    /// after its retention period). 404, like [`Error::NotFound`], with
    /// what to do about it.
    UnknownConversation,
    /// The conversation was erased at the business's request (410): a
    /// widget forgets it, and its next message starts a new one.
    Gone,
    /// The route exists but not for this method (405).
    MethodNotAllowed {
        /// The methods it has, for `Allow`.
        allow: &'static str,
    },
    /// A rate limit refused the request (429).
    RateLimited {
        /// Which limit.
        kind: LimitKind,
        /// When to try again.
        retry_after_ms: u64,
    },
    /// The regional service answered something the edge cannot use (502).
    BadUpstream,
    /// The edge cannot serve this now (no tenant config and the regional
    /// service unreachable, or a platform store failing) (503).
    Unavailable {
        /// When to try again.
        retry_after_ms: u64,
    },
}

impl Error {
    /// Shorthand for [`Error::BadRequest`].
    pub const fn bad_request(code: &'static str, message: &'static str) -> Error {
        Error::BadRequest { code, message }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } => 400,
            Error::UnknownWidgetKey | Error::BadVisitorSignature => 401,
            Error::OriginNotAllowed => 403,
            Error::NotFound | Error::UnknownConversation => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Gone => 410,
            Error::TooLarge => 413,
            Error::UnsupportedMediaType => 415,
            Error::RateLimited { .. } => 429,
            Error::BadUpstream => 502,
            Error::Unavailable { .. } => 503,
        }
    }

    /// The stable error code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. } => code,
            Error::TooLarge => "body_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::UnknownWidgetKey => "unknown_widget_key",
            Error::BadVisitorSignature => "bad_visitor_signature",
            Error::OriginNotAllowed => "origin_not_allowed",
            Error::NotFound | Error::UnknownConversation => "not_found",
            Error::Gone => "conversation_erased",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::RateLimited { .. } => "rate_limited",
            Error::BadUpstream => "bad_upstream",
            Error::Unavailable { .. } => "unavailable",
        }
    }

    fn message(&self) -> String {
        match self {
            Error::BadRequest { message, .. } => (*message).to_owned(),
            Error::TooLarge => format!(
                "request body longer than {} bytes",
                crate::http::MAX_BODY_BYTES
            ),
            Error::UnsupportedMediaType => "send the body as application/json".to_owned(),
            Error::UnknownWidgetKey => "no tenant has this widget key".to_owned(),
            Error::BadVisitorSignature => "missing or invalid visitor_sig".to_owned(),
            Error::OriginNotAllowed => "this origin may not use this widget key".to_owned(),
            Error::NotFound => "not found".to_owned(),
            Error::UnknownConversation => {
                "no such conversation for this visitor; send the message without \
                 conversation_id to start a new one"
                    .to_owned()
            }
            Error::Gone => {
                "this conversation was erased; a new message starts a new one".to_owned()
            }
            Error::MethodNotAllowed { allow } => format!("allowed methods: {allow}"),
            Error::RateLimited { kind, .. } => format!("too many requests ({})", kind.as_str()),
            Error::BadUpstream => "the regional service gave an unusable answer".to_owned(),
            Error::Unavailable { .. } => "temporarily unavailable, try again".to_owned(),
        }
    }

    /// The response: JSON body, status, `Retry-After` (whole seconds,
    /// rounded up) for 429 and 503, `Allow` for 405.
    pub fn to_response(&self) -> EdgeResponse {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        let message = self.message();
        let body = serde_json::to_vec(&Body {
            error: Inner {
                code: self.code(),
                message: &message,
            },
        })
        .unwrap_or_default();
        let mut r =
            EdgeResponse::json(self.status(), body).with_header("cache-control", "no-store");
        match self {
            Error::RateLimited { retry_after_ms, .. } | Error::Unavailable { retry_after_ms } => {
                r = r.with_header(
                    "retry-after",
                    &retry_after_secs(*retry_after_ms).to_string(),
                );
            }
            Error::MethodNotAllowed { allow } => r = r.with_header("allow", allow),
            _ => {}
        }
        r
    }
}

/// `ms` as whole seconds, rounded up, at least 1.
pub fn retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status(), self.code(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<PlatformError> for Error {
    fn from(_: PlatformError) -> Error {
        Error::Unavailable {
            retry_after_ms: 1_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_documented_json() {
        let r = Error::RateLimited {
            kind: LimitKind::Visitor,
            retry_after_ms: 1_001,
        }
        .to_response();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("2"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limited");
        assert!(v["error"]["message"].as_str().unwrap().contains("visitor"));
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(3_000), 3);
    }
}
