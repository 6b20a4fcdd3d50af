//! Calls to the regional service: a signed MessagePack frame, a deadline,
//! the instance's circuit breaker, the outage hint shared through the store,
//! and the brownout level the regional service reports.

use kefu_core::overload::{BreakerState, BrownoutLevel, Outcome};
use kefu_core::wire::{self, Frame, SIGNATURE_HEADER, TenantConfig};

use crate::edge::Edge;
use crate::http::Method;
use crate::platform::{OnChunk, Platform, UpstreamError, UpstreamRequest, UpstreamResponse};
use crate::store::{self, RegionalState};

/// The content type of every frame.
pub const FRAME_CONTENT_TYPE: &str = "application/msgpack";

/// Why a regional call gave no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Not attempted: the breaker is open here or on another instance.
    Down {
        /// When it may be tried again.
        retry_after_ms: u64,
    },
    /// No answer before the deadline.
    Timeout,
    /// The connection failed.
    Unreachable,
    /// An HTTP status other than 2xx (or 404 where that is an answer).
    Status(u16),
    /// The answer did not decode as the expected frame.
    BadFrame,
    /// The edge could not build or sign the request.
    Local,
}

impl CallError {
    /// When a visitor might try again.
    pub fn retry_after_ms(self) -> u64 {
        match self {
            CallError::Down { retry_after_ms } => retry_after_ms,
            _ => 5_000,
        }
    }
}

/// How a call's latency counts for the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// Latency counts: a slow answer is a symptom.
    Normal,
    /// A long poll waits on purpose; its latency is not a symptom.
    LongPoll,
}

/// Sends `frame` to `path`, signed, and returns the raw answer if its status
/// is 2xx (or 404, which some paths use as an answer).
pub async fn call<P: Platform, F: Frame>(
    edge: &Edge<P>,
    path: &'static str,
    frame: &F,
    timeout_ms: u64,
    kind: CallKind,
) -> Result<UpstreamResponse, CallError> {
    call_with(edge, path, frame, timeout_ms, kind, None).await
}

/// [`call`], asking for a streamed answer ([`wire::Record`]s) when
/// `on_chunk` is given: it sees the body's pieces as they arrive, and the
/// answer returned is the stream's last record as a plain response (the
/// frame with the stream's status, or the error record's status and body).
pub async fn call_with<P: Platform, F: Frame>(
    edge: &Edge<P>,
    path: &'static str,
    frame: &F,
    timeout_ms: u64,
    kind: CallKind,
    on_chunk: Option<&mut OnChunk<'_>>,
) -> Result<UpstreamResponse, CallError> {
    let p = &edge.platform;
    let body = frame.encode().map_err(|_| CallError::Local)?;
    let now = p.now_ms();
    let shared = store::regional(p).await.unwrap_or_default();
    if shared.down_until_ms > now {
        return Err(CallError::Down {
            retry_after_ms: shared.down_until_ms - now,
        });
    }
    let permit = edge
        .breaker()
        .try_acquire(now)
        .map_err(|r| CallError::Down {
            retry_after_ms: r.retry_after_ms,
        })?;
    let mut nonce = [0u8; 16];
    let signed = p.fill_random(&mut nonce).ok().and_then(|()| {
        wire::sign(
            edge.config.regional_secret.expose(),
            now,
            &nonce,
            path,
            &body,
        )
        .ok()
    });
    let Some(sig) = signed else {
        // Release the permit as a non-event: nothing was sent.
        edge.breaker()
            .record(now, permit, Outcome::Success { latency_ms: 0 });
        return Err(CallError::Local);
    };
    let mut req = UpstreamRequest {
        method: Method::Post,
        url: format!("{}{}", edge.config.regional_url, path),
        headers: vec![
            ("content-type".to_owned(), FRAME_CONTENT_TYPE.to_owned()),
            (SIGNATURE_HEADER.to_owned(), sig.to_header()),
        ],
        body,
        timeout_ms,
    };
    let result = match on_chunk {
        Some(cb) => {
            req.headers.push((
                "accept".to_owned(),
                format!("{}, {FRAME_CONTENT_TYPE}", wire::TURN_STREAM_CONTENT_TYPE),
            ));
            p.fetch_streaming(req, cb).await.and_then(unstream)
        }
        None => p.fetch(req).await,
    };
    let done = p.now_ms();
    let answered = matches!(&result, Ok(r) if (200..300).contains(&r.status) || r.status == 404);
    // For the breaker, any answer but 5xx and 429 shows a live service: a
    // refused frame is the frame's problem, not an outage.
    let alive = matches!(&result, Ok(r) if r.status < 500 && r.status != 429);
    let outcome = match (alive, kind) {
        (true, CallKind::Normal) => Outcome::Success {
            latency_ms: done.saturating_sub(now),
        },
        (true, CallKind::LongPoll) => Outcome::Success { latency_ms: 0 },
        (false, _) => Outcome::Failure,
    };
    let open = {
        let mut b = edge.breaker();
        b.record(done, permit, outcome);
        b.state(done) == BreakerState::Open
    };
    if open {
        // Tell other instances; best effort (the local breaker holds anyway).
        let down = RegionalState {
            down_until_ms: done.saturating_add(edge.config.breaker.open_ms),
            ..shared
        };
        let _ = store::put_regional(p, &down).await;
    }
    match result {
        Ok(r) if answered => Ok(r),
        Ok(r) => Err(CallError::Status(r.status)),
        Err(UpstreamError::Timeout) => Err(CallError::Timeout),
        Err(UpstreamError::Unreachable(_)) => Err(CallError::Unreachable),
    }
}

