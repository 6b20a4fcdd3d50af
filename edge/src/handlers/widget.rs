//! `GET /widget.js`: the widget script. With `?v=<content hash>` it may be
//! cached for a year (`immutable`: a new script has a new hash); without, or
//! with a stale hash, for five minutes. `If-None-Match` with the ETag (the
//! hash) gets 304.

use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::platform::Platform;

/// Cache-Control when the URL names the current hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control otherwise.
pub const SHORT: &str = "public, max-age=300";

/// Serves the script.
pub fn get<P: Platform>(edge: &Edge<P>, req: &EdgeRequest) -> EdgeResponse {
    let asset = &edge.config.widget;
    let etag = format!("\"{}\"", asset.hash());
    let cache = if req.query_param("v").as_deref() == Some(asset.hash()) {
        IMMUTABLE
    } else {
        SHORT
    };
    let matches = req.header("if-none-match").is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    let r = EdgeResponse::empty(if matches { 304 } else { 200 })
        .with_header("etag", &etag)
        .with_header("cache-control", cache);
    if matches {
        return r;
    }
    r.with_header("content-type", "application/javascript; charset=utf-8")
        .with_header("x-content-type-options", "nosniff")
        .with_body(asset.bytes().to_vec())
}
