//! Codec tests. Hostile inputs are hand-assembled from the MessagePack spec
//! (<https://github.com/msgpack/msgpack/blob/master/spec.md>); expected
//! encodings come from `rmp_serde::to_vec_named`, an independent encoder.

use super::*;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Sample {
    v: u8,
    name: String,
    n: u64,
    opt: Option<u32>,
    list: Vec<Inner>,
    kind: Kind,
    flag: bool,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Inner {
    a: u16,
    b: Option<String>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Alpha,
    BetaGamma,
}

fn sample() -> Sample {
    Sample {
        v: 1,
        name: "退款 refund".to_string(),
        n: u64::MAX - 7,
        opt: Some(70_000),
        list: vec![
            Inner { a: 300, b: None },
            Inner {
                a: 0,
                b: Some("银行卡".to_string()),
            },
        ],
        kind: Kind::BetaGamma,
        flag: true,
    }
}

fn is_decode(r: &Result<impl core::fmt::Debug>) -> bool {
    matches!(r, Err(Error::Decode(_)))
}

#[test]
fn roundtrip_and_byte_identical_to_rmp_serde_named() {
    let s = sample();
    let ours = encode(&s).unwrap();
    assert_eq!(ours, rmp_serde::to_vec_named(&s).unwrap());
    assert_eq!(decode::<Sample>(&ours, &DecodeLimits::DEFAULT).unwrap(), s);
    // Two independent decoders read it back, and ours reads theirs.
    assert_eq!(rmp_serde::from_slice::<Sample>(&ours).unwrap(), s);
    assert_eq!(messagepack_serde::from_slice::<Sample>(&ours).unwrap(), s);
    let theirs = messagepack_serde::to_vec(&s).unwrap();
    assert_eq!(
        decode::<Sample>(&theirs, &DecodeLimits::DEFAULT).unwrap(),
        s
    );
    // Integers at each width boundary encode identically too.
    for n in [0u64, 127, 128, 255, 256, 65_535, 65_536, 1 << 32, u64::MAX] {
        let s = Sample { n, ..sample() };
        assert_eq!(encode(&s).unwrap(), rmp_serde::to_vec_named(&s).unwrap());
    }
}

#[test]
fn enums_with_data_round_trip_like_rmp_serde() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum E {
        Unit,
        New(u8),
        Tup(u8, bool),
        Strukt { a: bool, b: Option<i32> },
    }
    let all = vec![
        E::Unit,
        E::New(5),
        E::Tup(1, true),
        E::Strukt {
            a: false,
            b: Some(-70_000),
        },
    ];
    let ours = encode(&all).unwrap();
    assert_eq!(ours, rmp_serde::to_vec_named(&all).unwrap());
    assert_eq!(
        decode::<Vec<E>>(&ours, &DecodeLimits::DEFAULT).unwrap(),
        all
    );
    // Wrong shapes are errors, not panics.
    assert!(is_decode(&decode::<E>(
        &[0x82, 0xa1, b'x', 0xc0, 0xa1, b'y', 0xc0],
        &DecodeLimits::DEFAULT
    )));
    assert!(is_decode(&decode::<E>(&[0x07], &DecodeLimits::DEFAULT)));
}

