//! Spin's HTTP types (the `http` crate's, over `wasi:http@0.3`) to and from
//! kefu-edge's [`EdgeRequest`] / [`EdgeResponse`]. Translation only.

use bytes::Bytes;
use http_body_util::BodyExt;
use kefu_edge::error::Error;
use kefu_edge::http::MAX_BODY_BYTES;
use kefu_edge::{EdgeRequest, EdgeResponse, Method};
use spin_sdk::http::{FullBody, Request};

/// The header Spin sets to the client's `address:port`. Plain `wasmtime
/// serve` sets none, and a client could send its own, so the
/// `wasmtime-serve` build does not read it.
#[cfg(not(feature = "wasmtime-serve"))]
const CLIENT_ADDR_HEADER: &str = "spin-client-addr";

/// Translates an incoming request. The body is read up to
/// [`MAX_BODY_BYTES`] + 1 bytes and no further (the edge answers 413 past
/// the limit); a body that cannot be read is a 400.
pub async fn edge_request(req: Request) -> Result<EdgeRequest, EdgeResponse> {
    let (parts, mut body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), v)
        })
        .collect();

    let mut bytes = Vec::new();
    while bytes.len() <= MAX_BODY_BYTES {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_BODY_BYTES + 1 - bytes.len();
                    bytes.extend_from_slice(data.get(..room.min(data.len())).unwrap_or(&data));
                }
            }
            Some(Err(_)) => {
                let e = Error::bad_request("body_unreadable", "the request body could not be read");
                return Err(e.to_response());
            }
        }
    }

    #[cfg(not(feature = "wasmtime-serve"))]
    let client_ip = kefu_edge::http::find_header(&headers, CLIENT_ADDR_HEADER).map(strip_port);
    #[cfg(feature = "wasmtime-serve")]
    let client_ip = None;

    Ok(EdgeRequest {
        method: Method::parse(parts.method.as_str()),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        body: bytes,
        client_ip,
    })
}

/// `1.2.3.4:5678` -> `1.2.3.4`, `[::1]:5678` -> `::1`; anything else as is.
#[cfg(not(feature = "wasmtime-serve"))]
fn strip_port(addr: &str) -> String {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host.to_owned(),
        _ => addr.to_owned(),
    }
}

/// Translates the edge's answer. A header the `http` crate rejects (the
/// edge never makes one) turns the answer into a bare 500.
pub fn spin_response(resp: EdgeResponse) -> http::Response<FullBody<Bytes>> {
    let mut b = http::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(FullBody::new(Bytes::from(resp.body)))
        .unwrap_or_else(|_| {
            let mut r = http::Response::new(FullBody::new(Bytes::new()));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}
