//! After a restart every acknowledged message is there, decrypts, and the
//! conversation continues from its last seq.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};

use crate::append::futures_join;
use crate::common::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_keeps_every_acknowledged_message() {
    let mut h = Harness::new().await;
    let key = h.tenant("acme").await;
    let convs: Vec<String> = futures_join((0..10).map(|_| h.conversation(&key)).collect()).await;
    let mut futs = Vec::new();
    for (ci, c) in convs.iter().enumerate() {
        for i in 0..20 {
            let text = format!("conversation {ci} message {i} 第{i}条");
            let (h, key) = (&h, &key);
            futs.push(async move {
                let r = h.say(key, c, &text, None).await;
                (ci, text, r)
            });
        }
    }
    let mut acked: BTreeMap<(usize, u64), String> = BTreeMap::new();
    for (ci, text, r) in futures_join(futs).await {
        assert_eq!(r.status, StatusCode::CREATED);
        acked.insert((ci, r.body["seq"].as_u64().unwrap()), text);
    }
    assert_eq!(acked.len(), 200);

    h.restart().await;

    for (ci, c) in convs.iter().enumerate() {
        let r = h
            .call(
                Method::GET,
                &format!("/v1/conversations/{c}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let msgs = r.body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 20);
        for m in msgs {
            let seq = m["seq"].as_u64().unwrap();
            assert_eq!(m["text"].as_str().unwrap(), acked[&(ci, seq)]);
        }
        // Continue from the last seq.
        assert_eq!(r.body["conversation"]["last_seq"], 20);
        let next = h.say(&key, c, "after restart", None).await;
        assert_eq!(next.body["seq"], 21);
    }
}

#[tokio::test]
async fn a_wrong_master_key_cannot_open_the_data_dir() {
    let mut h = Harness::new().await;
    h.tenant("acme").await;
    h.stop().await;
    let cfg = crate::common::config_for(
        &h.dir,
        "",
        &[(
            "KEFU_MASTER_KEY".into(),
            "00112233445566778899aabbccddeeff".into(),
        )],
    );
    let err = kefu_regional::server::App::open(std::sync::Arc::new(cfg))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("master key does not match"),
        "{err}"
    );
}
