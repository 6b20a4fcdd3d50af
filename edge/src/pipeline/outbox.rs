//! Store-and-forward: turns the edge answered itself (cache hits and
//! acknowledgements) wait in the outbox until the regional service has
//! them, so its durable store holds every turn a visitor saw.
//!
//! One key per turn, `o/{conversation}/{at_ms:013}-{client_msg_id}`: adding
//! is a single `put` (no read-modify-write to race), and a widget retry of
//! the same message lands on the same key. Delivery sends the oldest turns
//! (those of the conversation about to be forwarded first) as one signed
//! [`EdgeReport`] and deletes their keys once the regional service answers
//! 2xx. A delivery whose answer is lost is sent again; the regional service
//! applies a report idempotently by (conversation, client message id) (see
//! [`ReportedTurn::apply`]), so each turn is recorded exactly once.
//!
//! Entries have no TTL: they leave only by delivery. One the regional
//! service refuses for good (400/409/413/422, alone in its report) moves to
//! `d/...` (dead letters) instead of blocking the queue.
//!
//! # When delivery happens
//!
//! - A turn forwarded to the regional service, and a long poll, deliver
//!   first (the regional copy must hold the earlier turns).
//! - A turn answered here ([`after_add`]) delivers in batches, not once per
//!   turn: when this instance has queued `outbox_batch` turns (16 unless
//!   configured, [`crate::config::settings::OUTBOX_BATCH`]) since it last
//!   delivered, or when the oldest waiting turn has waited [`DUE_MS`] (the
//!   store's `outbox` hint, which serves instances that live for one
//!   request). A delivery round sends up to [`ROUNDS`] reports of up to
//!   `MAX_REPORT_TURNS` turns each, so delivery keeps up with a busy edge.
//!   With `outbox_batch` 1 the turn is reported alone before the visitor
//!   gets the answer. Where the store is memory
//!   ([`Platform::durable_outbox`] false: plain `wasmtime serve`, the
//!   in-process edge) nothing goes in the outbox at all ([`send_now`]).
//! - [`crate::Edge::flush_outbox`] from a scheduled trigger, for a quiet one.

use kefu_core::ConversationId;
use kefu_core::wire::{EdgeReport, Frame, MAX_REPORT_TURNS, ReportedTurn, paths};

use super::regional::{self, CallError, CallKind};
use crate::edge::Edge;
use crate::platform::{KvBucket, Platform, PlatformError};
use crate::store;

/// Prefix of entries waiting for delivery.
pub const LIVE: &str = "o/";
/// Prefix of entries the regional service refused.
pub const DEAD: &str = "d/";
/// Keys looked at per delivery.
const SCAN: usize = 256;
/// Bytes of turn text per report, well inside the report frame's 1 MiB.
const REPORT_BUDGET: usize = 512 * 1024;
/// How long a turn may wait before the next turn answered here delivers it, ms.
pub const DUE_MS: u64 = 1_000;
/// Reports one delivery round sends at most.
pub const ROUNDS: usize = 4;

/// The outbox key of `turn`.
pub fn key(turn: &ReportedTurn) -> String {
    format!(
        "{LIVE}{}/{:013}-{}",
        turn.conversation, turn.at_ms, turn.client_msg_id
    )
}

/// Puts `turn` in the outbox.
pub async fn add<P: Platform>(edge: &Edge<P>, turn: ReportedTurn) -> Result<(), PlatformError> {
    let key = key(&turn);
    let mut report = EdgeReport::new();
    report.turns.push(turn);
    let bytes = report
        .encode()
        .map_err(|e| PlatformError::Kv(e.to_string()))?;
    edge.platform
        .kv_put(KvBucket::Outbox, &key, &bytes, None)
        .await
}

/// Sends `turn` alone, now, where the outbox is memory
/// ([`Platform::durable_outbox`] is false): it is never put there. A turn
/// the regional service refuses for good is [`CallError::BadFrame`].
pub async fn send_now<P: Platform>(edge: &Edge<P>, turn: ReportedTurn) -> Result<(), CallError> {
    match send(edge, vec![(key(&turn), turn)]).await? {
        0 => Err(CallError::BadFrame),
        _ => Ok(()),
    }
}

/// After a turn answered here was put in the outbox: delivers waiting
/// turns if a batch is full or the oldest is due (see the module docs).
/// Best effort: whatever is not delivered stays, and the hint says so.
pub async fn after_add<P: Platform>(edge: &Edge<P>, turn: ReportedTurn) {
    let p = &edge.platform;
    let now = p.now_ms();
    if edge.config.outbox_batch == 1 {
        // Each at once: this turn alone, before the visitor has the answer
        // (no listing, and nothing another request is sending twice).
        let one = [(key(&turn), turn)];
        if send(edge, one.into()).await.is_err() {
            // Kept; the due hint brings it along later.
            if let Ok(None) = store::outbox_since(p).await {
                let _ = store::put_outbox_since(p, now).await;
            }
        }
        return;
    }
    let (full, busy) = {
        let mut m = edge.memo();
        m.outbox_added += 1;
        (
            m.outbox_added >= edge.config.outbox_batch,
            m.outbox_draining,
        )
    };
    let due = match store::outbox_since(p).await {
        Ok(Some(since)) => now >= since.saturating_add(DUE_MS),
        Ok(None) => {
            let _ = store::put_outbox_since(p, now).await;
            false
        }
        Err(_) => false,
    };
    if (full || due) && !busy {
        edge.memo().outbox_draining = true;
        let _draining = Draining(edge);
        drain(edge).await;
    }
}