/// A streamed answer as the plain one: its last record's frame (with the
/// stream's status) or error (with the record's status and body). A stream
/// cut short is a connection failure. A plain answer passes unchanged.
fn unstream(r: UpstreamResponse) -> Result<UpstreamResponse, UpstreamError> {
    let streamed = r
        .header("content-type")
        .is_some_and(|ct| ct.contains(wire::TURN_STREAM_CONTENT_TYPE));
    if !streamed {
        return Ok(r);
    }
    let cut = || UpstreamError::Unreachable("the turn stream ended early".into());
    let mut reader = wire::RecordReader::new();
    reader.push(&r.body);
    loop {
        match reader.next_record() {
            Ok(Some(wire::Record::Delta(_))) => continue,
            Ok(Some(wire::Record::Frame(body))) => {
                return Ok(UpstreamResponse {
                    status: r.status,
                    headers: vec![("content-type".into(), FRAME_CONTENT_TYPE.into())],
                    body,
                });
            }
            Ok(Some(wire::Record::Error { status, body })) => {
                return Ok(UpstreamResponse {
                    status,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body,
                });
            }
            Ok(None) | Err(_) => return Err(cut()),
        }
    }
}

/// Decodes a 2xx answer as frame `F` (a 404 is [`CallError::Status`]).
pub fn decode<F: Frame>(r: &UpstreamResponse) -> Result<F, CallError> {
    if r.status == 404 {
        return Err(CallError::Status(404));
    }
    F::decode(&r.body).map_err(|_| CallError::BadFrame)
}

/// Records a brownout level the regional service reported. Writes only on
/// change or when the stored report is half-way to going stale.
pub async fn note_brownout<P: Platform>(edge: &Edge<P>, level: u8) {
    let p = &edge.platform;
    let now = p.now_ms();
    let Ok(mut s) = store::regional(p).await else {
        return;
    };
    let age = now.saturating_sub(s.brownout_at_ms);
    if s.brownout == level && age < edge.config.brownout_fresh_ms / 2 {
        return;
    }
    s.brownout = level;
    s.brownout_at_ms = now;
    let _ = store::put_regional(p, &s).await;
}

/// The brownout level that applies to `tenant` now: the higher of the
/// tenant's own and the regional service's last fresh report.
pub async fn brownout<P: Platform>(edge: &Edge<P>, tenant: &TenantConfig) -> BrownoutLevel {
    let p = &edge.platform;
    let now = p.now_ms();
    let regional = match store::regional(p).await {
        Ok(s) if now.saturating_sub(s.brownout_at_ms) < edge.config.brownout_fresh_ms => s.brownout,
        _ => 0,
    };
    BrownoutLevel::from_u8(tenant.brownout.max(regional)).unwrap_or(BrownoutLevel::Minimal)
}
