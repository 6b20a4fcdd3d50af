//! HMAC-SM3 request signatures.
//!
//! The MAC is HMAC ([RFC 2104](https://www.rfc-editor.org/rfc/rfc2104)) over
//! SM3 (GB/T 32905-2016), keyed with a secret shared by the edge and the
//! regional service, over this canonical string (UTF-8, `\n` separated, no
//! trailing newline):
//!
//! ```text
//! kefu-hmac-sm3-v1
//! <byte length of path>:<path>
//! <timestamp, ms since the Unix epoch, decimal>
//! <nonce, 32 lowercase hex digits>
//! <SM3 of the body, 64 lowercase hex digits>
//! ```
//!
//! The path is length-prefixed, so no path (even one holding `\n`) can make
//! two different requests share a canonical string. The header
//! ([`SIGNATURE_HEADER`]) is `v1,t=<ms>,n=<nonce hex>,s=<mac hex>`.

use alloc::string::String;
use core::fmt::{self, Write};

use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;

use super::ReplayGuard;
use crate::{Error, Result};

/// The HTTP header that carries a [`Signature`].
pub const SIGNATURE_HEADER: &str = "x-kefu-signature";
/// The shortest signing key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// The suggested freshness window: a request's timestamp may differ from the
/// verifier's clock by at most this much, either way.
pub const DEFAULT_WINDOW_MS: u64 = 30_000;

const DOMAIN: &str = "kefu-hmac-sm3-v1";

/// A request signature: what the header carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// When the request was signed, ms since the Unix epoch.
    pub ts_ms: u64,
    /// 16 fresh bytes per request (from a [`crate::ids::NonceSource`]).
    pub nonce: [u8; 16],
    /// The HMAC-SM3 tag.
    pub mac: [u8; 32],
}

impl Signature {
    /// The header value, `v1,t=<ms>,n=<hex>,s=<hex>`.
    pub fn to_header(&self) -> String {
        let mut s = String::with_capacity(3 + 23 + 35 + 67);
        // Writing to a String cannot fail.
        let _ = write!(s, "{self}");
        s
    }

    /// Parses a header value. Strict: fields in order, lowercase hex, a
    /// decimal timestamp; anything else is [`Error::BadSignature`].
    pub fn parse(header: &str) -> Result<Signature> {
        let mut parts = header.split(',');
        let mut field = |prefix: &str| {
            parts
                .next()
                .and_then(|p| p.strip_prefix(prefix))
                .ok_or(Error::BadSignature)
        };
        if !field("v1")?.is_empty() {
            return Err(Error::BadSignature);
        }
        let t = field("t=")?;
        let (n, s) = (field("n=")?, field("s=")?);
        if parts.next().is_some() {
            return Err(Error::BadSignature);
        }
        if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::BadSignature);
        }
        Ok(Signature {
            ts_ms: t.parse().map_err(|_| Error::BadSignature)?,
            nonce: unhex(n)?,
            mac: unhex(s)?,
        })
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1,t={},n=", self.ts_ms)?;
        write_hex(f, &self.nonce)?;
        f.write_str(",s=")?;
        write_hex(f, &self.mac)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

fn write_hex(w: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(w, "{b:02x}"))
}

fn unhex<const N: usize>(s: &str) -> Result<[u8; N]> {
    fn nibble(c: u8) -> Result<u8> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(Error::BadSignature),
        }
    }
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return Err(Error::BadSignature);
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (nibble(*hi)? << 4) | nibble(*lo)?;
        }
    }
    Ok(out)
}

/// The SM3 digest of a body, as signed.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sm3::digest(body).into()
}

/// Feeds formatted text straight into the MAC, so signing never allocates.
struct MacWriter<'a>(&'a mut Hmac<Sm3>);

impl Write for MacWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

fn compute_mac(
    key: &[u8],
    ts_ms: u64,
    nonce: &[u8; 16],
    path: &str,
    body: &[u8],
) -> Result<[u8; 32]> {
    if key.len() < MIN_KEY_LEN {
        return Err(Error::InvalidKey("signing key shorter than 16 bytes"));
    }
    let mut mac = <Hmac<Sm3> as KeyInit>::new_from_slice(key)
        .map_err(|_| Error::InvalidKey("HMAC-SM3 key"))?;
    let mut w = MacWriter(&mut mac);
    let canonical = write!(w, "{DOMAIN}\n{}:{path}\n{ts_ms}\n", path.len())
        .and_then(|()| write_hex(&mut w, nonce))
        .and_then(|()| w.write_char('\n'))
        .and_then(|()| write_hex(&mut w, &body_digest(body)));
    // MacWriter never fails; keep the check rather than ignore a result.
    canonical.map_err(|_| Error::Encode(String::from("canonical string")))?;
    Ok(mac.finalize().into_bytes().into())
}

/// Signs a request to `path` with `body` at `ts_ms` with a fresh `nonce`.
/// Fails only on a key shorter than [`MIN_KEY_LEN`].
pub fn sign(
    key: &[u8],
    ts_ms: u64,
    nonce: &[u8; 16],
    path: &str,
    body: &[u8],
) -> Result<Signature> {
    Ok(Signature {
        ts_ms,
        nonce: *nonce,
        mac: compute_mac(key, ts_ms, nonce, path, body)?,
    })
}

/// Verifies a signed request, in this order:
/// 1. the header parses, else [`Error::BadSignature`];
/// 2. its timestamp is within `window_ms` of `now_ms`, either way, else
///    [`Error::Stale`];
/// 3. the MAC matches (constant-time compare), else [`Error::BadSignature`];
/// 4. the nonce is new to `guard`, else [`Error::Replay`]; it is then
///    remembered until `ts + window_ms`. A full guard fails closed with
///    [`Error::TooLarge`] (see [`ReplayGuard`]).
///
/// Only authenticated requests reach the guard, so forged ones cannot fill it.
pub fn verify(
    key: &[u8],
    header: &str,
    path: &str,
    body: &[u8],
    now_ms: u64,
    window_ms: u64,
    guard: &mut ReplayGuard,
) -> Result<()> {
    if key.len() < MIN_KEY_LEN {
        return Err(Error::InvalidKey("signing key shorter than 16 bytes"));
    }
    let sig = Signature::parse(header)?;
    if now_ms.abs_diff(sig.ts_ms) > window_ms {
        return Err(Error::Stale);
    }
    let expected = compute_mac(key, sig.ts_ms, &sig.nonce, path, body)?;
    if !bool::from(expected.ct_eq(&sig.mac)) {
        return Err(Error::BadSignature);
    }
    guard.check_and_insert(&sig.nonce, sig.ts_ms.saturating_add(window_ms), now_ms)
}
