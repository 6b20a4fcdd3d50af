//! The one-pass decode against the pre-scan it replaced: same bounds, same
//! accepted inputs. Inputs are `rmp_serde::to_vec_named` encodings (an
//! independent encoder), mutated at random.

use super::*;

/// `sample()` plus a field `Sample` does not have, so serde skips it.
#[derive(Serialize)]
struct Plus<X> {
    #[serde(flatten)]
    base: Sample,
    extra: X,
}

fn plus<X: Serialize>(extra: X) -> Vec<u8> {
    rmp_serde::to_vec_named(&Plus {
        base: sample(),
        extra,
    })
    .unwrap()
}

/// The old two-pass decode: the whole pre-scan, then deserialisation.
fn scan_then_decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<T> {
    scan(bytes, limits)?;
    decode_scanned(bytes)
}

/// `decode` bounds the input while deserialising; a skipped unknown field is
/// no way around the bounds: every header inside it is checked as the
/// pre-scan checks it, with the same error.
#[test]
fn bounds_hold_inside_skipped_fields() {
    use alloc::collections::BTreeMap;
    // `sample()` needs: strings up to 13 bytes, arrays of 2, maps of 7
    // pairs (8 with the extra field), depth 3 (map > array > map).
    let fits = DecodeLimits {
        max_str_len: 13,
        max_array_len: 2,
        max_map_len: 8,
        max_depth: 3,
        max_bin_len: 4,
        ..DecodeLimits::DEFAULT
    };
    let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
        (
            plus("x".repeat(13)),
            plus("x".repeat(14)),
            "string longer than max_str_len",
        ),
        (
            plus([1u8, 2]),
            plus([1u8, 2, 3]),
            "array longer than max_array_len",
        ),
        (
            plus((0..8).map(|i| (i, i)).collect::<BTreeMap<u8, u8>>()),
            plus((0..9).map(|i| (i, i)).collect::<BTreeMap<u8, u8>>()),
            "map larger than max_map_len",
        ),
        (
            plus(vec![vec![1u8]]),
            plus(vec![vec![vec![1u8]]]),
            "nesting deeper than max_depth",
        ),
        (
            plus(serde_bytes::ByteBuf::from(vec![0u8; 4])),
            plus(serde_bytes::ByteBuf::from(vec![0u8; 5])),
            "binary longer than max_bin_len",
        ),
    ];
    for (ok, over, bound) in cases {
        assert_eq!(decode::<Sample>(&ok, &fits).unwrap(), sample(), "{bound}");
        assert_eq!(scan(&over, &fits), Err(Error::TooLarge(bound)));
        assert_eq!(decode::<Sample>(&over, &fits), Err(Error::TooLarge(bound)));
        assert_eq!(
            decode::<IgnoredAny>(&over, &fits),
            Err(Error::TooLarge(bound))
        );
    }
    // A declared length past the input inside a skipped value: the extra
    // field is last, so cutting its last element leaves [1, 2] declaring 3.
    let mut short = plus([1u8, 2, 3]);
    short.pop();
    assert!(is_decode(&decode::<Sample>(&short, &DecodeLimits::DEFAULT)));
    assert!(is_decode(&scan(&short, &DecodeLimits::DEFAULT)));
}

/// Small limits around `sample()`'s needs, so that mutations cross them.
fn tight_limits() -> impl Strategy<Value = DecodeLimits> {
    (
        0usize..5,
        0usize..16,
        0usize..6,
        0usize..4,
        0usize..10,
        0usize..600,
    )
        .prop_map(
            |(max_depth, max_str_len, max_bin_len, max_array_len, max_map_len, max_bytes)| {
                DecodeLimits {
                    max_bytes,
                    max_depth,
                    max_str_len,
                    max_bin_len,
                    max_array_len,
                    max_map_len,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The one-pass `decode` accepts exactly what the scan followed by
    /// deserialisation accepts, with the same value; and for an untyped
    /// walk (`IgnoredAny`) fails with the very same error.
    #[test]
    fn one_pass_decode_accepts_exactly_what_the_pre_scan_accepts(
        base in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in 0usize..4,
        limits in prop_oneof![Just(DecodeLimits::DEFAULT), tight_limits()],
    ) {
        let mut bytes = match base {
            0 => encode(&sample()).unwrap(),
            1 => plus(vec![vec![1u8], vec![]]),
            2 => plus(serde_bytes::ByteBuf::from(vec![7u8; 5])),
            _ => plus(("银行卡", [(1u8, -1i64)].into_iter().collect::<alloc::collections::BTreeMap<_, _>>())),
        };
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(bytes.len() - cut);
        let one = decode::<Sample>(&bytes, &limits);
        let two = scan_then_decode::<Sample>(&bytes, &limits);
        match (&one, &two) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "one pass {:?}, two passes {:?}", one, two),
        }
        prop_assert_eq!(
            decode::<IgnoredAny>(&bytes, &limits).map(|_| ()),
            scan_then_decode::<IgnoredAny>(&bytes, &limits).map(|_| ())
        );
    }
}
