//! The sealing primitives the regional service uses, in one place.
//!
//! STAND-IN: until `kefu_core::seal` lands on `main`, this module implements
//! the same API (SM4-GCM per RFC 8998 with a versioned record header, key
//! wrapping, SM3, HMAC-SM3) so the service can be built and tested. After the
//! merge it becomes `pub use kefu_core::seal::*` and this body is deleted.

use aes_gcm::AesGcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use kefu_core::ids::NonceSource;
use kefu_core::{Error, Result};
use sm3::{Digest, Sm3};
use zeroize::{Zeroize, ZeroizeOnDrop};

type Sm4Gcm = AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;

/// A 128-bit SM4 key. Zeroized on drop; `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; 16]);

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// Wraps raw key bytes.
    pub fn from_bytes(b: [u8; 16]) -> Key {
        Key(b)
    }
    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Result<Key> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|_| Error::InvalidKey("expected 32 hex digits"))?;
        Ok(Key(out))
    }
    /// A fresh random key.
    pub fn generate(rng: &mut impl NonceSource) -> Key {
        let mut b = [0u8; 16];
        rng.fill(&mut b);
        Key(b)
    }
    /// The raw bytes.
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

/// What a sealed record is bound to: moving it elsewhere breaks authentication.
#[derive(Debug, Clone, Copy)]
pub struct RecordAad<'a> {
    /// Owning tenant.
    pub tenant: &'a str,
    /// Owning conversation ("" for tenant-level records).
    pub conversation: &'a str,
    /// Sequence number (0 for non-message records).
    pub seq: u64,
    /// Version of the data key that sealed it.
    pub key_version: u32,
    /// Record kind.
    pub kind: &'a str,
}

fn aad_bytes(a: &RecordAad<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    for part in [a.tenant, a.conversation, a.kind] {
        v.extend_from_slice(&(part.len() as u32).to_be_bytes());
        v.extend_from_slice(part.as_bytes());
    }
    v.extend_from_slice(&a.seq.to_be_bytes());
    v.extend_from_slice(&a.key_version.to_be_bytes());
    v
}

const HDR: usize = 1 + 4 + 12;

/// Seals `pt`: `[1][key_version BE][nonce][ciphertext+tag]`.
pub fn seal(key: &Key, nonce: [u8; 12], aad: &RecordAad<'_>, pt: &[u8]) -> Vec<u8> {
    let c = Sm4Gcm::new_from_slice(&key.0).expect("16-byte key");
    let aadb = aad_bytes(aad);
    let ct = c
        .encrypt(
            &nonce.into(),
            Payload {
                msg: pt,
                aad: &aadb,
            },
        )
        .expect("gcm encrypt");
    let mut out = Vec::with_capacity(HDR + ct.len());
    out.push(1);
    out.extend_from_slice(&aad.key_version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens a record sealed by [`seal`] with the same key and AAD.
pub fn open(key: &Key, aad: &RecordAad<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < HDR + 16 || sealed[0] != 1 {
        return Err(Error::Unseal);
    }
    if sealed_key_version(sealed)? != aad.key_version {
        return Err(Error::Unseal);
    }
    let c = Sm4Gcm::new_from_slice(&key.0).map_err(|_| Error::Unseal)?;
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&sealed[5..HDR]);
    let aadb = aad_bytes(aad);
    c.decrypt(
        &nonce.into(),
        Payload {
            msg: &sealed[HDR..],
            aad: &aadb,
        },
    )
    .map_err(|_| Error::Unseal)
}

/// The key version recorded in a sealed record's header.
pub fn sealed_key_version(sealed: &[u8]) -> Result<u32> {
    if sealed.len() < HDR {
        return Err(Error::Decode("sealed record too short".into()));
    }
    Ok(u32::from_be_bytes([
        sealed[1], sealed[2], sealed[3], sealed[4],
    ]))
}

/// Wraps a tenant data key under the master key.
pub fn wrap_key(
    master: &Key,
    nonce: [u8; 12],
    tenant: &str,
    key_version: u32,
    dk: &Key,
) -> Vec<u8> {
    let aad = RecordAad {
        tenant,
        conversation: "",
        seq: 0,
        key_version,
        kind: "data-key",
    };
    seal(master, nonce, &aad, &dk.0)
}

/// Unwraps a key wrapped by [`wrap_key`].
pub fn unwrap_key(master: &Key, tenant: &str, key_version: u32, wrapped: &[u8]) -> Result<Key> {
    let aad = RecordAad {
        tenant,
        conversation: "",
        seq: 0,
        key_version,
        kind: "data-key",
    };
    let pt = open(master, &aad, wrapped)?;
    let b: [u8; 16] = pt.as_slice().try_into().map_err(|_| Error::Unseal)?;
    Ok(Key(b))
}

/// SM3 digest.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// HMAC-SM3.
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sm3> as hmac::KeyInit>::new_from_slice(key).expect("hmac takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}
