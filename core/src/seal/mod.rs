//! Sealing conversation records at rest with SM4-GCM, wrapping data keys
//! under a master key, and SM3 hashing.
//!
//! The algorithms are the Chinese commercial-cryptography (ShangMi) set that
//! banks and insurers in China are required to use:
//!
//! - SM4 block cipher, GB/T 32907-2016 (= GM/T 0002-2012): an 8-way
//!   table-driven backend here, checked against RustCrypto `sm4`;
//! - GCM over SM4 as profiled by [RFC 8998] (`AEAD_SM4_GCM`: 96-bit nonce,
//!   128-bit tag), RustCrypto `aes-gcm`'s generic `AesGcm`: see [`Sm4Gcm`];
//! - SM3 hash, GB/T 32905-2016, and HMAC-SM3: see [`sm3()`], [`Sm3Hasher`],
//!   [`hmac_sm3`].
//!
//! # Sealed record layout (format 1)
//!
//! ```text
//! offset  size  field
//!      0     1  format       = 0x01
//!      1     4  key_version  u32 big-endian: which data key sealed this
//!      5    12  nonce        never repeated under one key
//!     17     n  ciphertext   SM4-GCM, n = plaintext length
//!   17+n    16  tag          GCM tag over AAD and ciphertext
//! ```
//!
//! The GCM associated data is [`RecordAad::to_bytes`]: a domain label, the
//! format byte, the key version, the sequence number and the length-prefixed
//! tenant, conversation and kind. A record therefore only opens for the
//! exact tenant, conversation, position and kind it was sealed for: copying a
//! ciphertext to another tenant's row, or replaying message 3 as message 7,
//! fails authentication like any bit flip does.
//!
//! # Key hierarchy
//!
//! Each tenant has versioned data keys; records carry the version in clear
//! ([`sealed_key_version`]) so a reader can pick the key during rotation.
//! Data keys are stored only wrapped under the master key ([`wrap_key`],
//! 45 bytes: format `0x01` | nonce 12 | encrypted key 16 | tag 16), bound to
//! tenant and key version.
//!
//! This module is pure: nonces come in as arguments (draw them from
//! [`crate::ids::NonceSource`]); nothing here reads a clock or an RNG.
//!
//! [RFC 8998]: https://www.rfc-editor.org/rfc/rfc8998

mod gcm;
mod hash;
mod key;
#[cfg(feature = "sm4-par8")]
mod sm4_block;

#[cfg(test)]
mod kat;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

pub use gcm::{MAX_PLAINTEXT_LEN, Sm4Gcm};
pub use hash::{SM3_LEN, Sm3Hasher, hmac_sm3, sm3};
pub use key::Key;

use crate::error::{Error, Result};

/// SM4 key length in bytes.
pub const KEY_LEN: usize = 16;
/// GCM nonce length in bytes (RFC 8998: 96 bits).
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes (RFC 8998: 128 bits).
pub const TAG_LEN: usize = 16;

/// The format byte of records written by this build.
pub const RECORD_FORMAT: u8 = 1;
/// Bytes before the ciphertext: format, key version, nonce.
pub const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// Bytes a sealed record adds to its plaintext.
pub const SEALED_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// The format byte of wrapped data keys written by this build.
pub const WRAP_FORMAT: u8 = 1;
/// Length of a wrapped data key: format, nonce, encrypted key, tag.
pub const WRAPPED_KEY_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Domain label that starts every record AAD.
const RECORD_LABEL: &[u8] = b"kefu-rec";
/// Domain label that starts every key-wrapping AAD.
const WRAP_LABEL: &[u8] = b"kefu-dk";

/// What a sealed conversation record is bound to. It becomes the GCM AAD
/// (see [`RecordAad::to_bytes`]), so opening needs the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAad<'a> {
    /// The tenant that owns the record.
    pub tenant: &'a str,
    /// The conversation the record belongs to.
    pub conversation: &'a str,
    /// The record's position in the conversation.
    pub seq: u64,
    /// The version of the tenant's data key that seals the record.
    pub key_version: u32,
    /// What the record holds, e.g. `"msg"`, `"session"`, `"meta"`.
    pub kind: &'a str,
}

impl RecordAad<'_> {
    /// The canonical AAD bytes (all integers big-endian):
    ///
    /// ```text
    /// "kefu-rec" | format u8 | key_version u32 | seq u64
    ///   | len u64 | tenant | len u64 | conversation | len u64 | kind
    /// ```
    ///
    /// Every variable field is length-prefixed, so no two distinct
    /// `RecordAad`s encode to the same bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let strings = [self.tenant, self.conversation, self.kind];
        let len = strings.iter().fold(RECORD_LABEL.len() + 1 + 4 + 8, |n, s| {
            n.saturating_add(8).saturating_add(s.len())
        });
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(RECORD_LABEL);
        out.push(RECORD_FORMAT);
        out.extend_from_slice(&self.key_version.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        for s in strings {
            put_str(&mut out, s);
        }
        out
    }
}

