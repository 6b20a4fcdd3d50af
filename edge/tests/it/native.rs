//! The native in-process mode: `Edge<MemoryPlatform>::handle` is a `Send`
//! future and one shared edge serves concurrent requests on tokio's
//! multi-threaded runtime.

use serde_json::json;

use crate::support::*;

fn assert_send<T: Send>(_: &T) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_edge_serves_concurrent_requests_across_threads() {
    let h = Harness::new();
    let fut = h.edge.handle(kefu_edge::EdgeRequest::new(
        kefu_edge::Method::Get,
        "/healthz",
    ));
    assert_send(&fut);
    assert_eq!(fut.await.status, 200);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({
                "widget_key": WIDGET_KEY, "visitor_id": format!("v-{n}"),
                "message": "How do I get a refund?", "client_msg_id": "m-1",
            });
            // One address each: the new-conversations-per-IP limit is 10/min.
            let req = kefu_edge::EdgeRequest {
                client_ip: Some(format!("198.51.100.{n}")),
                ..chat_request(&body)
            };
            let r = h.send(req).await;
            (r.status, json_of(&r))
        }));
    }
    let mut sources = Vec::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        sources.push(v["source"].as_str().unwrap().to_owned());
    }
    assert!(sources.iter().all(|s| s == "kb" || s == "cache"));
    assert_eq!(h.fake.state().bad_signatures, 0);
    // Every visitor's turn is at the regional service: forwarded, or
    // reported once delivered.
    h.edge.flush_outbox().await.unwrap();
    let st = h.fake.state();
    assert_eq!(st.turns.len() + st.reported.len(), 40);
}
