//! Unit tests per kind. Numbers are the GB 11643-1999 sample ID
//! (11010519491231002X), public payment-gateway test PANs, the brief's
//! UnionPay example (Luhn verified independently), and the 138-0013-8000
//! placeholder mobile used in Chinese documentation.

use alloc::string::String;
use alloc::vec::Vec;

use super::*;

/// `(kind, matched text)` for every span found in `text`.
fn found(text: &str) -> Vec<(PiiKind, &str)> {
    find(text)
        .into_iter()
        .map(|s| (s.kind, &text[s.start..s.end]))
        .collect()
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

#[test]
fn the_brief_example() {
    let t = "我的身份证号是11010519491231002X，卡号6222 0212 3456 7890 128";
    assert_eq!(
        found(t),
        [
            (PiiKind::ResidentId, "11010519491231002X"),
            (PiiKind::BankCard, "6222 0212 3456 7890 128")
        ]
    );
    let r = redact(t);
    assert_eq!(
        r.text,
        "我的身份证号是**************002X，卡号**** **** **** ***0 128"
    );
    assert_eq!(r.spans.len(), 2);
}

#[test]
fn resident_ids() {
    use PiiKind::ResidentId as Id;
    assert_eq!(
        found("ID: 11010519491231002x."),
        [(Id, "11010519491231002x")]
    );
    assert_eq!(
        found("身份证 110105 19491231 002X 谢谢"),
        [(Id, "110105 19491231 002X")]
    );
    let fw = full_width("11010519491231002X");
    assert_eq!(found(&alloc::format!("证件号{fw}。")), [(Id, fw.as_str())]);
    // Wrong check character, impossible date, region 9: nothing.
    assert!(found("110105194912310021").is_empty());
    assert!(found("110105194902300026").is_empty());
    assert!(found("91010519491231002X").is_empty());
    // Glued to letters or more digits: not an ID.
    assert!(found("A11010519491231002X").is_empty());
    assert!(found("11010519491231002X9").is_empty());
    assert!(found("11010519491231002Xyz").is_empty());
}

#[test]
fn bank_cards() {
    use PiiKind::BankCard as Card;
    assert_eq!(
        found("card 4111111111111111, exp 12/29"),
        [(Card, "4111111111111111")]
    );
    assert_eq!(
        found("卡号：5555-5555-5555-4444"),
        [(Card, "5555-5555-5555-4444")]
    );
    assert_eq!(
        found("622202 1234567890128"),
        [(Card, "622202 1234567890128")]
    );
    let fw = full_width("6222 0212 3456 7890 128");
    assert_eq!(found(&fw), [(Card, fw.as_str())]);
    // Luhn fails: not a card, unless UnionPay (documented policy).
    assert!(found("4111111111111112").is_empty());
    assert_eq!(
        found("6222021234567890127"),
        [(Card, "6222021234567890127")]
    );
    // A valid card inside a longer digit run is an order number.
    assert!(found("订单号98411111111111111107").is_empty());
    // A card followed by a quantity is still found on its own.
    assert_eq!(found("4111111111111111 1张"), [(Card, "4111111111111111")]);
    assert!(found("SF4111111111111111").is_empty());
    assert!(found("4111111111111111.00").is_empty());
}

#[test]
fn mobiles() {
    use PiiKind::Mobile as M;
    for m in [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "0086 13800138000",
        "86-138-0013-8000",
        "008613800138000",
    ] {
        let t = alloc::format!("请联系{m}，谢谢");
        assert_eq!(found(&t), [(M, m)], "{m}");
        let fw = full_width(m);
        let t = alloc::format!("call me at {fw}!");
        assert_eq!(found(&t), [(M, fw.as_str())], "{fw}");
    }
    let r = redact("手机 +86 138-0013-8000 或 13900139000");
    assert_eq!(r.text, "手机 +86 138-****-8000 或 139****9000");
    // Second digit 0-2, ten digits, glued prefix without +, letters: nothing.
    for t in [
        "12800138000",
        "1380013800",
        "8613800138000",
        "tel13800138000",
        "13800138000a",
    ] {
        assert!(found(t).is_empty(), "{t}");
    }
    // A mobile next to an unrelated number is still found on its own.
    assert_eq!(found("共2件 13800138000"), [(M, "13800138000")]);
}

#[test]
fn emails() {
    use PiiKind::Email as E;
    assert_eq!(
        found("邮箱是zhang.san@example.com。"),
        [(E, "zhang.san@example.com")]
    );
    assert_eq!(
        found("mail: <li-si+kefu@mail.example.com.cn>."),
        [(E, "li-si+kefu@mail.example.com.cn")]
    );
    let fw = full_width("wang@example.com");
    assert_eq!(found(&alloc::format!("邮箱：{fw}")), [(E, fw.as_str())]);
    // Digits inside an address belong to the address.
    assert_eq!(found("13800138000@qq.com"), [(E, "13800138000@qq.com")]);
    assert_eq!(redact("13800138000@qq.com").text, "1***@qq.com");
    assert_eq!(redact("Zhang.San@Example.com").text, "Z***@Example.com");
    for t in [
        "@张三 你好",
        "foo@bar",
        "price 5@3.99",
        "a@-x.com",
        "user@localhost",
        "..@x.com",
    ] {
        assert!(found(t).is_empty(), "{t}");
    }
}

#[test]
fn contains_agrees_with_find() {
    for t in [
        "",
        "没有个人信息",
        "order 20241123000012345678",
        "a@b.co",
        "13800138000",
        "6222021234567890128",
    ] {
        assert_eq!(contains_pii(t), !find(t).is_empty(), "{t}");
    }
}

#[test]
fn spans_are_char_boundaries_and_ordered() {
    let t = "张三 １３８００１３８０００，李四 ｌｉｓｉ＠ｅｘａｍｐｌｅ．ｃｏｍ，卡６２２２０２１２３４５６７８９０１２８";
    let spans = find(t);
    assert_eq!(
        spans.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [PiiKind::Mobile, PiiKind::Email, PiiKind::BankCard]
    );
    for w in spans.windows(2) {
        assert!(w[0].end <= w[1].start);
    }
    for s in &spans {
        assert!(t.is_char_boundary(s.start) && t.is_char_boundary(s.end));
    }
    assert_eq!(
        redact(t).text,
        "张三 138****8000，李四 l***@example.com，卡***************0128"
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    let long_digits = "1".repeat(100_000);
    assert!(find(&long_digits).is_empty());
    let ats = "a@".repeat(10_000);
    assert!(find(&ats).is_empty());
    let groups = "1 ".repeat(10_000);
    assert!(find(&groups).is_empty());
    let local = alloc::format!("{}@example.com", "a".repeat(65));
    assert!(find(&local).is_empty());
    for t in [
        "+", "@", "X", "１", "+８６", "\u{FF20}", "6222 ", "-1-2-3-", "é@é.é",
    ] {
        let _ = redact(t);
    }
}

/// Regressions found by `scan_invariants`: masking one item must not expose
/// another that the first scan missed or left readable.
#[test]
fn masking_exposes_nothing_new() {
    for t in [
        "11010519491231002X.6222021234567890128",
        "zhang@example.comzhang@example.com+86",
        "zhang@example.com-6222021234567890128",
        "zhang@example.com－.6222021234567890128",
        "a@13800138000.com",
    ] {
        let r = redact(t);
        assert!(find(&r.text).is_empty(), "{t:?} -> {:?}", r.text);
    }
    assert_eq!(
        found("11010519491231002X.6222021234567890128"),
        [
            (PiiKind::ResidentId, "11010519491231002X"),
            (PiiKind::BankCard, "6222021234567890128")
        ]
    );
    assert_eq!(
        found("zhang@example.com-6222021234567890128"),
        [
            (PiiKind::Email, "zhang@example.com"),
            (PiiKind::BankCard, "6222021234567890128")
        ]
    );
    assert_eq!(redact("a@13800138000.com").text, "a***@138****8000.com");
    assert_eq!(redact("a@x.comb@y.com").text, "a***@***@y.com");
}

mod properties {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "13800138000",
                "6222021234567890128",
                "4111111111111111",
                "11010519491231002X",
                "zhang@example.com",
                "+86",
                "0086",
                " ",
                "-",
                "x",
                "X",
                "@",
                "＠",
                ".",
                "．",
                "１",
                "中",
                "a",
                "7",
                "62",
                "\u{3000}",
                "－",
                "com",
            ])
            .prop_map(String::from),
            any::<char>().prop_map(String::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// On any input: spans are ordered, disjoint and on char boundaries;
        /// `contains_pii` agrees with `find`; and masking leaves nothing that
        /// a second scan would find.
        #[test]
        fn scan_invariants(parts in prop::collection::vec(fragment(), 0..10)) {
            let t: String = parts.concat();
            let spans = find(&t);
            for s in &spans {
                prop_assert!(s.start < s.end && t.is_char_boundary(s.start) && t.is_char_boundary(s.end));
            }
            for w in spans.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
            }
            prop_assert_eq!(contains_pii(&t), !spans.is_empty());
            let r = redact(&t);
            prop_assert_eq!(&r.spans, &spans);
            prop_assert_eq!(find(&r.text), Vec::new());
        }
    }
}