/// Clears the instance's "delivering" mark when the delivery ends, even
/// if its request is dropped half-way.
struct Draining<'a, P: Platform>(&'a Edge<P>);

impl<P: Platform> Drop for Draining<'_, P> {
    fn drop(&mut self) {
        self.0.memo().outbox_draining = false;
    }
}

/// Delivers up to [`ROUNDS`] reports. The hint is cleared first, so a turn
/// queued meanwhile by another instance sets it again (or is in this
/// round's listing); it is set again when turns remain.
async fn drain<P: Platform>(edge: &Edge<P>) {
    let p = &edge.platform;
    edge.memo().outbox_added = 0;
    let _ = store::clear_outbox_since(p).await;
    let mut since = p.now_ms();
    for round in 0..ROUNDS {
        match deliver(edge, None).await {
            Ok(n) if n >= MAX_REPORT_TURNS => {
                if round + 1 == ROUNDS {
                    // More wait: due at once, for the next request.
                    since = since.saturating_sub(DUE_MS);
                }
            }
            Ok(_) => return,
            // Not taken: try again once the next turn has waited DUE_MS.
            Err(_) => break,
        }
    }
    let _ = store::put_outbox_since(p, since).await;
}

fn weight(t: &ReportedTurn) -> usize {
    let cites: usize = t
        .citations
        .iter()
        .map(|c| {
            c.id.len()
                + c.title.len()
                + c.url.as_ref().map_or(0, String::len)
                + c.snippet.as_ref().map_or(0, String::len)
        })
        .sum();
    t.question.len() + t.answer.len() + cites + 256
}

/// Delivers one report's worth of waiting turns, `first`'s conversation
/// first. Returns how many turns were delivered (0 if none waited). An error
/// means the regional service did not take them; they stay.
pub async fn deliver<P: Platform>(
    edge: &Edge<P>,
    first: Option<&ConversationId>,
) -> Result<usize, CallError> {
    let p = &edge.platform;
    let keys = p
        .kv_list(KvBucket::Outbox, LIVE, SCAN)
        .await
        .map_err(|_| CallError::Local)?;
    if keys.is_empty() {
        return Ok(0);
    }
    let mut entries: Vec<(String, ReportedTurn)> = Vec::with_capacity(keys.len());
    for k in keys {
        match store::outbox_entry(p, &k).await {
            Ok(Some(mut r)) if r.turns.len() == 1 => {
                if let Some(t) = r.turns.pop() {
                    entries.push((k, t));
                }
            }
            Ok(_) => bury(edge, &k).await,
            Err(_) => return Err(CallError::Local),
        }
    }
    entries.sort_by(|(ka, a), (kb, b)| {
        let fa = Some(&a.conversation) != first;
        let fb = Some(&b.conversation) != first;
        (fa, a.at_ms, ka).cmp(&(fb, b.at_ms, kb))
    });
    let mut batch = Vec::new();
    let mut budget = REPORT_BUDGET;
    for e in entries {
        let w = weight(&e.1);
        if batch.len() == MAX_REPORT_TURNS || (w > budget && !batch.is_empty()) {
            break;
        }
        budget = budget.saturating_sub(w);
        batch.push(e);
    }
    send(edge, batch).await
}

/// Whether the regional service refused a report for good: malformed (400,
/// 413, 422) or conflicting (409: a turn for a closed conversation; replays
/// cannot happen, every request has a fresh nonce).
fn malformed(e: &CallError) -> bool {
    matches!(e, CallError::Status(400 | 409 | 413 | 422))
}