/// Every serde shape, against rmp_serde's named encoding.
#[test]
fn every_serde_shape_encodes_like_rmp_serde() {
    use alloc::collections::BTreeMap;
    #[derive(Serialize)]
    struct Unit;
    #[derive(Serialize)]
    struct Newtype(u32);
    #[derive(Serialize)]
    struct TupleStruct(i8, String);
    #[derive(Serialize)]
    struct Inner2 {
        x: u8,
    }
    #[derive(Serialize)]
    struct Flat {
        a: u8,
        #[serde(flatten)]
        inner: Inner2,
    }
    /// A sequence that does not say its length up front.
    struct Unsized(Vec<u16>);
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(None)?;
            for x in &self.0 {
                seq.serialize_element(x)?;
            }
            seq.end()
        }
    }
    #[derive(Serialize)]
    struct All {
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        tuple: (u8, bool, Option<u8>),
        tuple_struct: TupleStruct,
        ints: Vec<i64>,
        uints: Vec<u64>,
        wide: (i128, u128),
        floats: (f32, f64),
        ch: char,
        bytes: serde_bytes::ByteBuf,
        map: BTreeMap<String, Vec<u8>>,
        flat: Flat,
        unsized_short: Unsized,
        unsized_long: Unsized,
        long_str: String,
        longer_str: String,
    }
    let ints = vec![
        0,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        i64::from(i32::MIN),
        i64::from(i32::MIN) - 1,
        i64::MIN,
        127,
        128,
        255,
        256,
        65_536,
        i64::MAX,
    ];
    let all = All {
        unit: (),
        unit_struct: Unit,
        newtype: Newtype(70_000),
        tuple: (1, false, None),
        tuple_struct: TupleStruct(-5, "é".to_string()),
        ints,
        uints: vec![
            0,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u64::from(u32::MAX),
            u64::MAX,
        ],
        wide: (-3, u128::MAX),
        floats: (1.5, -0.1),
        ch: '客',
        bytes: serde_bytes::ByteBuf::from(vec![0u8; 300]),
        map: [("k".to_string(), vec![1]), ("服务".to_string(), vec![])].into(),
        flat: Flat {
            a: 1,
            inner: Inner2 { x: 2 },
        },
        unsized_short: Unsized(vec![1, 2, 3]),
        unsized_long: Unsized((0..70_000).map(|i| i as u16).collect()),
        long_str: "x".repeat(300),
        longer_str: "字".repeat(30_000),
    };
    assert_eq!(
        encode(&all).unwrap(),
        rmp_serde::to_vec_named(&all).unwrap()
    );
    #[derive(Serialize)]
    struct Big {
        m: BTreeMap<u32, ()>,
        empty: Vec<u8>,
    }
    let big = Big {
        m: (0..70_000).map(|i| (i, ())).collect(),
        empty: vec![],
    };
    assert_eq!(
        encode(&big).unwrap(),
        rmp_serde::to_vec_named(&big).unwrap()
    );
}

#[test]
fn every_truncation_is_a_decode_error() {
    let bytes = encode(&sample()).unwrap();
    for cut in 0..bytes.len() {
        let r = decode::<Sample>(&bytes[..cut], &DecodeLimits::DEFAULT);
        assert!(is_decode(&r), "prefix of {cut} bytes gave {r:?}");
    }
}

#[test]
fn huge_declared_lengths_are_rejected_before_allocation() {
    let unbounded = DecodeLimits {
        max_bytes: usize::MAX,
        max_depth: usize::MAX,
        max_str_len: usize::MAX,
        max_bin_len: usize::MAX,
        max_array_len: usize::MAX,
        max_map_len: usize::MAX,
    };
    let hostile: [&[u8]; 6] = [
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0], // array32 of 4 Gi elements
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0], // map32 of 4 Gi pairs
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], // str32 of 4 GiB
        &[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00], // bin32 of 4 GiB
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
        &[0xdc, 0x10, 0x00, 0xc0, 0xc0],       // array16 of 4096, two present
    ];
    for h in hostile {
        // Within generous limits the length still cannot fit in the input.
        assert!(is_decode(&decode::<IgnoredAny>(h, &unbounded)), "{h:02x?}");
        // Under the default limits it is rejected as too large or truncated.
        let r = decode::<IgnoredAny>(h, &DecodeLimits::DEFAULT);
        assert!(
            matches!(r, Err(Error::TooLarge(_) | Error::Decode(_))),
            "{h:02x?}"
        );
    }
    let r = decode::<IgnoredAny>(hostile[0], &DecodeLimits::DEFAULT);
    assert_eq!(
        r.unwrap_err(),
        Error::TooLarge("array longer than max_array_len")
    );
}

