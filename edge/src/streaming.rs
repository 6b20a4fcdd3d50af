//! A streamed chat turn for a shim whose runtime pulls a response body as
//! a stream (Spin's wasi-http body, a Workers `ReadableStream`): the
//! head as soon as the edge writes it, then a body whose polling drives
//! the rest of the turn and yields what the edge writes, as it writes it.

use core::future::Future;
use core::ops::Deref;
use core::pin::Pin;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::Stream;

use crate::edge::Edge;
use crate::http::{EdgeRequest, EdgeResponse, Method, ResponseSink};
use crate::platform::Platform;

/// Whether `req` is a chat turn asked for as an event stream.
pub fn wanted(req: &EdgeRequest) -> bool {
    req.method == Method::Post && req.path == "/v1/chat" && crate::handlers::chat::wants_sse(req)
}

/// The body of a streamed answer: pieces as the edge writes them.
pub type Pieces = Pin<Box<dyn Stream<Item = Vec<u8>>>>;

/// Runs `req` until the edge writes the head and answers with it (its body
/// empty) and the rest of the body. `None` if the turn ended without a
/// head (it always writes one; a shim answers 502 then).
pub async fn answer<P, E>(edge: E, req: EdgeRequest) -> Option<(EdgeResponse, Pieces)>
where
    P: Platform + 'static,
    E: Deref<Target = Edge<P>> + 'static,
{
    let (head_tx, head_rx) = futures_channel::oneshot::channel();
    let (body_tx, body_rx) = futures_channel::mpsc::unbounded();
    let mut work: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move {
        let mut sink = ChannelSink {
            head: Some(head_tx),
            body: body_tx,
        };
        edge.handle_into(req, &mut sink).await;
    });
    // `finished`: the turn ended before (or as) the head was written, so
    // it must not be polled again (a finished future panics when polled).
    let (head, finished) = match select(work.as_mut(), head_rx).await {
        Either::Right((Ok(head), _)) => (head, false),
        Either::Left(((), head_rx)) => (head_rx.await.ok()?, true),
        Either::Right((Err(_), _)) => return None,
    };
    let driver = futures_util::stream::iter((!finished).then_some(work))
        .then(|w| w)
        .filter_map(|()| async { None::<Vec<u8>> });
    Some((
        head,
        Box::pin(futures_util::stream::select(driver, body_rx)),
    ))
}

/// The head through a oneshot, the body through a channel.
struct ChannelSink {
    head: Option<futures_channel::oneshot::Sender<EdgeResponse>>,
    body: futures_channel::mpsc::UnboundedSender<Vec<u8>>,
}

impl ResponseSink for ChannelSink {
    fn head(&mut self, status: u16, headers: &[(String, String)]) {
        if let Some(tx) = self.head.take() {
            let mut r = EdgeResponse::empty(status);
            r.headers = headers.to_vec();
            let _ = tx.send(r);
        }
    }

    fn body(&mut self, bytes: &[u8]) {
        // The visitor gone is not the turn's problem: it is stored anyway.
        let _ = self.body.unbounded_send(bytes.to_vec());
    }
}
