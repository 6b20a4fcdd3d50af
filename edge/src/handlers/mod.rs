//! HTTP handlers: parse, call the pipeline, render. No business logic here.

pub mod chat;
pub mod health;
pub mod messages;
pub mod widget;

use kefu_core::session::{Citation, Source};
use serde::Serialize;

/// A citation as the widget sees it.
#[derive(Serialize)]
pub(crate) struct CitationJson<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<&'a str>,
}

pub(crate) fn citations(c: &[Citation]) -> Vec<CitationJson<'_>> {
    c.iter()
        .map(|c| CitationJson {
            id: &c.id,
            title: &c.title,
            url: c.url.as_deref(),
            snippet: c.snippet.as_deref(),
        })
        .collect()
}

/// The lowercase name kefu-core's serde gives a source (`"cache"`, ...).
pub(crate) fn source_name(s: Source) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
