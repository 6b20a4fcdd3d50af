//! Platform-neutral HTTP request and response types. Shims translate their
//! platform's types to and from these.

use core::fmt;

/// The most bytes of request body the edge reads. A shim must stop reading a
/// body at `MAX_BODY_BYTES + 1` bytes and pass what it has: the edge then
/// answers 413 without ever holding a larger body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An HTTP method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `OPTIONS` (CORS preflight)
    Options,
    /// Anything else, as sent.
    Other(String),
}

impl Method {
    /// Parses a method name (case-sensitive, as HTTP says).
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method name.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }
}

/// The value of header `name` in `headers` (ASCII case-insensitive); the
/// first one if repeated.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request from a browser (or anyone) to the edge.
#[derive(Clone, PartialEq, Eq)]
pub struct EdgeRequest {
    /// The method.
    pub method: Method,
    /// The path, starting with `/`, not percent-decoded.
    pub path: String,
    /// The query string without the `?` (empty if none).
    pub query: String,
    /// The headers, names in any case.
    pub headers: Vec<(String, String)>,
    /// The body, at most [`MAX_BODY_BYTES`] + 1 bytes (see there).
    pub body: Vec<u8>,
    /// The client's address as the platform saw it, if known.
    pub client_ip: Option<String>,
}

impl EdgeRequest {
    /// A request with no headers, body or client address.
    pub fn new(method: Method, path_and_query: &str) -> EdgeRequest {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        EdgeRequest {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            client_ip: None,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> EdgeRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> EdgeRequest {
        self.body = body.into();
        self
    }

    /// Sets the client address.
    pub fn with_client_ip(mut self, ip: &str) -> EdgeRequest {
        self.client_ip = Some(ip.to_owned());
        self
    }

    /// The value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The first value of query parameter `name`, percent-decoded; `None` if
    /// absent or not valid UTF-8 once decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| percent_decode(v))
    }
}

impl fmt::Debug for EdgeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The query can carry a visitor signature and the body plaintext.
        f.debug_struct("EdgeRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish_non_exhaustive()
    }
}

/// Decodes `%XX` escapes and `+` (as a space). `None` on a bad escape or
/// invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = core::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The edge's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The whole body (a streamed answer goes through a [`ResponseSink`]
    /// instead; [`crate::Edge::handle`] collects it here).
    pub body: Vec<u8>,
}

impl EdgeResponse {
    /// A response with no headers and no body.
    pub fn empty(status: u16) -> EdgeResponse {
        EdgeResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, body: Vec<u8>) -> EdgeResponse {
        EdgeResponse::empty(status)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    /// Adds a header (`name` should be lower case).
    pub fn with_header(mut self, name: &str, value: &str) -> EdgeResponse {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: Vec<u8>) -> EdgeResponse {
        self.body = body;
        self
    }

    /// The value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Where a shim that can stream a response body takes the answer from
/// ([`crate::Edge::handle_into`]): the head once, then the body in pieces.
pub trait ResponseSink: Send {
    /// The status and headers; called exactly once, before any body.
    fn head(&mut self, status: u16, headers: &[(String, String)]);
    /// The next piece of the body.
    fn body(&mut self, bytes: &[u8]);
}

/// A [`ResponseSink`] that keeps everything: a whole [`EdgeResponse`].
impl ResponseSink for EdgeResponse {
    fn head(&mut self, status: u16, headers: &[(String, String)]) {
        self.status = status;
        self.headers = headers.to_vec();
    }

    fn body(&mut self, bytes: &[u8]) {
        self.body.extend_from_slice(bytes);
    }
}

impl EdgeResponse {
    /// Writes this whole response into `sink`.
    pub fn send_to(self, sink: &mut dyn ResponseSink) {
        sink.head(self.status, &self.headers);
        if !self.body.is_empty() {
            sink.body(&self.body);
        }
    }
}

impl fmt::Debug for EdgeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let r = EdgeRequest::new(Method::Get, "/x?since=3&k=a%2Bb+c&empty&bad=%zz");
        assert_eq!(r.path, "/x");
        assert_eq!(r.query_param("since").as_deref(), Some("3"));
        assert_eq!(r.query_param("k").as_deref(), Some("a+b c"));
        assert_eq!(r.query_param("empty").as_deref(), Some(""));
        assert_eq!(r.query_param("bad"), None);
        assert_eq!(r.query_param("missing"), None);
        let r = EdgeRequest::new(Method::Get, "/x?t=%E4%BD%A0%");
        assert_eq!(r.query_param("t"), None);
    }

    #[test]
    fn headers_match_any_case() {
        let r = EdgeRequest::new(Method::Post, "/").with_header("Content-Type", "a");
        assert_eq!(r.header("content-type"), Some("a"));
        assert_eq!(r.header("CONTENT-TYPE"), Some("a"));
    }
}
