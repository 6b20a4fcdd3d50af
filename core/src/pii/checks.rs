//! The number-level validity checks: resident ID (GB 11643-1999), Luhn and
//! card IIN ranges, mainland mobile prefixes.
//!
//! Digits are passed as values `0..=9`; the resident-ID check character `X`
//! is the value [`X`].

/// The value that stands for the check character `X` (a check value of 10).
pub(super) const X: u8 = 10;

/// ISO 7064 MOD 11-2 weights for the first 17 characters (GB 11643-1999, 6.2).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for each `sum mod 11` (GB 11643-1999, 6.2): `10` is `X`.
const ID_CHECK: [u8; 11] = [1, 0, X, 9, 8, 7, 6, 5, 4, 3, 2];

/// Folds `d` (all values `0..=9`) into a decimal number.
fn number(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |n, &v| {
        n.saturating_mul(10).saturating_add(u32::from(v))
    })
}

/// The ISO 7064 MOD 11-2 check value of the first 17 digits of an ID.
pub(super) fn id_check_value(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || first17.iter().any(|&d| d > 9) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ID_CHECK.get((sum % 11) as usize).copied()
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Whether `year`-`month`-`day` is a real calendar date in 1900..=2099.
pub(super) fn valid_date(year: u32, month: u32, day: u32) -> bool {
    if !(1900..=2099).contains(&year) {
        return false;
    }
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A full GB 11643-1999 citizen identity number: region code starting 1-8,
/// a real birth date, three sequence digits and a matching check character.
pub(super) fn resident_id(d: &[u8]) -> bool {
    let [first, ..] = d else { return false };
    if d.len() != 18 || !(1..=8).contains(first) {
        return false;
    }
    let (body, check) = d.split_at(17);
    if !valid_date(
        number(&body[6..10]),
        number(&body[10..12]),
        number(&body[12..14]),
    ) {
        return false;
    }
    id_check_value(body) == check.first().copied()
}

/// Whether 18 digits *look like* a resident ID even if they fail its checks:
/// region starting 1-8 and a loosely date-like birth field (year 18xx-21xx,
/// month 00-19, day 00-39). Such numbers are mistyped or made-up IDs, so the
/// card rule leaves them alone instead of Luhn-testing them; a real 18-digit
/// card has this shape with probability about 0.3%.
pub(super) fn id_shaped(d: &[u8]) -> bool {
    d.len() == 18
        && (1..=8).contains(&d[0])
        && (18..=21).contains(&number(&d[6..8]))
        && number(&d[10..12]) <= 19
        && number(&d[12..14]) <= 39
}

/// The Luhn (ISO/IEC 7812-1 annex B) check over all digits, check digit last.
pub(super) fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &v)| {
            let v = u32::from(v);
            if i % 2 == 1 {
                let v2 = v * 2;
                if v2 > 9 { v2 - 9 } else { v2 }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether the number starts like a payment card of a network kefu's users
/// hold: 2221-2720 (Mastercard 2-series), 3 (Amex, JCB, Diners), 4 (Visa),
/// 5 (Mastercard, Maestro), 6 (UnionPay, Discover, Maestro). ISO/IEC 7812
/// major industry identifiers 1, 7, 8, 9 (airlines, petroleum, telecom,
/// national) and the rest of the 2 range are not bank cards; this also keeps
/// date-prefixed order numbers (`2024...`) out.
pub(super) fn card_iin(d: &[u8]) -> bool {
    match d {
        [3..=6, ..] => true,
        [2, ..] if d.len() >= 4 => (2221..=2720).contains(&number(&d[..4])),
        _ => false,
    }
}

/// Whether the number is a UnionPay (IIN 62) number.
pub(super) fn unionpay(d: &[u8]) -> bool {
    d.starts_with(&[6, 2])
}

/// A bank card number: 16-19 digits, a payment-network IIN, not shaped like a
/// resident ID, and Luhn-valid, except that UnionPay (62) numbers are
/// accepted without the Luhn check (see the module docs for why).
pub(super) fn bank_card(d: &[u8]) -> bool {
    (16..=19).contains(&d.len())
        && d.iter().all(|&v| v <= 9)
        && card_iin(d)
        && !id_shaped(d)
        && (luhn(d) || unionpay(d))
}

/// A mainland mobile number: `1[3-9]` and nine more digits.
pub(super) fn mobile(d: &[u8]) -> bool {
    d.len() == 11 && d[0] == 1 && (3..=9).contains(&d[1]) && d.iter().all(|&v| v <= 9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> alloc::vec::Vec<u8> {
        s.bytes()
            .map(|b| if b == b'X' { X } else { b - b'0' })
            .collect()
    }

    #[test]
    fn resident_id_checks() {
        // The GB 11643-1999 sample number (standard, appendix); the other two
        // check characters were computed independently with a Python one-liner
        // over the same weights (2000-02-29 is a leap day).
        assert!(resident_id(&digits("11010519491231002X")));
        assert!(resident_id(&digits("440524198001010013")));
        assert!(resident_id(&digits("310115200002291235")));
        // Wrong check, wrong date (1949-02-30), leap rules, region 9.
        assert!(!resident_id(&digits("110105194912310021")));
        assert!(!resident_id(&digits("110105194902300026")));
        assert!(valid_date(2000, 2, 29) && !valid_date(1900, 2, 29) && valid_date(2096, 2, 29));
        assert!(!valid_date(1899, 12, 31) && !valid_date(2100, 1, 1));
        let mut d = digits("91010519491231002X");
        assert!(!resident_id(&d));
        d[0] = 1;
        assert!(resident_id(&d));
    }

    #[test]
    fn luhn_and_cards() {
        // 79927398713 is the textbook Luhn example (ISO/IEC 7812-1 annex B
        // style); the PANs are the public Visa, Mastercard and Mastercard
        // 2-series test numbers from payment-gateway documentation.
        assert!(luhn(&digits("79927398713")));
        assert!(!luhn(&digits("79927398710")));
        assert!(bank_card(&digits("4111111111111111")));
        assert!(bank_card(&digits("5555555555554444")));
        assert!(bank_card(&digits("2223003122003222")));
        assert!(!bank_card(&digits("4111111111111112")));
        // A date-prefixed Luhn-valid number is not a card: IIN 2024 is outside 2221-2720.
        let mut order = digits("2024112300001234567");
        let fix = (0..10).find(|&c| {
            order[18] = c;
            luhn(&order)
        });
        assert!(fix.is_some() && !bank_card(&order));
        // UnionPay without Luhn is accepted by policy.
        assert!(!luhn(&digits("6222021234567890127")) && bank_card(&digits("6222021234567890127")));
    }

    #[test]
    fn mobiles() {
        assert!(mobile(&digits("13800138000")) && mobile(&digits("19912345678")));
        assert!(!mobile(&digits("12800138000")) && !mobile(&digits("1380013800")));
    }
}
