//! Cached answers at the edge: scope, KB versions, and reporting hits.

use kefu_core::KbVersion;
use kefu_core::session::Source;
use kefu_edge::KvBucket;

use crate::support::*;

#[tokio::test]
async fn a_repeated_question_is_answered_from_the_cache_with_its_citations() {
    let h = Harness::new();
    let first = h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    assert_eq!(first["source"], "kb");
    assert_eq!(h.fake.turn_count(), 1);
    // Another visitor, the same question in other words.
    let hit = h.ask("v-2", None, "how do i get a refund", "m-1").await;
    assert_eq!(hit["source"], "cache");
    assert_eq!(hit["answer"], first["answer"]);
    assert_eq!(hit["citations"], first["citations"]);
    assert_eq!(h.fake.turn_count(), 1, "a cache hit costs no regional turn");
    // The edge opened the conversation itself and kept the turn for the
    // regional store.
    assert!(hit["conversation_id"].as_str().unwrap().starts_with("c_"));
    assert_eq!(h.platform().keys(KvBucket::Outbox).len(), 1);
}

#[tokio::test]
async fn cache_hits_reach_the_regional_store_exactly_once() {
    let h = Harness::new();
    h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    let hit = h.ask("v-2", None, "How do I get a refund?", "m-7").await;
    let conv = hit["conversation_id"].as_str().unwrap().to_owned();
    // v-2 continues with a question the cache cannot answer: the report of
    // the hit goes first, then the turn, so the regional session is whole.
    let next = h
        .ask("v-2", Some(&conv), "Do you ship to Macau?", "m-8")
        .await;
    assert_eq!(next["source"], "fallback");
    assert_eq!(
        next["seq"], 4,
        "the regional numbering continues the edge's"
    );
    h.ask("v-3", None, "Do you ship to Macau?", "m-1").await;
    let st = h.fake.state();
    let hits: Vec<_> = st
        .reported
        .iter()
        .filter(|t| t.client_msg_id == "m-7")
        .collect();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].source, Source::Cache);
    assert_eq!(hits[0].kb_version, KbVersion(1));
    let s = &st.sessions[&hits[0].conversation];
    let cmids: Vec<_> = s
        .turns()
        .iter()
        .filter_map(|t| t.client_msg_id.as_deref())
        .collect();
    assert_eq!(cmids, ["m-7", "m-8"]);
    assert!(h.platform().keys(KvBucket::Outbox).is_empty());
}

#[tokio::test]
async fn a_new_kb_version_makes_old_entries_unreachable() {
    let h = Harness::new();
    h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    assert_eq!(
        h.ask("v-2", None, "How do I get a refund?", "m-1").await["source"],
        "cache"
    );
    // The tenant publishes KB 2; the edge learns it when its config copy
    // expires (TTL 60 s; the cached answer itself lives an hour).
    {
        let mut st = h.fake.state();
        st.tenants.get_mut(WIDGET_KEY).unwrap().kb_version = KbVersion(2);
    }
    h.clock.advance(61_000);
    let v = h.ask("v-3", None, "How do I get a refund?", "m-1").await;
    assert_eq!(
        v["source"], "kb",
        "the KB-1 answer is not served under KB 2"
    );
    assert_eq!(h.fake.turn_count(), 2);
    assert_eq!(
        h.ask("v-4", None, "How do I get a refund?", "m-1").await["source"],
        "cache"
    );
    assert_eq!(h.fake.turn_count(), 2);
}

#[tokio::test]
async fn a_regional_answer_on_a_newer_kb_moves_lookups_at_once() {
    let h = Harness::new();
    h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    // KB 2 is published; the edge's config copy is still fresh, but the
    // next regional answer rests on KB 2.
    h.fake
        .state()
        .tenants
        .get_mut(WIDGET_KEY)
        .unwrap()
        .kb_version = KbVersion(2);
    assert_eq!(
        h.ask("v-2", None, "运费怎么算？", "m-1").await["source"],
        "faq"
    );
    let v = h.ask("v-3", None, "How do I get a refund?", "m-1").await;
    assert_eq!(v["source"], "kb");
    assert_eq!(h.fake.turn_count(), 3);
}

#[tokio::test]
async fn context_dependent_personal_and_uncacheable_answers_are_not_cached() {
    let h = Harness::new();
    {
        let mut st = h.fake.state();
        // The fake marks these cacheable; the edge's own rule must refuse.
        for q in ["那这个呢？", "How do I get a refund? call me 13812345678"] {
            let a = Scripted {
                answer: "这个也可以。".to_owned(),
                source: Source::Kb,
                citations: vec![],
                cacheable_ttl_ms: Some(3_600_000),
            };
            st.script.insert(q.to_owned(), a);
        }
    }
    let v = h.ask("v-1", None, "运费怎么算？", "m-1").await;
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(h.platform().keys(KvBucket::Cache).len(), 1);
    // A follow-up leaning on context: not stored, and not looked up.
    h.ask("v-1", Some(&conv), "那这个呢？", "m-2").await;
    assert_eq!(h.platform().keys(KvBucket::Cache).len(), 1);
    let c2 = h.ask("v-2", None, "运费怎么算？", "m-1").await;
    assert_eq!(c2["source"], "cache");
    let conv2 = c2["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.ask("v-2", Some(&conv2), "那这个呢？", "m-2").await["source"],
        "kb"
    );
    // A question with a phone number: neither stored nor looked up.
    let pii = "How do I get a refund? call me 13812345678";
    h.ask("v-5", None, pii, "m-1").await;
    assert_eq!(h.platform().keys(KvBucket::Cache).len(), 1);
    let turns = h.fake.turn_count();
    assert_eq!(h.ask("v-6", None, pii, "m-1").await["source"], "kb");
    assert_eq!(h.fake.turn_count(), turns + 1);
    // Fallbacks are not cacheable at all.
    h.ask("v-3", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(
        h.ask("v-4", None, "Is the shop open on Sunday?", "m-1")
            .await["source"],
        "fallback"
    );
    assert_eq!(h.platform().keys(KvBucket::Cache).len(), 1);
}

#[tokio::test]
async fn tenants_that_turn_caching_off_get_no_cache() {
    let h = Harness::with(
        |_| {},
        |st| {
            st.tenants.get_mut(WIDGET_KEY).unwrap().cache_answers = false;
        },
    );
    h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    assert_eq!(
        h.ask("v-2", None, "How do I get a refund?", "m-1").await["source"],
        "kb"
    );
    assert!(h.platform().keys(KvBucket::Cache).is_empty());
}
