//! A batched edge report (issue #5: the edge reports its cache hits many at
//! a time): every turn of every conversation stored once, each
//! conversation's turns in the edge's order, however the report interleaves
//! them; the old single-turn report still works.

use axum::http::{Method, StatusCode};
use kefu_core::wire::{self, EdgeReport, Frame, MAX_REPORT_TURNS, ReportedTurn};
use kefu_core::{ConversationId, KbVersion, Source, TenantId, VisitorId};
use serde_json::json;

use crate::common::Harness;
use crate::edge::{EDGE_KEY, signed};

async fn report(h: &Harness, rep: &EdgeReport, n: u8) -> serde_json::Value {
    let body = rep.encode().unwrap();
    let now = kefu_regional::store::now_ms();
    let (status, bytes) = signed(
        h,
        Method::POST,
        wire::paths::REPORT,
        body,
        [n; 16],
        now,
        EDGE_KEY,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

fn turn(conv: usize, k: usize) -> ReportedTurn {
    ReportedTurn {
        tenant: TenantId::new("acme").unwrap(),
        conversation: ConversationId::new(format!("c_batch{conv:04}")).unwrap(),
        visitor: VisitorId::new(format!("v-{conv}")).unwrap(),
        client_msg_id: format!("m-{conv}-{k}"),
        question: format!("question {k} of {conv}"),
        answer: format!("answer {k} to {conv}"),
        source: Source::Cache,
        citations: vec![],
        kb_version: KbVersion(0),
        at_ms: kefu_regional::store::now_ms() + k as u64,
    }
}

#[tokio::test]
async fn a_full_report_of_many_conversations_is_stored_once_each_in_order() {
    let h = crate::edge::harness().await;
    let key = h.tenant("acme").await;
    let convs = MAX_REPORT_TURNS / 2;
    // Interleaved: every conversation's first turn, then every second one.
    let mut rep = EdgeReport::new();
    for k in 0..2 {
        for c in 0..convs {
            rep.turns.push(turn(c, k));
        }
    }
    let n = rep.turns.len() as u64;
    assert_eq!(
        report(&h, &rep, 1).await,
        json!({"applied": n, "duplicates": 0, "unknown_tenant": 0, "erased": 0, "successor": 0})
    );
    // Sent again (its answer was lost): nothing new.
    assert_eq!(
        report(&h, &rep, 2).await,
        json!({"applied": 0, "duplicates": n, "unknown_tenant": 0, "erased": 0, "successor": 0})
    );
    for c in 0..convs {
        let texts = h.texts(&key, &format!("c_batch{c:04}")).await;
        let q0 = format!("question 0 of {c}");
        let a0 = format!("answer 0 to {c}");
        let q1 = format!("question 1 of {c}");
        let a1 = format!("answer 1 to {c}");
        assert_eq!(texts, [q0, a0, q1, a1], "conversation {c}");
    }
    // An older edge's report of one turn still works.
    let mut one = EdgeReport::new();
    one.turns.push(turn(convs, 0));
    assert_eq!(
        report(&h, &one, 3).await,
        json!({"applied": 1, "duplicates": 0, "unknown_tenant": 0, "erased": 0, "successor": 0})
    );
}