/// Sends `batch` as one report and deletes its keys once taken. On a
/// malformed-report refusal of several turns, sends each alone so only the
/// refused ones are set aside.
async fn send<P: Platform>(
    edge: &Edge<P>,
    batch: Vec<(String, ReportedTurn)>,
) -> Result<usize, CallError> {
    match send_report(edge, &batch).await {
        Ok(()) => Ok(batch.len()),
        Err(e) if malformed(&e) => {
            let mut delivered = 0;
            for one in batch.chunks(1) {
                match send_report(edge, one).await {
                    Ok(()) => delivered += 1,
                    Err(e) if malformed(&e) => {
                        for (k, _) in one {
                            bury(edge, k).await;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(delivered)
        }
        Err(e) => Err(e),
    }
}

async fn send_report<P: Platform>(
    edge: &Edge<P>,
    batch: &[(String, ReportedTurn)],
) -> Result<(), CallError> {
    let mut report = EdgeReport::new();
    report.turns = batch.iter().map(|(_, t)| t.clone()).collect();
    let timeout = edge.config.call_timeout_ms;
    let r = regional::call(edge, paths::REPORT, &report, timeout, CallKind::Normal).await?;
    if r.status == 404 {
        return Err(CallError::Status(404));
    }
    for (k, _) in batch {
        let _ = edge.platform.kv_delete(KvBucket::Outbox, k).await;
    }
    Ok(())
}

/// Moves an entry to the dead letters.
async fn bury<P: Platform>(edge: &Edge<P>, key: &str) {
    let p = &edge.platform;
    if let Ok(Some(bytes)) = p.kv_get(KvBucket::Outbox, key).await {
        let dead = format!("{DEAD}{}", key.strip_prefix(LIVE).unwrap_or(key));
        if p.kv_put(KvBucket::Outbox, &dead, &bytes, None)
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = p.kv_delete(KvBucket::Outbox, key).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use kefu_core::session::Source;
    use kefu_core::wire::paths;
    use kefu_core::{KbVersion, TenantId, VisitorId};

    use super::*;
    use crate::memory::{ManualClock, MemoryPlatform};
    use crate::platform::{UpstreamRequest, UpstreamResponse};
    use crate::{EdgeConfig, Secret};

    /// An edge whose regional service takes every report; counts the
    /// reports and the turns in them.
    fn edge(clock: &ManualClock) -> (Edge<MemoryPlatform>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (reports, turns) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (r, t) = (Arc::clone(&reports), Arc::clone(&turns));
        let upstream = Arc::new(move |req: UpstreamRequest| {
            assert!(req.url.ends_with(paths::REPORT), "{}", req.url);
            r.fetch_add(1, Ordering::SeqCst);
            let n = EdgeReport::decode(&req.body).map_or(0, |rep| rep.turns.len());
            t.fetch_add(n, Ordering::SeqCst);
            async move {
                Ok(UpstreamResponse {
                    status: 200,
                    headers: Vec::new(),
                    body: Vec::new(),
                })
            }
        });
        let p = MemoryPlatform::new(upstream).with_clock(clock.clone());
        let config = EdgeConfig::new("https://regional.test", Secret::new("s".repeat(32))).unwrap();
        (Edge::new(p, config).unwrap(), reports, turns)
    }

    fn turn(i: usize, at_ms: u64) -> ReportedTurn {
        ReportedTurn {
            tenant: TenantId::new("acme").unwrap(),
            conversation: ConversationId::new(format!("c_{i}")).unwrap(),
            visitor: VisitorId::new(format!("v{i}")).unwrap(),
            client_msg_id: format!("m{i}"),
            question: "How do I get a refund?".to_owned(),
            answer: "From your orders page.".to_owned(),
            source: Source::Cache,
            citations: Vec::new(),
            kb_version: KbVersion(1),
            at_ms,
        }
    }

    async fn hit(e: &Edge<MemoryPlatform>, i: usize) {
        let t = turn(i, e.platform.now_ms());
        add(e, t.clone()).await.unwrap();
        after_add(e, t).await;
    }

    #[tokio::test]
    async fn turns_answered_here_are_delivered_in_batches_and_when_due() {
        let clock = ManualClock::at(1_000_000);
        let (e, reports, turns) = edge(&clock);
        const BATCH: usize = 16;
        assert_eq!(e.config.outbox_batch, BATCH);
        for i in 0..BATCH - 1 {
            hit(&e, i).await;
        }
        assert_eq!(reports.load(Ordering::SeqCst), 0, "not a batch yet");
        hit(&e, BATCH - 1).await;
        assert_eq!(
            reports.load(Ordering::SeqCst),
            1,
            "one report for the batch"
        );
        assert_eq!(turns.load(Ordering::SeqCst), BATCH);
        assert!(e.platform.keys(KvBucket::Outbox).is_empty());

        // A lone turn waits until it is due, then the next turn takes it along.
        hit(&e, 100).await;
        clock.advance(DUE_MS - 1);
        hit(&e, 101).await;
        assert_eq!(reports.load(Ordering::SeqCst), 1, "not due yet");
        clock.advance(1);
        hit(&e, 102).await;
        assert_eq!(reports.load(Ordering::SeqCst), 2);
        assert_eq!(turns.load(Ordering::SeqCst), BATCH + 3, "each turn once");
        assert!(e.platform.keys(KvBucket::Outbox).is_empty());
    }

    #[tokio::test]
    async fn with_a_batch_of_one_each_turn_is_reported_before_the_answer() {
        let clock = ManualClock::at(1_000_000);
        let (mut e, reports, turns) = edge(&clock);
        e.config.outbox_batch = 1;
        for i in 0..3 {
            hit(&e, i).await;
            assert_eq!(reports.load(Ordering::SeqCst), i + 1);
            assert!(e.platform.keys(KvBucket::Outbox).is_empty());
        }
        assert_eq!(turns.load(Ordering::SeqCst), 3, "each turn once");
    }
}
