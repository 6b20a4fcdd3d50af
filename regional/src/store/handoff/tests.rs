//! Unit tests for settings, business hours and agent picking.

use super::queue::position_among;
use super::*;

fn hours() -> BusinessHours {
    BusinessHours {
        utc_offset_minutes: 480,
        days: vec![1, 2, 3, 4, 5],
        open: "09:00".into(),
        close: "18:00".into(),
    }
}

#[test]
fn business_hours_follow_the_tenants_clock() {
    // 2026-12-03 is a Thursday. 01:30 UTC = 09:30 in Beijing: open.
    let thu_0130_utc = 1_796_261_400_000;
    assert!(hours().is_open(thu_0130_utc));
    // 00:30 UTC = 08:30 Beijing: not yet.
    assert!(!hours().is_open(thu_0130_utc - 3_600_000));
    // 10:00 UTC = 18:00 Beijing: closed (close is exclusive).
    assert!(!hours().is_open(thu_0130_utc + 8 * 3_600_000 + 30 * 60_000));
    // Saturday 09:30 Beijing: closed.
    assert!(!hours().is_open(thu_0130_utc + 2 * 86_400_000));
}

#[test]
fn bad_settings_are_refused_with_the_reason() {
    let mut s = HandoffSettings {
        business_hours: Some(BusinessHours {
            close: "08:00".into(),
            ..hours()
        }),
        ..HandoffSettings::default()
    };
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("close must be after open")
    );
    s.business_hours = Some(BusinessHours {
        open: "9am".into(),
        ..hours()
    });
    assert!(s.validate().unwrap_err().to_string().contains("HH:MM"));
    s.business_hours = None;
    s.queue_timeout_secs = 0;
    assert!(s.validate().is_err());
}

