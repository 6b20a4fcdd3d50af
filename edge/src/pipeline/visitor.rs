//! Visitor identity: the host page's server signs the visitor id with the
//! tenant's visitor key, `visitor_sig = hex(HMAC(visitor_key, visitor_id))`
//! (HMAC per [RFC 2104]; SHA-256 or SM3 as the tenant config says), and the
//! widget passes it along. The edge checks it in constant time.
//!
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104

use hmac::{Hmac, KeyInit, Mac};
use kefu_core::VisitorId;
use kefu_core::wire::{TenantConfig, VisitorSigAlg};
use sha2::Sha256;
use sm3::Sm3;

use crate::Error;

/// Checks `sig` for `visitor` under `config`. A tenant that does not require
/// signed visitors accepts a missing signature; a signature that is present
/// is checked whenever the tenant has a key, so a wrong one never passes.
pub fn check(config: &TenantConfig, visitor: &VisitorId, sig: Option<&str>) -> Result<(), Error> {
    match (sig, &config.visitor_key) {
        (None, _) if !config.require_signed_visitor => Ok(()),
        (Some(_), None) if !config.require_signed_visitor => Ok(()),
        (Some(sig), Some(key)) if verify(config.visitor_sig_alg, key, visitor, sig) => Ok(()),
        _ => Err(Error::BadVisitorSignature),
    }
}

fn verify(alg: VisitorSigAlg, key: &[u8], visitor: &VisitorId, sig_hex: &str) -> bool {
    let Some(tag) = unhex(sig_hex) else {
        return false;
    };
    let msg = visitor.as_str().as_bytes();
    match alg {
        VisitorSigAlg::HmacSha256 => <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map(|m| m.chain_update(msg).verify_slice(&tag).is_ok())
            .unwrap_or(false),
        VisitorSigAlg::HmacSm3 => <Hmac<Sm3> as KeyInit>::new_from_slice(key)
            .map(|m| m.chain_update(msg).verify_slice(&tag).is_ok())
            .unwrap_or(false),
    }
}

/// 64 hex digits (either case) as 32 bytes.
fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let pair = core::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Signs `visitor` as a tenant's server would; for tests and examples.
pub fn sign(alg: VisitorSigAlg, key: &[u8], visitor: &str) -> String {
    let tag: Vec<u8> = match alg {
        VisitorSigAlg::HmacSha256 => <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map(|m| {
                m.chain_update(visitor.as_bytes())
                    .finalize()
                    .into_bytes()
                    .to_vec()
            })
            .unwrap_or_default(),
        VisitorSigAlg::HmacSm3 => <Hmac<Sm3> as KeyInit>::new_from_slice(key)
            .map(|m| {
                m.chain_update(visitor.as_bytes())
                    .finalize()
                    .into_bytes()
                    .to_vec()
            })
            .unwrap_or_default(),
    };
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (HMAC-SHA256, key "Jefe"): the signing half is
    /// the standard construction, so any web stack's HMAC agrees with it.
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        assert_eq!(
            sign(
                VisitorSigAlg::HmacSha256,
                b"Jefe",
                "what do ya want for nothing?"
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_verify_only_for_their_visitor_key_and_alg() {
        let key = b"tenant-visitor-key-0123456789";
        let v = VisitorId::new("u-1001").unwrap();
        for alg in [VisitorSigAlg::HmacSha256, VisitorSigAlg::HmacSm3] {
            let sig = sign(alg, key, "u-1001");
            assert!(verify(alg, key, &v, &sig));
            assert!(verify(alg, key, &v, &sig.to_uppercase()));
            assert!(!verify(alg, b"another-key-0123456789", &v, &sig));
            assert!(!verify(alg, key, &VisitorId::new("u-1002").unwrap(), &sig));
            assert!(!verify(alg, key, &v, &sig[..62]));
            assert!(!verify(alg, key, &v, &format!("{}zz", &sig[..62])));
        }
        let a = sign(VisitorSigAlg::HmacSha256, key, "u-1001");
        assert!(!verify(VisitorSigAlg::HmacSm3, key, &v, &a));
    }
}
