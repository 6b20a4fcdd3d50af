//! The one HTTP error type. Every failure — a handler's, an extractor's,
//! axum's own (unknown route, wrong method, oversized or malformed body) —
//! leaves as `{"error":{"code","message"}}` with the status from
//! [`ApiError::status_code`]. Messages never carry secrets or content.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Error;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: malformed or invalid input.
    BadRequest(String),
    /// 401: no or wrong credential.
    Unauthorized,
    /// 403: the credential is fine but this is not allowed.
    Forbidden(String),
    /// 404: no such object for this caller (another tenant's object included).
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: conflicts with stored state.
    Conflict(String),
    /// 413: too large; the message states the limit.
    PayloadTooLarge(String),
    /// 415: wrong content type.
    UnsupportedMediaType(String),
    /// 429: slow down; retry after this many seconds.
    RateLimited(u64),
    /// 503: not ready yet, or shutting down.
    Unavailable(String),
    /// 500: something broke; details are in the server log only.
    Internal,
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for a client to branch on (`code`) and a person to read (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`, `conflict`, `rate_limited`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Unavailable(m) => m.clone(),
            ApiError::Unauthorized => {
                "missing or invalid credential (Authorization: Bearer ...)".into()
            }
            ApiError::NotFound => "not found".into(),
            ApiError::MethodNotAllowed => "method not allowed on this path".into(),
            ApiError::RateLimited(s) => format!("too many requests; retry after {s} seconds"),
            ApiError::Internal => "internal error".into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::NotFound | Error::Erased => ApiError::NotFound,
            Error::TenantExists => {
                ApiError::Conflict("a tenant with this id already exists".into())
            }
            Error::Conflict(m) => ApiError::Conflict(m),
            Error::Invalid(m) => ApiError::BadRequest(m),
            Error::TooLarge(m) => ApiError::PayloadTooLarge(m),
            Error::Unauthenticated => ApiError::Unauthorized,
            Error::ShuttingDown => ApiError::Unavailable("the service is shutting down".into()),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

impl ErrorBody {
    /// The body `e` answers with.
    pub fn of(e: &ApiError) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: e.code().into(),
                message: e.message(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::of(&self);
        let mut resp = (self.status_code(), axum::Json(body)).into_response();
        if let ApiError::RateLimited(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
