//! CORS for the public API: a browser origin is allowed exactly when the
//! tenant lists it (ASCII case-insensitive, no patterns, no `*`).
//!
//! A preflight carries no body, so the widget sends its key in the query
//! (`?widget_key=...`) on every API URL; the preflight resolves the tenant
//! from it. Requests without an `Origin` (not from a browser) pass the
//! origin check and get no CORS headers; a browser request from any other
//! origin is refused with 403 before any work is done.
//! See the [Fetch standard's CORS protocol](https://fetch.spec.whatwg.org/#http-cors-protocol).

use kefu_core::wire::TenantConfig;

use crate::Error;
use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::pipeline::tenant;
use crate::platform::Platform;

/// How long a browser may cache a preflight answer, seconds.
pub const PREFLIGHT_MAX_AGE_S: u32 = 600;

/// The CORS decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    origin: Option<String>,
}

impl Cors {
    /// No CORS headers (an error before the tenant was known).
    pub const NONE: Cors = Cors { origin: None };

    /// Adds `Vary: Origin` and, for an allowed browser origin,
    /// `Access-Control-Allow-Origin` (and exposes `Retry-After`).
    pub fn apply(&self, r: EdgeResponse) -> EdgeResponse {
        let r = r.with_header("vary", "origin");
        match &self.origin {
            Some(o) => r
                .with_header("access-control-allow-origin", o)
                .with_header("access-control-expose-headers", "retry-after"),
            None => r,
        }
    }
}

/// Checks the request's `Origin` against the tenant's list.
pub fn check(config: &TenantConfig, origin: Option<&str>) -> Result<Cors, Error> {
    match origin {
        None => Ok(Cors::NONE),
        Some(o)
            if config
                .allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o)) =>
        {
            Ok(Cors {
                origin: Some(o.to_owned()),
            })
        }
        Some(_) => Err(Error::OriginNotAllowed),
    }
}

/// Answers a preflight for a route whose method is `method`.
pub async fn preflight<P: Platform>(
    edge: &Edge<P>,
    req: &EdgeRequest,
    method: &str,
) -> EdgeResponse {
    match preflight_inner(edge, req, method).await {
        Ok(r) => r,
        Err(e) => e.to_response().with_header("vary", "origin"),
    }
}

async fn preflight_inner<P: Platform>(
    edge: &Edge<P>,
    req: &EdgeRequest,
    method: &str,
) -> Result<EdgeResponse, Error> {
    let origin = req.header("origin").ok_or(Error::bad_request(
        "not_a_preflight",
        "a preflight request carries an Origin header",
    ))?;
    let key = req.query_param("widget_key").ok_or(Error::bad_request(
        "missing_widget_key",
        "put widget_key in the query string",
    ))?;
    let config = tenant::resolve(edge, &key).await?;
    let cors = check(&config, Some(origin))?;
    let allow_methods = format!("{method}, OPTIONS");
    Ok(cors
        .apply(EdgeResponse::empty(204))
        .with_header("access-control-allow-methods", &allow_methods)
        .with_header("access-control-allow-headers", "content-type, accept")
        .with_header("access-control-max-age", &PREFLIGHT_MAX_AGE_S.to_string()))
}
