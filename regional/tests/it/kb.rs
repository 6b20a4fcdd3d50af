//! The knowledge base end to end: the bilingual shop fixture uploaded
//! through the tenant routes, published, and asked through the in-process
//! public widget API in Chinese and English; answers cite the right entry,
//! unanswerable questions get an honest fallback, and a restart serves the
//! stored index without rebuilding it.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Harness, captured_logs};
use crate::inproc::{chat, harness, public_call, widget_key};

fn fixture() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/shop/kb.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

async fn load_shop(h: &Harness, key: &str) -> Value {
    let kb = fixture();
    let r = h
        .call(
            Method::POST,
            "/v1/kb/faqs",
            Some(key),
            Some(kb["faqs"].clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["ids"].as_array().unwrap().len(), 80);
    let r = h
        .call(
            Method::POST,
            "/v1/kb/documents",
            Some(key),
            Some(kb["documents"].clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = h
        .call(Method::POST, "/v1/kb/publish", Some(key), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn ask(public: &axum::Router, wk: &str, q: &str) -> Value {
    // A fresh client message id per question (the shared helper derives it
    // from the text length, and a repeated id is answered from the record).
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let req = chat(wk, None, q, None);
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["client_msg_id"] = json!(format!("kb-{n}"));
    let req = axum::http::Request::from_parts(parts, axum::body::Body::from(v.to_string()));
    let r = public_call(public, req).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
    r.body
}

fn cited(a: &Value) -> Vec<String> {
    a["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn questions_in_both_languages_are_answered_from_the_published_kb_with_citations() {
    let (mut h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let report = load_shop(&h, &key).await;
    assert_eq!(report["kb_version"], 1);
    assert_eq!(report["entries"], 87);
    assert_eq!(report["retrieval"], "lexical");

    // (question, the entries that answer it, the language of the answer)
    let cases = [
        ("我忘记密码了怎么办", &["faq-password-zh"][..], "zh"),
        (
            "how do I get a refund",
            &["faq-refund-time-en", "faq-refund-window-en"][..],
            "en",
        ),
        ("退款多久能到账", &["faq-refund-time-zh"][..], "zh"),
        ("do you ship to Australia?", &["faq-ship-intl-en"][..], "en"),
        ("寄到香港要几天", &["faq-ship-hk-zh"][..], "zh"),
        ("can I pay with WeChat Pay", &["faq-payment-en"][..], "en"),
        ("发票怎么开", &["faq-invoice-zh"][..], "zh"),
        (
            "how do I factory reset the smart lamp",
            &["doc-device-setup-mixed"][..],
            "en",
        ),
    ];
    for (q, expect, lang) in cases {
        let a = ask(&public, &wk, q).await;
        let src = a["source"].as_str().unwrap();
        assert!(src == "faq" || src == "kb", "{q}: {a:?}");
        let ids = cited(&a);
        assert!(
            ids.iter().any(|i| expect.contains(&i.as_str())),
            "{q}: cited {ids:?}, want {expect:?}"
        );
        let text = a["answer"].as_str().unwrap();
        let cjk = text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        if lang == "en" && src == "faq" {
            assert!(!cjk, "{q}: answered in the wrong language: {text}");
        }
        if lang == "zh" {
            assert!(cjk, "{q}: answered in the wrong language: {text}");
        }
    }

    // A curated FAQ is returned verbatim; asked again, the edge answers
    // from its cache with the original citations.
    let a = ask(&public, &wk, "我忘记密码了怎么办").await;
    assert_eq!(a["source"], "cache");
    assert_eq!(cited(&a), vec!["faq-password-zh".to_owned()]);
    let want = fixture()["faqs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "faq-password-zh")
        .unwrap()["answer"]
        .clone();
    assert_eq!(a["answer"], want);

    // Nothing relevant: an honest fallback offering a human, no citations.
    for q in [
        "can you recommend a good restaurant nearby",
        "你们卖不卖二手 iPhone",
    ] {
        let a = ask(&public, &wk, q).await;
        assert_eq!(a["source"], "fallback", "{q}: {a:?}");
        assert!(a["citations"].as_array().unwrap().is_empty());
        let t = a["answer"].as_str().unwrap();
        assert!(t.contains("human") || t.contains("人工"), "{t}");
    }

    // The search route shows what retrieval found, with scores.
    let s = h
        .call(
            Method::GET,
            "/v1/kb/search?q=%E5%BF%98%E8%AE%B0%E5%AF%86%E7%A0%81&k=3",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    assert_eq!(s.body["kb_version"], 1);
    assert_eq!(s.body["judgement"], "faq");
    let hits = s.body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0]["entry_id"], "faq-password-zh");
    assert!(hits[0]["lexical"]["score"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["score"].as_f64().unwrap() >= hits[1]["score"].as_f64().unwrap());

    // After a restart the stored index is served, not rebuilt.
    // The in-process public router holds the old storage: drop it first.
    drop(public);
    let before = captured_logs().lock().unwrap().len();
    h.restart().await;
    let (h2, public2) = harness_on(h).await;
    let a = ask(&public2, &wk, "I forgot my password!").await;
    assert_eq!(cited(&a), vec!["faq-password-en".to_owned()], "{a:?}");
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()[before..]).into_owned();
    assert!(
        logs.contains("knowledge base loaded from disk (no rebuild)"),
        "no load line after restart"
    );
    assert!(
        !logs.contains("knowledge base published"),
        "rebuilt instead of loading"
    );
    let o = h2.call(Method::GET, "/v1/kb", Some(&key), None).await;
    assert_eq!(
        (
            o.body["kb_version"].clone(),
            o.body["faqs"].clone(),
            o.body["documents"].clone()
        ),
        (json!(1), json!(80), json!(7))
    );
}

/// The in-process public router over an existing (restarted) harness.
async fn harness_on(mut h: Harness) -> (Harness, axum::Router) {
    let app = h.app.as_ref().unwrap();
    let config = kefu_regional::public::with_edge_key(app.state.config.clone());
    let state = kefu_regional::http::AppState::new(config, app.state.metrics.clone());
    state.set_storage(app.storage().clone());
    let edge = kefu_regional::public::edge(&state).unwrap();
    let public = kefu_regional::public::router(edge);
    h.router = kefu_regional::http::router(state);
    (h, public)
}

#[tokio::test]
async fn publishing_makes_a_new_version_and_edits_show_only_after_it() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let faq = json!([{"id": "faq-hours", "question": "When are you open?", "answer": "Every day 9:00-21:00."}]);
    let r = h
        .call(Method::POST, "/v1/kb/faqs", Some(&key), Some(faq))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Before any publish: the labelled no-KB fallback.
    assert_eq!(
        ask(&public, &wk, "when are you open").await["source"],
        "fallback"
    );
    assert_eq!(
        h.call(Method::POST, "/v1/kb/publish", Some(&key), None)
            .await
            .body["kb_version"],
        1
    );
    let a = ask(&public, &wk, "when are you open?").await;
    assert_eq!(a["answer"], "Every day 9:00-21:00.");

    // Replace in the draft: still the old answer until published.
    let r = h
        .call(
            Method::PUT,
            "/v1/kb/faqs/faq-hours",
            Some(&key),
            Some(json!({"question": "When are you open?", "answer": "Weekdays 10:00-18:00."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let a = ask(&public, &wk, "When are you open").await;
    assert_eq!(
        (a["answer"].as_str(), a["source"].as_str()),
        (Some("Every day 9:00-21:00."), Some("cache"))
    );
    assert_eq!(
        h.call(Method::POST, "/v1/kb/publish", Some(&key), None)
            .await
            .body["kb_version"],
        2
    );
    // The edge learns of version 2 from the first answer resting on it (or
    // its next tenant-config refresh); from then on, version 1's cached
    // answers are unreachable.
    let a = ask(&public, &wk, "are you open on weekdays?").await;
    assert_eq!(a["answer"], "Weekdays 10:00-18:00.", "{a:?}");
    let a = ask(&public, &wk, "When are you open").await;
    assert_eq!(a["answer"], "Weekdays 10:00-18:00.", "{a:?}");

    // Delete, and publishing an empty draft is refused with a clear error.
    assert_eq!(
        h.call(Method::DELETE, "/v1/kb/faqs/faq-hours", Some(&key), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.call(Method::DELETE, "/v1/kb/faqs/faq-hours", Some(&key), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = h
        .call(Method::POST, "/v1/kb/publish", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no entries"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn bad_kb_input_gets_clear_errors_and_stores_nothing() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let bad: Vec<(Value, StatusCode, &str)> = vec![
        (json!([]), StatusCode::BAD_REQUEST, "no entries"),
        (
            json!([{"question": "  ", "answer": "a"}]),
            StatusCode::BAD_REQUEST,
            "entry 0: question",
        ),
        (
            json!([{"question": "q", "answer": "a"}, {"question": "q2", "answer": ""}]),
            StatusCode::BAD_REQUEST,
            "entry 1: answer",
        ),
        (
            json!([{"id": "has space", "question": "q", "answer": "a"}]),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            json!([{"question": "q", "answer": "x".repeat(5000)}]),
            StatusCode::BAD_REQUEST,
            "answer",
        ),
        (
            json!([{"question": "q", "answer": "a", "colour": "red"}]),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            json!({"question": "q", "answer": "a"}),
            StatusCode::BAD_REQUEST,
            "",
        ),
    ];
    for (body, status, needle) in bad {
        let r = h
            .call(Method::POST, "/v1/kb/faqs", Some(&key), Some(body.clone()))
            .await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            r.body["error"]["code"].is_string() && msg.contains(needle),
            "{body}: {:?}",
            r.body
        );
    }
    let r = h
        .call(
            Method::POST,
            "/v1/kb/documents",
            Some(&key),
            Some(json!({"title": "t", "text": "x", "url": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = h
        .call(Method::GET, "/v1/kb/search?q=hello", Some(&key), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "nothing published yet: {:?}",
        r.body
    );
    let r = h.call(Method::GET, "/v1/kb", Some(&key), None).await;
    assert_eq!(
        (r.body["faqs"].clone(), r.body["kb_version"].clone()),
        (json!(0), json!(0)),
        "nothing stored"
    );
    let r = h
        .call(
            Method::POST,
            "/v1/kb/faqs",
            None,
            Some(json!([{"question": "q", "answer": "a"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_async_publish_is_a_job_the_tenant_polls_to_the_end() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    // Nothing to publish: the job fails, says why, and nothing is served.
    let r = h
        .call(Method::POST, "/v1/kb/publish?async=true", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let failed = poll_job(&h, &key, r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("no entries"),
        "{failed}"
    );

    let fx = fixture();
    let faqs = h
        .call(
            Method::POST,
            "/v1/kb/faqs",
            Some(&key),
            Some(fx["faqs"].clone()),
        )
        .await;
    assert_eq!(faqs.status, StatusCode::OK);
    let r = h
        .call(Method::POST, "/v1/kb/publish?async=true", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/v1/kb/jobs/{id}")
    );
    assert_eq!(r.body["status"], "running");
    let done = poll_job(&h, &key, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["kb_version"], 1);
    assert_eq!(
        done["report"]["entries"],
        fx["faqs"].as_array().unwrap().len()
    );
    assert_eq!(done["done"], done["total"]);
    assert!(done["finished_ms"].as_u64() >= done["started_ms"].as_u64());
    // Served: the overview names the version.
    let kb = h.call(Method::GET, "/v1/kb", Some(&key), None).await;
    assert_eq!(kb.body["kb_version"], 1);
    // The jobs list, newest first; an unknown job is 404.
    let list = h.call(Method::GET, "/v1/kb/jobs", Some(&key), None).await;
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], id);
    let missing = h
        .call(Method::GET, "/v1/kb/jobs/job_nope", Some(&key), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "not_found");
}

/// Polls a publish job until it leaves `running`.
async fn poll_job(h: &Harness, key: &str, id: &str) -> Value {
    for _ in 0..600 {
        let j = h
            .call(Method::GET, &format!("/v1/kb/jobs/{id}"), Some(key), None)
            .await;
        assert_eq!(j.status, StatusCode::OK, "{:?}", j.body);
        if j.body["status"] != "running" {
            return j.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} still running after 30 s");
}

async fn post_csv(h: &Harness, key: &str, body: &[u8]) -> crate::common::Resp {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/kb/faqs")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/csv; charset=utf-8")
        .body(axum::body::Body::from(body.to_vec()))
        .unwrap();
    h.send(req).await
}

#[tokio::test]
async fn faqs_upload_as_csv_and_bad_rows_are_named_with_nothing_stored() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    // A BOM, quoted commas and line breaks, Chinese, alternates split on |.
    let good = "\u{feff}id,question,answer,alternates\n\
        refund,How do I get a refund?,\"From your orders page, within 7 days.\",refund please|money back\n\
        ,忘记密码怎么办？,\"在登录页点击“忘记密码”，\n按提示重置。\",密码找回\n";
    let r = post_csv(&h, &key, good.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ids = r.body["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "refund");
    let publish = h
        .call(Method::POST, "/v1/kb/publish", Some(&key), None)
        .await;
    assert_eq!(publish.status, StatusCode::OK);
    let s = h
        .call(
            Method::GET,
            "/v1/kb/search?q=money%20back",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(s.body["hits"][0]["entry_id"], "refund", "{:?}", s.body);

    for (body, want) in [
        (
            &b"question,answer\nok?,fine\nsecond?,\n"[..],
            "row 3, column `answer`",
        ),
        (&b"question,reply\nq,a\n"[..], "unknown column `reply`"),
        (&b"id,question\nx,q\n"[..], "`question` and `answer`"),
        (&b"question,answer\nq,a,extra\n"[..], "row 2"),
        (&b"question,answer\n\xff\xfe,a\n"[..], "not UTF-8"),
        (&b"question,answer\n"[..], "no rows"),
    ] {
        let r = post_csv(&h, &key, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(want), "{msg:?} should name {want:?}");
    }
    // None of the bad uploads stored anything: still the two entries.
    let kb = h.call(Method::GET, "/v1/kb", Some(&key), None).await;
    assert_eq!(kb.body["faqs"], 2, "{:?}", kb.body);
    // Neither JSON nor CSV.
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/kb/faqs")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/xml")
        .body(axum::body::Body::from("<faq/>"))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text/csv")
    );
}
