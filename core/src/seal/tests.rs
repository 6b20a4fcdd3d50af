//! Record sealing and key wrapping: golden bytes, tampering, truncation,
//! binding to the AAD, and a property-based round trip.

use alloc::format;
use alloc::vec::Vec;

use hex_literal::hex;
use proptest::prelude::*;

use super::*;

const DATA_KEY: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
const NONCE: [u8; 12] = hex!("101112131415161718191a1b");
const MASTER: [u8; 16] = hex!("ffeeddccbbaa99887766554433221100");

fn aad() -> RecordAad<'static> {
    RecordAad {
        tenant: "acme-bank",
        conversation: "c-42",
        seq: 7,
        key_version: 3,
        kind: "msg",
    }
}

const PLAINTEXT: &str = "您好，我想查询信用卡账单";

fn sealed() -> Vec<u8> {
    seal(
        &Key::from_bytes(DATA_KEY),
        NONCE,
        &aad(),
        PLAINTEXT.as_bytes(),
    )
}

#[test]
fn golden_aad_bytes() {
    // Independently built in Python from the layout in `RecordAad::to_bytes` docs.
    let want = hex!(
        "6b6566752d726563" "01" "00000003" "0000000000000007"
        "0000000000000009" "61636d652d62616e6b"
        "0000000000000004" "632d3432"
        "0000000000000003" "6d7367"
    );
    assert_eq!(aad().to_bytes(), want);
}

#[test]
fn golden_sealed_record() {
    // Independently computed with Python cryptography 50.0.2 (SM4 + modes.GCM)
    // from the module-doc layout; pins the on-disk format.
    let want = hex!(
        "01" "00000003" "101112131415161718191a1b"
        "5db46b088b04d24962d1143097b530d9a4cf33a40161500962a41c2975a72ad99260b129"
        "738fb551a68fcf743f8916603da61adf"
    );
    let got = sealed();
    assert_eq!(got, want);
    assert_eq!(got.len(), PLAINTEXT.len() + SEALED_OVERHEAD);
    assert_eq!(sealed_key_version(&got), Ok(3));
    let opened = open(&Key::from_bytes(DATA_KEY), &aad(), &got).unwrap();
    assert_eq!(opened, PLAINTEXT.as_bytes());
}

