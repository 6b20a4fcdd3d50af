//! Appends: monotonically increasing seqs, idempotency by client message id,
//! conflicting expected seqs, concurrent writers sharing commits.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn seqs_increase_and_since_returns_the_tail() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    for (i, role) in ["visitor", "bot", "agent", "system"].iter().enumerate() {
        let r = h
            .call(
                Method::POST,
                &format!("/v1/conversations/{conv}/messages"),
                Some(&key),
                Some(json!({"role": role, "text": format!("m{i}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.body["seq"], i as u64 + 1);
    }
    let r = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}/messages?since=2"),
            Some(&key),
            None,
        )
        .await;
    let seqs: Vec<u64> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4]);
    assert_eq!(r.body["messages"][1]["role"], "system");
    assert_eq!(r.body["conversation"]["last_seq"], 4);
    let r = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}/messages?since=4"),
            Some(&key),
            None,
        )
        .await;
    assert!(r.body["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_client_message_id_never_makes_a_second_row() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let first = h.say(&key, &conv, "refund please", Some("cm-1")).await;
    assert_eq!(
        (first.status, first.body["duplicate"].as_bool()),
        (StatusCode::CREATED, Some(false))
    );
    let again = h.say(&key, &conv, "refund please", Some("cm-1")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["seq"], first.body["seq"]);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["at_ms"], first.body["at_ms"]);
    // Concurrent retries of one id: still one row.
    let futs: Vec<_> = (0..16)
        .map(|_| h.say(&key, &conv, "dup", Some("cm-2")))
        .collect();
    let results = futures_join(futs).await;
    let seqs: std::collections::BTreeSet<u64> = results
        .iter()
        .map(|r| r.body["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 1);
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(t.body["messages"].as_array().unwrap().len(), 2);
    // The same id in another conversation is a different message.
    let other = h.conversation(&key).await;
    assert_eq!(
        h.say(&key, &other, "x", Some("cm-1")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_conflicting_expected_seq_is_409_and_writes_nothing() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let path = format!("/v1/conversations/{conv}/messages");
    let ok = h
        .call(
            Method::POST,
            &path,
            Some(&key),
            Some(json!({"role": "visitor", "text": "a", "expected_seq": 1})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let stale = h
        .call(
            Method::POST,
            &path,
            Some(&key),
            Some(json!({"role": "bot", "text": "b", "expected_seq": 1})),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.body["error"]["code"], "conflict");
    let ahead = h
        .call(
            Method::POST,
            &path,
            Some(&key),
            Some(json!({"role": "bot", "text": "b", "expected_seq": 9})),
        )
        .await;
    assert_eq!(ahead.status, StatusCode::CONFLICT);
    let next = h
        .call(
            Method::POST,
            &path,
            Some(&key),
            Some(json!({"role": "bot", "text": "b", "expected_seq": 2})),
        )
        .await;
    assert_eq!(next.status, StatusCode::CREATED);
    let t = h.call(Method::GET, &path, Some(&key), None).await;
    assert_eq!(t.body["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_distinct_gapless_seqs() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let convs: Vec<String> = futures_join((0..8).map(|_| h.conversation(&key)).collect()).await;
    let mut futs = Vec::new();
    for c in &convs {
        for i in 0..25 {
            let (h, key) = (&h, &key);
            futs.push(async move {
                h.say(key, c, &format!("msg {i}"), Some(&format!("id-{i}")))
                    .await
            });
        }
    }
    let results = futures_join(futs).await;
    assert!(results.iter().all(|r| r.status == StatusCode::CREATED));
    for c in &convs {
        let r = h
            .call(
                Method::GET,
                &format!("/v1/conversations/{c}/messages"),
                Some(&key),
                None,
            )
            .await;
        let seqs: Vec<u64> = r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
    }
    // Group commit folded concurrent appends: fewer commits than appends.
    let metrics = h.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    let commits: u64 = text
        .lines()
        .find(|l| l.starts_with("kefu_commit_batch_size_count"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let items: f64 = text
        .lines()
        .find(|l| l.starts_with("kefu_commit_batch_size_sum"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(items as u64 > 200 + 8, "{items}");
    assert!(
        commits < items as u64,
        "no batching: {commits} commits for {items} changes"
    );
}

/// Runs futures concurrently on the current task.
pub async fn futures_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut pending: Vec<_> = handles.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                outs[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outs.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test]
async fn answers_keep_their_source_and_citations_within_kefu_core_bounds() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let path = format!("/v1/conversations/{conv}/messages");
    let cite = json!({"id": "kb-1", "title": "退款政策", "url": "https://kb.example/refunds", "snippet": "7 天无理由"});
    let body = json!({"role": "bot", "text": "可以退款", "source": "llm", "citations": [cite]});
    assert_eq!(
        h.call(Method::POST, &path, Some(&key), Some(body))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = h.call(Method::GET, &path, Some(&key), None).await;
    let m = &r.body["messages"][0];
    assert_eq!(
        (m["role"].as_str(), m["source"].as_str()),
        (Some("bot"), Some("llm"))
    );
    assert_eq!(m["citations"][0], cite);
    let visitor = h.say(&key, &conv, "谢谢", None).await;
    assert_eq!(visitor.status, StatusCode::CREATED);
    let r = h
        .call(Method::GET, &format!("{path}?since=1"), Some(&key), None)
        .await;
    assert!(
        r.body["messages"][0]["source"].is_null(),
        "a visitor message has no source"
    );

    let nine = vec![json!({"id": "k", "title": "t"}); 9];
    for bad in [
        json!({"role": "bot", "text": "x", "citations": nine}),
        json!({"role": "bot", "text": "x", "citations": [{"id": "k", "title": "t".repeat(257)}]}),
        json!({"role": "visitor", "text": "x", "client_msg_id": "m".repeat(65)}),
        json!({"role": "bot", "text": "x", "source": "guess"}),
    ] {
        assert_eq!(
            h.call(Method::POST, &path, Some(&key), Some(bad.clone()))
                .await
                .status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}
