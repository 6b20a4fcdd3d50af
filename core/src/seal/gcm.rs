//! [`Sm4Gcm`]: raw SM4-GCM as profiled by [RFC 8998] (12-byte
//! nonce, 16-byte tag).
//!
//! GCM itself ([NIST SP 800-38D]) comes from RustCrypto's `aes-gcm`, whose
//! `AesGcm<C, U12>` is generic over any 128-bit block cipher speaking
//! `cipher` 0.5. The block cipher is RustCrypto `sm4` by default; with the
//! `sm4-par8` feature it is kefu's 8-way table backend (`sm4_block.rs`,
//! checked against `sm4`), about twice as fast (see BENCHMARKS.md).
//!
//! [RFC 8998]: https://www.rfc-editor.org/rfc/rfc8998
//! [NIST SP 800-38D]: https://csrc.nist.gov/pubs/sp/800/38/d/final

use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use aes_gcm::{AesGcm, KeyInit};

#[cfg(feature = "sm4-par8")]
use super::sm4_block::Sm4Cipher;
use super::{Key, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
#[cfg(not(feature = "sm4-par8"))]
use sm4::Sm4 as Sm4Cipher;

/// GCM's upper bound on one message: 2^36 - 32 bytes (NIST SP 800-38D 5.2.1.1),
/// where the 32-bit block counter would wrap.
pub const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

/// SM4-GCM with a 96-bit nonce and a 128-bit tag, keyed once and reusable.
///
/// Holds the SM4 round keys and the GHASH key, both zeroized on drop.
/// Never encrypt two messages under the same key with the same nonce.
#[derive(Clone)]
pub struct Sm4Gcm {
    inner: AesGcm<Sm4Cipher, U12>,
}

impl Sm4Gcm {
    /// Expands `key` (SM4 key schedule plus the GHASH key `H = E_K(0^128)`).
    #[must_use]
    pub fn new(key: &Key) -> Self {
        Sm4Gcm {
            inner: AesGcm::new(key.expose().into()),
        }
    }

    /// Encrypts `pt` and returns `ciphertext || tag` (`pt.len() + 16` bytes).
    ///
    /// # Panics
    ///
    /// Only if `pt` is longer than [`MAX_PLAINTEXT_LEN`] (64 GiB), where GCM
    /// is undefined. Use [`Sm4Gcm::encrypt_in_place_detached`] to get an
    /// error instead.
    #[must_use]
    pub fn encrypt(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], pt: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pt.len().saturating_add(TAG_LEN));
        out.extend_from_slice(pt);
        match self.encrypt_in_place_detached(nonce, aad, &mut out) {
            Ok(tag) => out.extend_from_slice(&tag),
            Err(_) => too_long(),
        }
        out
    }

    /// Verifies and decrypts `ciphertext || tag`. Fails with
    /// [`Error::Unseal`] if the input is shorter than a tag or does not
    /// authenticate under this key, nonce and `aad`; no plaintext is released
    /// on failure.
    pub fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ct_and_tag: &[u8],
    ) -> Result<Vec<u8>> {
        let Some(ct_len) = ct_and_tag.len().checked_sub(TAG_LEN) else {
            return Err(Error::Unseal);
        };
        let (ct, tag) = ct_and_tag.split_at(ct_len);
        let mut tag_arr = [0u8; TAG_LEN];
        tag_arr.copy_from_slice(tag);
        let mut out = ct.to_vec();
        self.decrypt_in_place_detached(nonce, aad, &mut out, &tag_arr)?;
        Ok(out)
    }

    /// Encrypts `buf` in place and returns the tag. Fails with
    /// [`Error::TooLarge`] above [`MAX_PLAINTEXT_LEN`].
    pub fn encrypt_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .inner
            .encrypt_inout_detached(nonce.into(), aad, buf.into())
            .map_err(|_| Error::TooLarge("SM4-GCM message longer than 2^36 - 32 bytes"))?;
        Ok(tag.into())
    }

    /// Verifies `tag` over `aad` and the ciphertext in `buf` (in constant
    /// time), then decrypts `buf` in place. On failure `buf` is left as the
    /// untouched ciphertext and the result is [`Error::Unseal`].
    pub fn decrypt_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        self.inner
            .decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
            .map_err(|_| Error::Unseal)
    }
}

impl fmt::Debug for Sm4Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4Gcm { .. }")
    }
}

/// The one documented panic of the infallible `encrypt`/`seal` shapes: a
/// message GCM cannot carry. Unreachable from any bounded request body.
#[cold]
#[track_caller]
pub(super) fn too_long() -> ! {
    panic!("SM4-GCM message longer than 2^36 - 32 bytes")
}