/// Appends `s` with its length as a u64 prefix (lossless for any `usize`).
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Seals `plaintext` for `aad` under `key` (which must be the data key of
/// version `aad.key_version`) in the layout described in the module docs.
///
/// `nonce` must never repeat under one key: draw it from a
/// [`crate::ids::NonceSource`] backed by a real RNG. With random 96-bit
/// nonces, rotate the data key well before 2^32 records (NIST SP 800-38D
/// section 8.3).
///
/// # Panics
///
/// Only if `plaintext` exceeds [`MAX_PLAINTEXT_LEN`] (64 GiB); [`try_seal`]
/// returns an error instead.
#[must_use]
pub fn seal(key: &Key, nonce: [u8; NONCE_LEN], aad: &RecordAad<'_>, plaintext: &[u8]) -> Vec<u8> {
    match try_seal(key, nonce, aad, plaintext) {
        Ok(sealed) => sealed,
        Err(_) => gcm::too_long(),
    }
}

/// [`seal`] that reports an over-long plaintext as [`Error::TooLarge`]
/// instead of panicking.
pub fn try_seal(
    key: &Key,
    nonce: [u8; NONCE_LEN],
    aad: &RecordAad<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len().saturating_add(SEALED_OVERHEAD));
    out.push(RECORD_FORMAT);
    out.extend_from_slice(&aad.key_version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = Sm4Gcm::new(key).encrypt_in_place_detached(
        &nonce,
        &aad.to_bytes(),
        &mut out[HEADER_LEN..],
    )?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a record made by [`seal`]. Any failure is [`Error::Unseal`]:
/// truncated input, an unknown format byte, a key version in the record
/// other than `aad.key_version`, the wrong key, a different AAD, or any
/// modified byte.
pub fn open(key: &Key, aad: &RecordAad<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
    let parts = split_record(sealed).ok_or(Error::Unseal)?;
    if parts.format != RECORD_FORMAT || parts.key_version != aad.key_version {
        return Err(Error::Unseal);
    }
    let mut out = parts.ciphertext.to_vec();
    Sm4Gcm::new(key).decrypt_in_place_detached(
        &parts.nonce,
        &aad.to_bytes(),
        &mut out,
        &parts.tag,
    )?;
    Ok(out)
}

/// The key version a sealed record names in its header, so the caller can
/// fetch that data key before [`open`]. Unauthenticated until `open`
/// succeeds. Fails with [`Error::Decode`] on input too short to be a record
/// and [`Error::UnsupportedVersion`] on an unknown format byte.
pub fn sealed_key_version(sealed: &[u8]) -> Result<u32> {
    let parts = split_record(sealed)
        .ok_or_else(|| Error::Decode("sealed record shorter than its header and tag".into()))?;
    if parts.format != RECORD_FORMAT {
        return Err(Error::UnsupportedVersion {
            found: parts.format,
            supported: RECORD_FORMAT,
        });
    }
    Ok(parts.key_version)
}

/// The fields of a sealed record, borrowed.
struct RecordParts<'a> {
    format: u8,
    key_version: u32,
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
    tag: [u8; TAG_LEN],
}

/// Splits `sealed` at the layout's offsets; `None` if it is too short.
fn split_record(sealed: &[u8]) -> Option<RecordParts<'_>> {
    let (&format, rest) = sealed.split_first()?;
    let (version, rest) = rest.split_first_chunk::<4>()?;
    let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>()?;
    let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>()?;
    Some(RecordParts {
        format,
        key_version: u32::from_be_bytes(*version),
        nonce: *nonce,
        ciphertext,
        tag: *tag,
    })
}

/// The AAD that binds a wrapped data key to its tenant and version:
/// `"kefu-dk" | format u8 | len u64 | tenant | key_version u32` (big-endian).
fn wrap_aad(tenant: &str, key_version: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRAP_LABEL.len() + 1 + 8 + tenant.len() + 4);
    out.extend_from_slice(WRAP_LABEL);
    out.push(WRAP_FORMAT);
    put_str(&mut out, tenant);
    out.extend_from_slice(&key_version.to_be_bytes());
    out
}

/// Wraps `data_key` under `master` for storage: [`WRAPPED_KEY_LEN`] bytes,
/// `format 0x01 | nonce 12 | encrypted key 16 | tag 16`, bound to `tenant`
/// and `key_version`. `nonce` must never repeat under `master`.
#[must_use]
pub fn wrap_key(
    master: &Key,
    nonce: [u8; NONCE_LEN],
    tenant: &str,
    key_version: u32,
    data_key: &Key,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
    out.push(WRAP_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(data_key.expose());
    // 16 bytes are far below GCM's limit, so this cannot fail.
    match Sm4Gcm::new(master).encrypt_in_place_detached(
        &nonce,
        &wrap_aad(tenant, key_version),
        &mut out[1 + NONCE_LEN..],
    ) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => gcm::too_long(),
    }
    out
}

/// Recovers a data key wrapped by [`wrap_key`]. Fails with
/// [`Error::Unseal`] on the wrong length or format, the wrong master key,
/// another tenant or key version, or any modified byte.
pub fn unwrap_key(master: &Key, tenant: &str, key_version: u32, wrapped: &[u8]) -> Result<Key> {
    let wrapped: &[u8; WRAPPED_KEY_LEN] = wrapped.try_into().map_err(|_| Error::Unseal)?;
    let (&format, rest) = wrapped.split_first().ok_or(Error::Unseal)?;
    let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or(Error::Unseal)?;
    let (ct, tag) = rest.split_first_chunk::<KEY_LEN>().ok_or(Error::Unseal)?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Unseal)?;
    if format != WRAP_FORMAT {
        return Err(Error::Unseal);
    }
    let mut bytes = *ct;
    let opened = Sm4Gcm::new(master).decrypt_in_place_detached(
        nonce,
        &wrap_aad(tenant, key_version),
        &mut bytes,
        tag,
    );
    let key = Key::from_bytes(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    opened.map(|()| key)
}
