//! Known-answer tests for SM4, SM4-GCM, SM3 and HMAC-SM3, run against the
//! block cipher this build uses (RustCrypto `sm4`, or the `sm4-par8`
//! backend, whose own tests add its parallel path). Each vector names its
//! source on its first line; every
//! one was also re-computed with Python `cryptography` 50.0.2 (OpenSSL 3.x
//! backend) and agreed, and the HMAC-SM3 ones with `openssl dgst` 3.0.19.

use alloc::vec::Vec;

use hex_literal::hex;

use super::*;

/// The SM4 block cipher the GCM layer is built on in this build.
fn block_cipher(key: [u8; 16]) -> impl Fn(&mut [u8; 16]) {
    use cipher::{BlockCipherEncrypt, KeyInit};
    #[cfg(feature = "sm4-par8")]
    let c = super::sm4_block::Sm4Cipher::new(&key.into());
    #[cfg(not(feature = "sm4-par8"))]
    let c = sm4::Sm4::new(&key.into());
    move |b: &mut [u8; 16]| {
        let mut blk = (*b).into();
        c.encrypt_block(&mut blk);
        b.copy_from_slice(&blk);
    }
}

#[test]
fn sm4_gbt32907_example_1() {
    // GB/T 32907-2016 (GM/T 0002-2012) Appendix A, example 1: key = plaintext.
    let enc = block_cipher(hex!("0123456789abcdeffedcba9876543210"));
    let mut b = hex!("0123456789abcdeffedcba9876543210");
    enc(&mut b);
    assert_eq!(b, hex!("681edf34d206965e86b3e94f536e4246"));
}

#[test]
fn sm4_gbt32907_example_2_one_million_encryptions() {
    // GB/T 32907-2016 Appendix A, example 2: example 1 encrypted 1,000,000 times.
    let enc = block_cipher(hex!("0123456789abcdeffedcba9876543210"));
    let mut b = hex!("0123456789abcdeffedcba9876543210");
    for _ in 0..1_000_000 {
        enc(&mut b);
    }
    assert_eq!(b, hex!("595298c7c6fd271f0402f804c33d3f66"));
}

/// RFC 8998 Appendix A.1 (SM4-GCM), also in nettle's and GmSSL's test suites.
mod rfc8998 {
    use super::*;

