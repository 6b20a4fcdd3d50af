//! The knowledge base with a real embedding model (multilingual-e5-small,
//! 4-bit, from `scripts/fetch-models.sh`): publishing embeds every chunk,
//! search fuses BM25 and vector rankings, and a restart loads the vectors
//! with the index instead of embedding again.

use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::common::{Harness, captured_logs};

fn e5() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.kefu/models/e5-small-q4");
    assert!(
        p.join("e5-small-q4.bin").exists(),
        "{} missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

#[tokio::test]
async fn publishing_with_e5_searches_hybrid_and_a_restart_does_not_re_embed() {
    let dir = e5();
    let mut h = Harness::with_config("", &[("KEFU_EMBEDDER", dir.to_str().unwrap())]).await;
    // Its own tenant id: the captured logs are the whole test binary's, and
    // other tests publish and restart at the same time.
    let key = h.tenant("hybrid-e5").await;
    assert!(
        String::from_utf8_lossy(&captured_logs().lock().unwrap()).contains("embedding model ready"),
        "the embedder was not loaded"
    );
    let kb: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/shop/kb.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        h.call(
            Method::POST,
            "/v1/kb/faqs",
            Some(&key),
            Some(kb["faqs"].clone())
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        h.call(
            Method::POST,
            "/v1/kb/documents",
            Some(&key),
            Some(kb["documents"].clone())
        )
        .await
        .status,
        StatusCode::OK
    );
    let p = h
        .call(Method::POST, "/v1/kb/publish", Some(&key), None)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["retrieval"], "multilingual-e5-small-q4");

    // A paraphrase with no words in common with its English FAQ: the
    // vector ranking still finds the refund entries.
    let s = search(&h, &key, "when does the money come back").await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let hits = s.body["hits"].as_array().unwrap();
    assert!(
        hits.iter().all(|x| x["vector"]["rank"].is_u64()),
        "every hit has a vector rank: {hits:?}"
    );
    let ids: Vec<&str> = hits
        .iter()
        .take(3)
        .map(|x| x["entry_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter().any(|i| i.starts_with("faq-refund")),
        "top 3: {ids:?}"
    );

    let before = captured_logs().lock().unwrap().len();
    h.restart().await;
    let s = search(&h, &key, "我忘记密码了怎么办").await;
    assert_eq!(
        s.body["hits"][0]["entry_id"], "faq-password-zh",
        "{:?}",
        s.body
    );
    assert!(s.body["hits"][0]["vector"]["score"].as_f64().unwrap() > 0.8);
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()[before..]).into_owned();
    let ours: Vec<&str> = logs.lines().filter(|l| l.contains("hybrid-e5")).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("knowledge base loaded from disk (no rebuild)")),
        "{ours:?}"
    );
    assert!(
        !ours.iter().any(|l| l.contains("knowledge base published")),
        "{ours:?}"
    );
}

async fn search(h: &Harness, key: &str, q: &str) -> crate::common::Resp {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    h.call(
        Method::GET,
        &format!("/v1/kb/search?k=5&q={enc}"),
        Some(key),
        None,
    )
    .await
}