fn rec(max: u32, groups: &[&str]) -> AgentRecord {
    AgentRecord {
        name: "n".into(),
        password_hash: String::new(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        max_concurrent: max,
        created_ms: 0,
    }
}

fn held_by(agent: &str) -> (String, HandoffEntry) {
    (
        format!("c-{agent}"),
        HandoffEntry {
            agent: Some(agent.into()),
            ..HandoffEntry::default()
        },
    )
}

#[test]
fn least_busy_respects_limits_and_groups() {
    let online = vec![
        ("a".to_owned(), rec(2, &[])),
        ("b".to_owned(), rec(1, &["vip"])),
    ];
    let all = vec![held_by("a")];
    let mut cur = 0;
    let plain = HandoffEntry::default();
    // a holds one, b none: b is least busy.
    assert_eq!(
        pick_agent(Assignment::LeastBusy, &plain, &all, &online, &mut cur).as_deref(),
        Some("b")
    );
    let vip = HandoffEntry {
        group: Some("vip".into()),
        ..HandoffEntry::default()
    };
    let all = vec![held_by("a"), held_by("b")];
    // Only b has the vip skill, and b is full.
    assert_eq!(
        pick_agent(Assignment::LeastBusy, &vip, &all, &online, &mut cur),
        None
    );
    // a still has room for an untagged one.
    assert_eq!(
        pick_agent(Assignment::LeastBusy, &plain, &all, &online, &mut cur).as_deref(),
        Some("a")
    );
    assert_eq!(
        pick_agent(Assignment::Manual, &plain, &[], &online, &mut cur),
        None
    );
}

#[test]
fn round_robin_takes_turns() {
    let online = vec![
        ("a".to_owned(), rec(9, &[])),
        ("b".to_owned(), rec(9, &[])),
        ("c".to_owned(), rec(9, &[])),
    ];
    let mut cur = 0;
    let e = HandoffEntry::default();
    let picks: Vec<String> = (0..4)
        .map(|_| pick_agent(Assignment::RoundRobin, &e, &[], &online, &mut cur).unwrap())
        .collect();
    assert_eq!(picks, ["a", "b", "c", "a"]);
}

#[test]
fn position_counts_only_earlier_waiting_conversations_of_the_group() {
    let w = |ms: u64| HandoffEntry {
        queued_ms: ms,
        ..HandoffEntry::default()
    };
    let all = vec![
        ("c1".to_owned(), w(10)),
        ("c2".to_owned(), w(20)),
        (
            "c3".to_owned(),
            HandoffEntry {
                queued_ms: 5,
                agent: Some("a".into()),
                accepted_ms: Some(65_005),
                ..HandoffEntry::default()
            },
        ),
    ];
    let p = position_among(&all, None, |c, e| (e.queued_ms, c) < (20, "c2"));
    // c1 is ahead; c3 is with an agent after a 65 s wait.
    assert_eq!(p.position, 2);
    assert_eq!(p.eta_secs, Some(130));
}

#[test]
fn the_contact_comes_from_the_forms_line_or_the_text() {
    // The widget's form: any phone format after the label.
    assert_eq!(
        contact_in("my parcel never came\nContact: +44 20 7946 0958").as_deref(),
        Some("+44 20 7946 0958")
    );
    assert_eq!(
        contact_in("包裹一直没到\n联系方式：13800138000").as_deref(),
        Some("13800138000")
    );
    // Typed: a mobile number or e-mail in the message.
    assert_eq!(
        contact_in("请联系我 13912345678，谢谢").as_deref(),
        Some("13912345678")
    );
    assert_eq!(
        contact_in("reach me at ana@example.com please").as_deref(),
        Some("ana@example.com")
    );
    // Nothing to reach them by, or an empty label.
    assert_eq!(contact_in("just call me back"), None);
    assert_eq!(contact_in("hi\nContact:   "), None);
}

#[test]
fn group_rules_are_checked() {
    let rule = |group: &str, kw: &[&str], reasons: &[&str]| GroupRule {
        group: group.into(),
        keywords: kw.iter().map(|k| (*k).to_owned()).collect(),
        reasons: reasons.iter().map(|k| (*k).to_owned()).collect(),
    };
    let with = |r: GroupRule| HandoffSettings {
        groups: vec![r],
        ..HandoffSettings::default()
    };
    assert!(
        with(rule("billing", &["退款", "refund"], &[]))
            .validate()
            .is_ok()
    );
    assert!(
        with(rule("security", &[], &["account_security"]))
            .validate()
            .is_ok()
    );
    let err = |s: HandoffSettings| s.validate().unwrap_err().to_string();
    assert!(err(with(rule("billing", &[], &[]))).contains("needs keywords or reasons"));
    assert!(err(with(rule("bad group", &["x"], &[]))).contains("groups[].group"));
    assert!(err(with(rule("g", &[], &["angry"]))).contains("unknown reason \"angry\""));
    assert!(err(with(rule("g", &["  "], &[]))).contains("keywords"));
}

#[test]
fn every_routing_reason_kind_can_name_a_group() {
    use kefu_core::routing::Reason;
    let all = [
        Reason::ExplicitRequest,
        Reason::DeclinedHuman,
        Reason::AskedIfHuman,
        Reason::Anger { score: 1 },
        Reason::Urgency { score: 1 },
        Reason::Complaint { threat: false },
        Reason::AccountSecurity,
        Reason::Money,
        Reason::RepeatedFallbacks { n: 1 },
        Reason::TenantKeyword {
            keyword: "k".into(),
        },
        Reason::BuildingFrustration { level: 1 },
        Reason::LongConversation { turns: 1 },
        Reason::OfferRecentlyMade,
        Reason::OutsideBusinessHours,
        Reason::HandoffDisabled,
    ];
    for r in all {
        let v = serde_json::to_value(&r).unwrap();
        let kind = v["kind"].as_str().unwrap();
        assert!(REASON_KINDS.contains(&kind), "{kind} missing");
    }
}