#[test]
fn flipping_any_single_bit_is_rejected() {
    let key = Key::from_bytes(DATA_KEY);
    let good = sealed();
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            assert_eq!(
                open(&key, &aad(), &bad),
                Err(Error::Unseal),
                "byte {byte} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn any_other_aad_is_rejected() {
    let key = Key::from_bytes(DATA_KEY);
    let good = sealed();
    let others = [
        RecordAad {
            tenant: "acme-insure",
            ..aad()
        },
        RecordAad {
            conversation: "c-43",
            ..aad()
        },
        RecordAad { seq: 8, ..aad() },
        RecordAad {
            kind: "session",
            ..aad()
        },
        RecordAad {
            key_version: 4,
            ..aad()
        },
        // Same concatenated text, different split: length prefixes tell them apart.
        RecordAad {
            tenant: "acme-bankc",
            conversation: "-42",
            ..aad()
        },
    ];
    for other in others {
        assert_eq!(open(&key, &other, &good), Err(Error::Unseal), "{other:?}");
    }
}

#[test]
fn rewriting_the_header_key_version_to_match_another_aad_is_rejected() {
    // The clear-text version cannot be moved: it is also inside the AAD.
    let key = Key::from_bytes(DATA_KEY);
    let mut moved = sealed();
    moved[1..5].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(sealed_key_version(&moved), Ok(4));
    let claimed = RecordAad {
        key_version: 4,
        ..aad()
    };
    assert_eq!(open(&key, &claimed, &moved), Err(Error::Unseal));
}

#[test]
fn wrong_key_is_rejected() {
    let mut other = DATA_KEY;
    other[0] ^= 1;
    assert_eq!(
        open(&Key::from_bytes(other), &aad(), &sealed()),
        Err(Error::Unseal)
    );
}

#[test]
fn every_truncation_is_rejected_without_panic() {
    let key = Key::from_bytes(DATA_KEY);
    let good = sealed();
    for len in 0..good.len() {
        let cut = &good[..len];
        assert_eq!(open(&key, &aad(), cut), Err(Error::Unseal), "len {len}");
        // Also cut from the front, which shifts every field.
        let tail = &good[good.len() - len..];
        assert_eq!(open(&key, &aad(), tail), Err(Error::Unseal), "tail {len}");
        let version = sealed_key_version(cut);
        if len < SEALED_OVERHEAD {
            assert!(matches!(version, Err(Error::Decode(_))), "len {len}");
        } else {
            assert_eq!(version, Ok(3), "len {len}");
        }
    }
}

#[test]
fn empty_plaintext_seals_to_header_and_tag() {
    let key = Key::from_bytes(DATA_KEY);
    let s = seal(&key, NONCE, &aad(), b"");
    assert_eq!(s.len(), SEALED_OVERHEAD);
    assert_eq!(open(&key, &aad(), &s).unwrap(), b"");
}

#[test]
fn unknown_format_byte_is_reported() {
    let mut s = sealed();
    s[0] = 2;
    assert_eq!(
        sealed_key_version(&s),
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    assert_eq!(
        open(&Key::from_bytes(DATA_KEY), &aad(), &s),
        Err(Error::Unseal)
    );
}

#[test]
fn distinct_nonces_give_unrelated_ciphertexts() {
    let key = Key::from_bytes(DATA_KEY);
    let a = seal(&key, NONCE, &aad(), PLAINTEXT.as_bytes());
    let mut n2 = NONCE;
    n2[11] ^= 1;
    let b = seal(&key, n2, &aad(), PLAINTEXT.as_bytes());
    assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    assert_eq!(open(&key, &aad(), &b).unwrap(), PLAINTEXT.as_bytes());
}

#[test]
fn golden_wrapped_key() {
    // Independently computed with Python cryptography 50.0.2 from the
    // `wrap_key` layout and AAD ("kefu-dk" | 01 | len u64 | tenant | version u32).
    let wrapped = wrap_key(
        &Key::from_bytes(MASTER),
        hex!("404142434445464748494a4b"),
        "acme-bank",
        3,
        &Key::from_bytes(hex!("202122232425262728292a2b2c2d2e2f")),
    );
    assert_eq!(
        wrapped,
        hex!(
            "01" "404142434445464748494a4b" "358b3b33ef9ca000ab02f98ced915a23"
            "b431650cc2e2968cfdba0d192a0ccc47"
        )
    );
    assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
}

#[test]
fn wrap_unwrap_round_trip_and_rejections() {
    let master = Key::from_bytes(MASTER);
    let data = Key::from_bytes(hex!("202122232425262728292a2b2c2d2e2f"));
    let w = wrap_key(&master, NONCE, "acme-bank", 3, &data);
    let back = unwrap_key(&master, "acme-bank", 3, &w).unwrap();
    assert_eq!(back.expose(), data.expose());

    let mut wrong_master = MASTER;
    wrong_master[15] ^= 0x40;
    let wrong_master = Key::from_bytes(wrong_master);
    assert!(matches!(
        unwrap_key(&wrong_master, "acme-bank", 3, &w),
        Err(Error::Unseal)
    ));
    assert!(matches!(
        unwrap_key(&master, "acme-insure", 3, &w),
        Err(Error::Unseal)
    ));
    assert!(matches!(
        unwrap_key(&master, "acme-bank", 4, &w),
        Err(Error::Unseal)
    ));
    for byte in 0..w.len() {
        for bit in 0..8 {
            let mut bad = w.clone();
            bad[byte] ^= 1 << bit;
            assert!(
                matches!(
                    unwrap_key(&master, "acme-bank", 3, &bad),
                    Err(Error::Unseal)
                ),
                "byte {byte} bit {bit} accepted"
            );
        }
    }
    for len in 0..w.len() {
        assert!(matches!(
            unwrap_key(&master, "acme-bank", 3, &w[..len]),
            Err(Error::Unseal)
        ));
    }
    let mut longer = w.clone();
    longer.push(0);
    assert!(matches!(
        unwrap_key(&master, "acme-bank", 3, &longer),
        Err(Error::Unseal)
    ));
}

#[test]
fn debug_output_holds_no_key_material() {
    let key = Key::from_bytes(DATA_KEY);
    let gcm = Sm4Gcm::new(&key);
    let mut h = Sm3Hasher::new();
    h.update(&DATA_KEY);
    let shown = format!("{key:?} {gcm:?} {h:?} {:?}", aad());
    assert!(!shown.contains("0001020304"), "{shown}");
    assert!(!shown.contains("0, 1, 2, 3"), "{shown}");
    assert_eq!(format!("{gcm:?}"), "Sm4Gcm { .. }");
}

proptest! {
    #[test]
    fn seal_open_round_trip(
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        tenant in "\\PC{0,12}",
        conversation in "[a-z0-9-]{0,12}",
        seq in any::<u64>(),
        key_version in any::<u32>(),
        kind in prop::sample::select(&["msg", "session", "meta"][..]),
        plaintext in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let key = Key::from_bytes(key);
        let aad = RecordAad { tenant: &tenant, conversation: &conversation, seq, key_version, kind };
        let s = seal(&key, nonce, &aad, &plaintext);
        prop_assert_eq!(s.len(), plaintext.len() + SEALED_OVERHEAD);
        prop_assert_eq!(sealed_key_version(&s), Ok(key_version));
        prop_assert_eq!(open(&key, &aad, &s), Ok(plaintext.clone()));
        let other = RecordAad { seq: seq.wrapping_add(1), ..aad };
        prop_assert_eq!(open(&key, &other, &s), Err(Error::Unseal));
    }

    #[test]
    fn open_never_panics_on_garbage(
        bytes in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let key = Key::from_bytes(DATA_KEY);
        prop_assert_eq!(open(&key, &aad(), &bytes), Err(Error::Unseal));
        let _ = sealed_key_version(&bytes);
        prop_assert!(unwrap_key(&key, "t", 1, &bytes).is_err());
    }
}