#[test]
fn deep_nesting_is_rejected_without_recursion() {
    let mut deep = vec![0x91u8; 100_000];
    deep.push(0xc0);
    assert_eq!(
        decode::<IgnoredAny>(&deep, &DecodeLimits::DEFAULT).unwrap_err(),
        Error::TooLarge("nesting deeper than max_depth")
    );
    // The scan itself is iterative: with no depth limit it walks all 100 000
    // levels on a test thread's stack and accepts the well-formed value.
    let no_depth_limit = DecodeLimits {
        max_depth: usize::MAX,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(scan(&deep, &no_depth_limit), Ok(()));
    // Skipping it (as for an unknown field) is iterative too.
    assert!(decode::<IgnoredAny>(&deep, &no_depth_limit).is_ok());
    // A recursive type stops at the deserializer's own recursion cap, not
    // at the end of the stack.
    #[derive(Deserialize, Debug)]
    struct Nest(#[allow(dead_code)] Vec<Nest>);
    assert!(is_decode(&decode::<Nest>(&deep, &no_depth_limit)));
    let mut shallow = vec![0x91u8; 100];
    shallow.push(0x90);
    assert!(
        decode::<Nest>(
            &shallow,
            &DecodeLimits {
                max_depth: 101,
                ..DecodeLimits::DEFAULT
            }
        )
        .is_ok()
    );
    // Exactly max_depth levels pass; one more does not.
    let limits = DecodeLimits {
        max_depth: 3,
        ..DecodeLimits::DEFAULT
    };
    assert!(decode::<IgnoredAny>(&[0x91, 0x91, 0x90], &limits).is_ok());
    assert!(decode::<IgnoredAny>(&[0x91, 0x91, 0x91, 0x90], &limits).is_err());
}

#[test]
fn trailing_bytes_and_reserved_marker_are_rejected() {
    let mut bytes = encode(&sample()).unwrap();
    bytes.push(0xc0);
    assert!(is_decode(&decode::<Sample>(&bytes, &DecodeLimits::DEFAULT)));
    assert!(is_decode(&decode::<IgnoredAny>(
        &[0xc1],
        &DecodeLimits::DEFAULT
    )));
    assert!(is_decode(&decode::<IgnoredAny>(
        &[0x92, 0x01, 0xc1],
        &DecodeLimits::DEFAULT
    )));
}

#[test]
fn per_item_limits_apply() {
    let s = sample();
    let bytes = encode(&s).unwrap();
    let tight = |f: fn(&mut DecodeLimits)| {
        let mut l = DecodeLimits::DEFAULT;
        f(&mut l);
        decode::<Sample>(&bytes, &l)
    };
    assert_eq!(
        tight(|l| l.max_bytes = 10).unwrap_err(),
        Error::TooLarge("message longer than max_bytes")
    );
    // "退款 refund" is 13 bytes; "银行卡" 9.
    assert_eq!(
        tight(|l| l.max_str_len = 12).unwrap_err(),
        Error::TooLarge("string longer than max_str_len")
    );
    assert!(tight(|l| l.max_str_len = 13).is_ok());
    assert_eq!(
        tight(|l| l.max_array_len = 1).unwrap_err(),
        Error::TooLarge("array longer than max_array_len")
    );
    assert_eq!(
        tight(|l| l.max_map_len = 6).unwrap_err(),
        Error::TooLarge("map larger than max_map_len")
    );
    assert!(tight(|l| l.max_map_len = 7).is_ok());
}

#[test]
fn wrong_types_are_decode_errors_that_do_not_quote_input() {
    #[derive(Serialize)]
    struct Wrong<'a> {
        v: u8,
        name: &'a str,
        n: &'a str,
    }
    let secret = "我的身份证号是110101199003074514";
    let bytes = encode(&Wrong {
        v: 1,
        name: "ok",
        n: secret,
    })
    .unwrap();
    // The raw serde message quotes the value; ours must not.
    let raw = Sample::deserialize(&mut de::De::new(&bytes, DecodeLimits::DEFAULT)).unwrap_err();
    assert!(alloc::format!("{raw}").contains("110101"));
    let err = decode::<Sample>(&bytes, &DecodeLimits::DEFAULT).unwrap_err();
    let Error::Decode(msg) = &err else {
        panic!("expected Decode, got {err:?}")
    };
    assert!(!msg.contains("110101"), "{msg}");
    assert!(!alloc::format!("{err:?}").contains("身份证"));
}

#[test]
fn sanitize_keeps_names_and_drops_values() {
    let m = sanitize(&"invalid type: string \"秘密 text\", expected u64");
    assert_eq!(m, "invalid type: string <redacted>, expected u64");
    let m = sanitize(&"missing field `kb_version`");
    assert_eq!(m, "missing field `kb_version`");
    let m = sanitize(&"unknown variant `call me at 13800138000 now`, expected `ai`");
    assert_eq!(m, "unknown variant <redacted>, expected `ai`");
    assert!(sanitize(&"x".repeat(500).as_str()).len() <= 160);
}

#[test]
fn read_version_field_finds_v_anywhere_in_the_top_map() {
    let bytes = encode(&sample()).unwrap();
    assert_eq!(read_version_field(&bytes, "v"), Ok(1));
    #[derive(Serialize)]
    struct Later {
        a: Vec<Vec<u8>>,
        b: Option<u8>,
        v: u8,
    }
    let later = encode(&Later {
        a: vec![vec![1, 2], vec![]],
        b: None,
        v: 200,
    })
    .unwrap();
    assert_eq!(read_version_field(&later, "v"), Ok(200));
    assert!(is_decode(&read_version_field(&later, "w")));
    assert!(is_decode(&read_version_field(&[0x92, 0x01, 0x02], "v")));
    // v = 256 does not fit a u8 version.
    assert!(is_decode(&read_version_field(
        &[0x81, 0xa1, b'v', 0xcd, 0x01, 0x00],
        "v"
    )));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<Sample>(&bytes, &DecodeLimits::DEFAULT);
        let _ = decode::<IgnoredAny>(&bytes, &DecodeLimits::DEFAULT);
        let _ = read_version_field(&bytes, "v");
    }

    #[test]
    fn mutated_encodings_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = encode(&sample()).unwrap();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let keep = bytes.len() - cut % 4;
        bytes.truncate(keep);
        match decode::<Sample>(&bytes, &DecodeLimits::DEFAULT) {
            // Whatever decodes re-encodes and decodes to the same value.
            Ok(s) => {
                let again = encode(&s).unwrap();
                prop_assert_eq!(decode::<Sample>(&again, &DecodeLimits::DEFAULT).unwrap(), s);
            }
            Err(e) => prop_assert!(matches!(e, Error::Decode(_) | Error::TooLarge(_))),
        }
        let _ = decode::<IgnoredAny>(&bytes, &DecodeLimits::DEFAULT);
    }

    #[test]
    fn any_integers_encode_like_rmp_serde(i in any::<i64>(), u in any::<u64>(), s in "\\PC{0,300}") {
        let v = (i, u, i as i32, u as u16, s);
        prop_assert_eq!(encode(&v).unwrap(), rmp_serde::to_vec_named(&v).unwrap());
    }

    #[test]
    fn any_sample_roundtrips_like_rmp_serde(
        name in "\\PC{0,40}",
        n in any::<u64>(),
        opt in any::<Option<u32>>(),
        a in any::<u16>(),
    ) {
        let s = Sample { name, n, opt, list: vec![Inner { a, b: None }], ..sample() };
        let bytes = encode(&s).unwrap();
        prop_assert_eq!(&bytes, &rmp_serde::to_vec_named(&s).unwrap());
        prop_assert_eq!(decode::<Sample>(&bytes, &DecodeLimits::DEFAULT).unwrap(), s);
    }
}

mod one_pass;