    pub(super) const KEY: [u8; 16] = hex!("0123456789ABCDEFFEDCBA9876543210");
    pub(super) const IV: [u8; 12] = hex!("00001234567800000000ABCD");
    pub(super) const AAD: [u8; 20] = hex!("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    pub(super) const PT: [u8; 64] = hex!(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    );
    pub(super) const CT: [u8; 64] = hex!(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    );
    pub(super) const TAG: [u8; 16] = hex!("83DE3541E4C2B58177E065A9BF7B62EC");
}

#[test]
fn sm4_gcm_rfc8998_a1_encrypt() {
    // RFC 8998 Appendix A.1 SM4-GCM test vector.
    use rfc8998::*;
    let gcm = Sm4Gcm::new(&Key::from_bytes(KEY));
    let out = gcm.encrypt(&IV, &AAD, &PT);
    assert_eq!(out[..64], CT);
    assert_eq!(out[64..], TAG);

    let mut buf = PT;
    let tag = gcm.encrypt_in_place_detached(&IV, &AAD, &mut buf).unwrap();
    assert_eq!((buf, tag), (CT, TAG));
}

#[test]
fn sm4_gcm_rfc8998_a1_decrypt_and_reject() {
    // RFC 8998 Appendix A.1 SM4-GCM test vector, opened, then with one bit off.
    use rfc8998::*;
    let gcm = Sm4Gcm::new(&Key::from_bytes(KEY));
    let mut ct_tag = CT.to_vec();
    ct_tag.extend_from_slice(&TAG);
    assert_eq!(gcm.decrypt(&IV, &AAD, &ct_tag).unwrap(), PT);

    let mut buf = CT;
    gcm.decrypt_in_place_detached(&IV, &AAD, &mut buf, &TAG)
        .unwrap();
    assert_eq!(buf, PT);

    let mut bad_tag = TAG;
    bad_tag[15] ^= 1;
    let mut buf = CT;
    let err = gcm.decrypt_in_place_detached(&IV, &AAD, &mut buf, &bad_tag);
    assert_eq!(err, Err(Error::Unseal));
    assert_eq!(buf, CT, "ciphertext must be left untouched on failure");

    let mut bad_aad = AAD;
    bad_aad[0] ^= 0x80;
    assert_eq!(gcm.decrypt(&IV, &bad_aad, &ct_tag), Err(Error::Unseal));
    assert_eq!(gcm.decrypt(&IV, &AAD, &TAG[..15]), Err(Error::Unseal));
}

#[test]
fn sm4_gcm_partial_block_and_empty_messages() {
    // Computed with Python cryptography 50.0.2 (SM4 + modes.GCM), RFC 8998 A.1 key/IV/AAD.
    use rfc8998::*;
    let gcm = Sm4Gcm::new(&Key::from_bytes(KEY));
    // 37 bytes: two full blocks and a partial one.
    let out = gcm.encrypt(&IV, &AAD, &PT[..37]);
    assert_eq!(out[..37], CT[..37], "CTR keystream is a prefix property");
    assert_eq!(out[37..], hex!("3c56076bbba190015f677c5dc84568e6"));
    // Empty plaintext and empty AAD: a bare tag.
    assert_eq!(
        gcm.encrypt(&IV, b"", b""),
        hex!("54f157af32744bb83bbe8aa6f1578b71")
    );
}

#[test]
fn sm4_gcm_long_message_takes_the_8_block_path() {
    // Computed with Python cryptography 50.0.2 (SM4 + modes.GCM): RFC 8998 A.1
    // key/IV/AAD, plaintext bytes i % 251 for i in 0..1000 (62 blocks + 8 bytes).
    use rfc8998::*;
    let gcm = Sm4Gcm::new(&Key::from_bytes(KEY));
    let pt: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let out = gcm.encrypt(&IV, &AAD, &pt);
    assert_eq!(out[..16], hex!("bd58315922c87943aa626d29de720ec9"));
    assert_eq!(out[992..1000], hex!("57ca7677e1bc3fca"));
    assert_eq!(
        sm3(&out[..1000]),
        hex!("3343799cc780a854a631986a71ed77ab47c7720c3dd52e39c1a595e146d3a7d0")
    );
    assert_eq!(out[1000..], hex!("82a199fab2ea4c18b40ef17b7706ef98"));
    assert_eq!(gcm.decrypt(&IV, &AAD, &out).unwrap(), pt);
}

#[test]
fn sm3_gbt32905_example_1_abc() {
    // GB/T 32905-2016 Appendix A example 1: "abc".
    let want = hex!("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    assert_eq!(sm3(b"abc"), want);
}

#[test]
fn sm3_gbt32905_example_2_abcd_x16() {
    // GB/T 32905-2016 Appendix A example 2: "abcd" repeated 16 times (64 bytes).
    let want = hex!("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
    let message = b"abcd".repeat(16);
    assert_eq!(sm3(&message), want);
    // Fed incrementally in uneven pieces (one empty), the hasher agrees.
    let mut h = Sm3Hasher::new();
    for piece in [
        &message[..1],
        &message[1..11],
        &[],
        &message[11..60],
        &message[60..],
    ] {
        h.update(piece);
    }
    assert_eq!(h.finalize(), want);
}

#[test]
fn hmac_sm3_short_key() {
    // Computed with `openssl dgst -sm3 -hmac kefu-test-key` (OpenSSL 3.0.19).
    assert_eq!(
        hmac_sm3(
            b"kefu-test-key",
            b"The quick brown fox jumps over the lazy dog"
        ),
        hex!("682db2b07e08752df41348c59c6b9391f9c3cfc384339d091936a6888b4f42d1")
    );
}

#[test]
fn hmac_sm3_key_longer_than_a_block_is_hashed_first() {
    // Computed with `openssl dgst -sm3 -mac HMAC -macopt hexkey:00..63` (OpenSSL 3.0.19).
    let key: [u8; 100] = core::array::from_fn(|i| i as u8);
    assert_eq!(
        hmac_sm3(&key, b"abc"),
        hex!("efa0b8554e9475092d2f978d8855627a45325381b7f478f6e164faa04fd5c844")
    );
}
