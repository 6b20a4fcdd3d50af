//! A generated corpus: recall on valid personal data, false positives on
//! look-alikes. Everything is built here by a seeded SplitMix64, so the run is
//! deterministic; valid items carry real check characters (GB 11643-1999
//! MOD 11-2, Luhn), look-alikes are built to fail exactly one rule.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::println;

use super::checks::{self, X};
use super::{PiiKind, find, redact};

/// SplitMix64 (Steele, Lea, Flood 2014), the usual seeding generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn pick_char(&mut self, s: &str) -> char {
        let n = s.chars().count() as u64;
        s.chars().nth(self.below(n) as usize).unwrap_or('a')
    }
    fn digits(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.below(10) as u8).collect()
    }
    /// Between `lo` and `hi` random digits.
    fn digits_in(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        let n = self.range(lo, hi) as usize;
        self.digits(n)
    }
}

fn show(d: &[u8]) -> String {
    d.iter()
        .map(|&v| if v == X { 'X' } else { char::from(b'0' + v) })
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

/// Joins `s` in groups of the given sizes (the last takes the rest).
fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    for &n in sizes {
        if rest.len() <= n {
            break;
        }
        out.push_str(&rest[..n]);
        out.push_str(sep);
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

fn days_in(y: u64, m: u64) -> u64 {
    (28..=31)
        .rev()
        .find(|&d| checks::valid_date(y as u32, m as u32, d as u32))
        .unwrap_or(28)
}

fn id_body(rng: &mut Rng, y: u64, m: u64, d: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(18);
    v.push(rng.range(1, 8) as u8);
    v.extend(rng.digits(5));
    v.extend(format!("{y:04}{m:02}{d:02}").bytes().map(|b| b - b'0'));
    v.extend(rng.digits(3));
    v
}

fn valid_id(rng: &mut Rng) -> Vec<u8> {
    let (y, m) = (rng.range(1900, 2099), rng.range(1, 12));
    let d = rng.range(1, days_in(y, m));
    let mut v = id_body(rng, y, m, d);
    v.push(checks::id_check_value(&v).unwrap_or(0));
    v
}

/// Sets the last digit so the Luhn check passes (or, with `pass = false`, fails).
fn set_luhn(d: &mut [u8], pass: bool) {
    let last = d.len() - 1;
    for c in 0..10 {
        d[last] = c;
        if checks::luhn(d) == pass {
            return;
        }
    }
}

fn valid_card(rng: &mut Rng) -> Vec<u8> {
    // IIN prefixes and lengths from the networks' published ranges.
    let (iin, lens): (String, &[usize]) = match rng.below(8) {
        0 => ("4".into(), &[16]),
        1 => (rng.range(51, 55).to_string(), &[16]),
        2 => (rng.range(2221, 2720).to_string(), &[16]),
        3 => ("35".into(), &[16, 17, 18, 19]),
        4 => (rng.pick(&["6011", "65"]).into(), &[16, 19]),
        _ => (
            rng.pick(&["62", "6222", "6228", "6217", "6212", "6259"])
                .into(),
            &[16, 17, 18, 19],
        ),
    };
    let len = lens[rng.below(lens.len() as u64) as usize];
    let mut d: Vec<u8> = iin.bytes().map(|b| b - b'0').collect();
    d.extend(rng.digits(len - d.len()));
    // One UnionPay number in five is issued without a Luhn digit.
    let luhn = !(d.starts_with(&[6, 2]) && rng.pct(20));
    set_luhn(&mut d, luhn);
    d
}

fn format_digits(rng: &mut Rng, kind: PiiKind, d: &[u8]) -> String {
    let s = show(d);
    let sep = rng.pick(&[" ", "-"]);
    match (kind, rng.below(3)) {
        (_, 0) => s,
        (PiiKind::ResidentId, _) => group(&s, &[6, 8], sep),
        (PiiKind::BankCard, 1) => group(&s, &[4, 4, 4, 4], sep),
        (PiiKind::BankCard, _) => group(&s, &[6], sep),
        (_, _) => s,
    }
}

fn mobile(rng: &mut Rng) -> String {
    let mut d = alloc::vec![1, rng.range(3, 9) as u8];
    d.extend(rng.digits(9));
    let s = show(&d);
    let body = match rng.below(4) {
        0 | 1 => s.clone(),
        _ => group(&s, &[3, 4], rng.pick(&[" ", "-"])),
    };
    match rng.below(8) {
        0 => format!("+86 {body}"),
        1 => format!("+86{s}"),
        2 => format!("86-{body}"),
        3 => format!("0086 {body}"),
        4 => format!("0086{s}"),
        _ => body,
    }
}

fn email(rng: &mut Rng) -> String {
    let local: String = if rng.pct(20) {
        // A QQ-number mailbox: 5-11 digits, no leading zero.
        let mut d = rng.digits_in(5, 11);
        d[0] = rng.range(1, 9) as u8;
        show(&d)
    } else {
        let n = rng.range(1, 16);
        let mut s = String::new();
        for i in 0..n {
            let inner = i > 0 && i + 1 < n && !s.ends_with(['.', '_', '+', '-']);
            let c = if inner && rng.pct(15) {
                rng.pick_char("._+-")
            } else {
                rng.pick_char("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789")
            };
            s.push(c);
        }
        s
    };
    let domain = rng.pick(&[
        "qq.com",
        "163.com",
        "126.com",
        "gmail.com",
        "example.com",
        "example.com.cn",
        "corp.example.cn",
        "mail.example.org",
        "Example.COM",
        "shop-mail.example.net",
        "xn--fiqs8s.xn--fiqz9s",
    ]);
    format!("{local}@{domain}")
}

const ZH: &[&str] = &[
    "我的{L}是{}，麻烦帮我查一下。",
    "{L}：{}",
    "请联系{}谢谢",
    "{}",
    "好的，{}。",
    "（{}）",
    "“{}”就是我的{L}",
    "就是这个：{}！",
    "{L}{}，还有别的吗？",
    "刚才发的{L} {} 对吗",
    "您好，{}",
];
const EN: &[&str] = &[
    "My {L} is {}.",
    "{} - please check",
    "here: {}, thanks",
    "Contact: {}",
    "({})",
    "\"{}\"",
    "is {} correct?",
    "{L}: {}\nthanks",
    "I typed {} yesterday",
    "{}!",
];

/// Places `item` in a random sentence; returns the text and the item's byte range.
fn sentence(rng: &mut Rng, item: &str, label_zh: &str, label_en: &str) -> (String, usize, usize) {
    let (t, label) = if rng.pct(50) {
        (rng.pick(ZH), label_zh)
    } else {
        (rng.pick(EN), label_en)
    };
    let t = t.replace("{L}", label);
    let (pre, post) = t.split_once("{}").unwrap_or((&t, ""));
    (
        format!("{pre}{item}{post}"),
        pre.len(),
        pre.len() + item.len(),
    )
}

fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(super::text::fold)
        .filter(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
        .collect()
}

#[test]
fn generated_corpus_recall_and_false_positives() {
    let mut rng = Rng(0x6b65_6675_5049_4921);
    let kinds = [
        PiiKind::ResidentId,
        PiiKind::BankCard,
        PiiKind::Mobile,
        PiiKind::Email,
    ];
    let (mut valid, mut hits, mut leaks) = (0usize, 0usize, 0usize);
    for i in 0..6000 {
        let kind = kinds[i % 4];
        let item = match kind {
            PiiKind::ResidentId => {
                let s = {
                    let d = valid_id(&mut rng);
                    format_digits(&mut rng, kind, &d)
                };
                if rng.pct(20) { s.replace('X', "x") } else { s }
            }
            PiiKind::BankCard => {
                let d = valid_card(&mut rng);
                format_digits(&mut rng, kind, &d)
            }
            PiiKind::Mobile => mobile(&mut rng),
            PiiKind::Email => email(&mut rng),
        };
        let item = if rng.pct(15) { full_width(&item) } else { item };
        let (zh, en) = match kind {
            PiiKind::ResidentId => ("身份证号", "ID number"),
            PiiKind::BankCard => ("卡号", "card number"),
            PiiKind::Mobile => ("手机号", "phone"),
            PiiKind::Email => ("邮箱", "email"),
        };
        let (text, s, e) = sentence(&mut rng, &item, zh, en);
        valid += 1;
        let spans = find(&text);
        if !spans
            .iter()
            .any(|sp| sp.kind == kind && sp.start == s && sp.end == e)
        {
            println!("missed {kind:?}: {text:?}");
            continue;
        }
        hits += 1;
        // What masking may leave: the last four of IDs and cards, the country
        // code, carrier prefix and last four of mobiles; templates hold no digits.
        let left = ascii_digits(&redact(&text).text);
        let d = ascii_digits(&item);
        let ok = match kind {
            PiiKind::ResidentId | PiiKind::BankCard => left == d[d.len() - 4..],
            PiiKind::Mobile => left == format!("{}{}", &d[..d.len() - 8], &d[d.len() - 4..]),
            PiiKind::Email => {
                let folded: String = item.chars().map(super::text::fold).collect();
                let (local, domain) = folded.split_once('@').unwrap_or_default();
                let first = local.chars().next().unwrap_or_default();
                redact(&text).text == format!("{}{first}***@{domain}{}", &text[..s], &text[e..])
            }
        };
        if !ok {
            leaks += 1;
            println!("leak {kind:?}: {text:?} -> {:?}", redact(&text).text);
        }
    }

    // Look-alikes, by category.
    type Gen = fn(&mut Rng) -> String;
    let cats: &[(&str, Gen)] = &[
        ("order number YYYYMMDD+digits", |r| {
            let d = format!(
                "{}{:02}{:02}",
                r.range(2015, 2025),
                r.range(1, 12),
                r.range(1, 28)
            );
            d + &show(&r.digits_in(10, 16))
        }),
        ("ID with a wrong check character", |r| {
            let mut v = valid_id(r);
            let good = v[17];
            v[17] = (good + r.range(1, 10) as u8) % 11;
            show(&v)
        }),
        ("ID with an impossible date", |r| {
            let (y, m, d) = match r.below(6) {
                0 => (
                    r.pick(&["1899", "2100"]).parse().unwrap_or(1899),
                    r.range(1, 12),
                    r.range(1, 28),
                ),
                1 => (
                    r.range(1900, 2099),
                    r.pick(&["00", "13"]).parse().unwrap_or(13),
                    r.range(1, 28),
                ),
                2 => (
                    r.range(1900, 2099),
                    r.range(1, 12),
                    r.pick(&["00", "32"]).parse().unwrap_or(32),
                ),
                3 => (r.range(1900, 2099), 2, 30),
                4 => (
                    r.pick(&["1900", "2001", "2023", "2100"])
                        .parse()
                        .unwrap_or(1900),
                    2,
                    29,
                ),
                _ => (
                    r.range(1900, 2099),
                    r.pick(&["4", "6", "9", "11"]).parse().unwrap_or(4),
                    31,
                ),
            };
            let mut v = id_body(r, y, m, d);
            v.push(checks::id_check_value(&v).unwrap_or(0));
            show(&v)
        }),
        ("Luhn-failing 16-19 digits, not 62", |r| {
            let mut d = r.digits_in(16, 19);
            d[0] = r.range(1, 9) as u8;
            if d.starts_with(&[6, 2]) {
                d[1] = 3;
            }
            set_luhn(&mut d, false);
            show(&d)
        }),
        ("12-digit number", |r| show(&r.digits(12))),
        ("phone-like", |r| match r.below(4) {
            0 => format!("1{}{}", r.range(3, 9), show(&r.digits(8))),
            1 => format!("1{}{}", r.range(0, 2), show(&r.digits(9))),
            2 => format!("0{}-{}", r.range(10, 999), show(&r.digits_in(7, 8))),
            _ => format!("400-{}-{}", show(&r.digits(3)), show(&r.digits(4))),
        }),
        ("tracking number", |r| match r.below(4) {
            0 => format!(
                "{}{}",
                r.pick(&["SF", "YT", "JT", "JDVA", "ZTO"]),
                show(&r.digits_in(11, 18))
            ),
            1 => format!("E{}{}CN", r.pick(&["A", "B", "E"]), show(&r.digits(9))),
            _ => show(&r.digits_in(12, 15)),
        }),
        ("amount", |r| match r.below(3) {
            0 => format!("¥{}.{:02}", r.range(1, 99_999_999), r.below(100)),
            1 => {
                let n = r.range(1_000, 999_999_999_999).to_string();
                let mut s = String::new();
                for (i, c) in n.chars().enumerate() {
                    if i > 0 && (n.len() - i) % 3 == 0 {
                        s.push(',');
                    }
                    s.push(c);
                }
                format!("${s}")
            }
            _ => format!(
                "{}{}.{:02}元",
                r.range(13, 19),
                show(&r.digits(9)),
                r.below(100)
            ),
        }),
        ("timestamp", |r| {
            let secs = r.range(1_500_000_000, 1_800_000_000);
            match r.below(5) {
                0 => secs.to_string(),
                1 => format!("{secs}{:03}", r.below(1000)),
                2 => format!("{secs}{:06}", r.below(1_000_000)),
                3 => format!(
                    "2024-{:02}-{:02} {:02}:{:02}:{:02}",
                    r.range(1, 12),
                    r.range(1, 28),
                    r.below(24),
                    r.below(60),
                    r.below(60)
                ),
                _ => format!(
                    "2024{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
                    r.range(1, 12),
                    r.range(1, 28),
                    r.below(24),
                    r.below(60),
                    r.below(60),
                    r.below(1000)
                ),
            }
        }),
        ("not an address", |r| {
            (*r.pick(&[
                "@张三",
                "foo@bar",
                "v1.2@3.4",
                "user@localhost",
                "@@",
                "a@b.c",
                "me@.com",
                "x@y.123",
            ]))
            .to_string()
        }),
    ];
    let (mut total, mut flagged) = (0usize, 0usize);
    for (name, gen_item) in cats {
        let (mut n, mut f) = (0usize, 0usize);
        for _ in 0..600 {
            let item = gen_item(&mut rng);
            let item = if rng.pct(15) { full_width(&item) } else { item };
            let (text, _, _) = sentence(&mut rng, &item, "编号", "reference");
            if n == 0 {
                println!("look-alike sample ({name}): {text:?}");
            }
            n += 1;
            if !find(&text).is_empty() {
                f += 1;
                println!("false positive ({name}): {text:?} -> {:?}", find(&text));
            }
        }
        println!("look-alike {name:<34} {f:>4}/{n} flagged");
        total += n;
        flagged += f;
    }

    // Known limitation, reported on its own: a bare random 16-19 digit number
    // with a payment IIN passes Luhn one time in ten, and starts with 62 about
    // one time in ninety; nothing but context could tell it from a card.
    let (mut rn, mut rf, mut up, mut up_flagged) = (0usize, 0usize, 0usize, 0usize);
    for _ in 0..2000 {
        let mut d = rng.digits_in(16, 19);
        d[0] = rng.range(1, 9) as u8;
        let s = show(&d);
        let (text, _, _) = sentence(&mut rng, &s, "单号", "order no.");
        let hit = !find(&text).is_empty();
        rn += 1;
        rf += usize::from(hit);
        if d.starts_with(&[6, 2]) && !checks::id_shaped(&d) {
            up += 1;
            up_flagged += usize::from(hit);
        }
    }

    let recall = hits as f64 / valid as f64;
    let fp = flagged as f64 / total as f64;
    let random_fp = rf as f64 / rn as f64;
    println!(
        "PII corpus: {valid} valid, recall {:.3}% ({hits} found), {leaks} leaks",
        recall * 100.0
    );
    println!(
        "PII corpus: {total} look-alikes, false positives {:.3}% ({flagged})",
        fp * 100.0
    );
    println!(
        "PII corpus: random 16-19 digit numbers flagged {:.2}% ({rf}/{rn}); 62-prefixed {up_flagged}/{up}",
        random_fp * 100.0
    );
    assert!(valid + total + rn >= 10_000);
    assert!(recall >= 0.999, "recall {recall}");
    assert!(fp <= 0.01, "false positives {fp}");
    assert_eq!(leaks, 0);
    // The UnionPay policy holds: every 62-prefixed number is masked.
    assert!(up > 0 && up_flagged == up);
    // The documented cost stays what the module docs say (~6% expected).
    assert!(
        random_fp <= 0.09,
        "random 16-19 digit numbers flagged {random_fp}"
    );
}
