//! Signed visitors: a missing or wrong signature is 401 before any state.

use kefu_core::wire::VisitorSigAlg;
use kefu_edge::KvBucket;
use kefu_edge::pipeline::visitor::sign;
use serde_json::json;

use crate::support::*;

fn signed_harness(alg: VisitorSigAlg) -> Harness {
    Harness::with(
        |_| {},
        |st| {
            let t = st.tenants.get_mut(WIDGET_KEY).unwrap();
            t.require_signed_visitor = true;
            t.visitor_key = Some(VISITOR_KEY.to_vec());
            t.visitor_sig_alg = alg;
        },
    )
}

#[tokio::test]
async fn missing_or_bad_signatures_get_401_and_leave_no_state() {
    let h = signed_harness(VisitorSigAlg::HmacSha256);
    let good = sign(VisitorSigAlg::HmacSha256, VISITOR_KEY, "u-1001");
    let other = sign(VisitorSigAlg::HmacSha256, VISITOR_KEY, "u-1002");
    let wrong_key = sign(
        VisitorSigAlg::HmacSha256,
        b"not-the-tenant-key-123",
        "u-1001",
    );
    for sig in [
        None,
        Some(other.as_str()),
        Some(wrong_key.as_str()),
        Some("zz"),
        Some(""),
    ] {
        let mut b = json!({"widget_key": WIDGET_KEY, "visitor_id": "u-1001", "message": "How do I get a refund?"});
        if let Some(s) = sig {
            b["visitor_sig"] = json!(s);
        }
        let (status, v) = h.chat(b).await;
        assert_eq!(status, 401, "{sig:?}");
        assert_eq!(error_code(&v), "bad_visitor_signature");
    }
    for bucket in [
        KvBucket::Sessions,
        KvBucket::Limits,
        KvBucket::Outbox,
        KvBucket::Cache,
    ] {
        assert!(h.platform().keys(bucket).is_empty(), "{bucket:?}");
    }
    assert_eq!(h.fake.turn_count(), 0);
    let (status, v) = h
        .chat(json!({"widget_key": WIDGET_KEY, "visitor_id": "u-1001", "message": "How do I get a refund?", "visitor_sig": good}))
        .await;
    assert_eq!(status, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap();
    assert!(
        h.platform()
            .keys(KvBucket::Sessions)
            .contains(&conv.to_owned())
    );
}

#[tokio::test]
async fn sm3_signatures_and_polls_are_checked_too() {
    let h = signed_harness(VisitorSigAlg::HmacSm3);
    let sig = sign(VisitorSigAlg::HmacSm3, VISITOR_KEY, "u-1");
    let (status, v) = h
        .chat(json!({"widget_key": WIDGET_KEY, "visitor_id": "u-1", "message": "hello", "visitor_sig": sig}))
        .await;
    assert_eq!(status, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap();
    // The catch-up needs the signature as well.
    assert_eq!(h.messages(conv, "u-1", Some(0)).await.0, 401);
    let req = kefu_edge::EdgeRequest::new(
        kefu_edge::Method::Get,
        &format!(
            "/v1/conversations/{conv}/messages?since=0&widget_key={WIDGET_KEY}&visitor_id=u-1&visitor_sig={sig}"
        ),
    );
    assert_eq!(h.send(req).await.status, 200);
}
