//! The answer cache: question normalisation, the scoped [`CacheKey`], the
//! TTL'd LRU [`AnswerCache`], and the rule for what may be cached.
//!
//! A cached answer is only ever served to the tenant, knowledge-base version
//! and locale it was produced for: those three are part of every key, and the
//! key type cannot be built without them. A new KB version therefore starts
//! with an empty cache by construction; old entries age out.
//!
//! - [`normalize_question`]: NFKC, case, punctuation, particles and fillers.
//! - [`CacheKey`]: tenant + KB version + locale + SM3 of the normalised question.
//! - [`AnswerCache`]: in-memory LRU ([`lru`] crate) with per-entry TTL.
//! - [`cacheability`]: whether one answered turn may be stored.

mod normalize;
mod policy;
mod store;

use alloc::string::String;
use core::fmt::{self, Write as _};
use sm3::{Digest, Sm3};

use crate::types::{KbVersion, Locale, TenantId};

pub use normalize::normalize_question;
pub use policy::{
    CacheCandidate, Cacheable, NotCacheable, cacheability, is_standalone, source_cacheable,
};
pub use store::AnswerCache;

/// Version of the key format *and* of the normalisation it hashes; bumped
/// whenever either changes, so old and new keys never alias.
pub const KEY_VERSION: u8 = 1;

/// Domain separation for the question digest.
const DIGEST_DOMAIN: &[u8] = b"kefu/answer-cache/v1\0";

/// The key of one cached answer: tenant, knowledge-base version, locale and a
/// 128-bit SM3 digest of the normalised question.
///
/// The only constructor is [`CacheKey::new`], so a key without a tenant or KB
/// version cannot exist. The question itself is not kept: keys can be logged
/// and stored at the edge without holding conversation text. (A digest of a
/// short question can still be confirmed by someone who guesses the question;
/// keys are not secrets.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    tenant: TenantId,
    kb: KbVersion,
    locale: Locale,
    digest: [u8; 16],
}

impl CacheKey {
    /// Builds the key for `question` (normalised here) as asked of `tenant`'s
    /// knowledge base `kb` in `locale`.
    pub fn new(tenant: &TenantId, kb: KbVersion, locale: Locale, question: &str) -> CacheKey {
        let normalized = normalize_question(question);
        let full = Sm3::new()
            .chain_update(DIGEST_DOMAIN)
            .chain_update(normalized.as_bytes())
            .finalize();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        CacheKey {
            tenant: tenant.clone(),
            kb,
            locale,
            digest,
        }
    }

    /// The tenant this key belongs to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The knowledge-base version the answer was produced from.
    pub fn kb_version(&self) -> KbVersion {
        self.kb
    }

    /// The locale of the question.
    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// The first 128 bits of SM3(domain || normalised question).
    pub fn question_digest(&self) -> [u8; 16] {
        self.digest
    }

    /// The stable text form for a KV store:
    /// `ac1:{tenant}:{kb version}:{locale}:{32 hex digits}`.
    ///
    /// At most 125 bytes. It reads back unambiguously from the right (the
    /// last three fields are a decimal number, `zh`/`en` and fixed-width
    /// hex), so tenant ids containing `:` cannot collide with each other.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(48 + self.tenant.as_str().len());
        let _ = write!(s, "{self}");
        s
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ac{KEY_VERSION}:{}:{}:{}:",
            self.tenant,
            self.kb.0,
            self.locale.as_str()
        )?;
        self.digest.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[test]
    fn equivalent_questions_share_a_key() {
        let t = tenant("acme");
        let k = |q| CacheKey::new(&t, KbVersion(7), Locale::Zh, q);
        assert_eq!(k("可以退款吗？"), k("你好，可以退款"));
        assert_eq!(k("ＨＯＷ to refund"), k("how to refund please"));
        assert_ne!(k("可以退款吗"), k("可以换货吗"));
    }

    #[test]
    fn scope_is_part_of_the_key() {
        let q = "怎么退款";
        let base = CacheKey::new(&tenant("acme"), KbVersion(7), Locale::Zh, q);
        let others = [
            CacheKey::new(&tenant("globex"), KbVersion(7), Locale::Zh, q),
            CacheKey::new(&tenant("acme"), KbVersion(8), Locale::Zh, q),
            CacheKey::new(&tenant("acme"), KbVersion(7), Locale::En, q),
        ];
        for o in &others {
            assert_ne!(&base, o);
            assert_ne!(base.encode(), o.encode());
        }
    }

    #[test]
    fn encoding_is_stable_bounded_and_plaintext_free() {
        let q = "我的快递到哪里了";
        let k = CacheKey::new(&tenant("acme"), KbVersion(42), Locale::Zh, q);
        let e = k.encode();
        // Golden value, computed independently with Python's hashlib (OpenSSL
        // SM3, GB/T 32905-2016) over b"kefu/answer-cache/v1\0" + the UTF-8 of
        // the question, which normalisation leaves unchanged. If this changes,
        // bump KEY_VERSION.
        assert_eq!(normalize_question(q), q);
        assert_eq!(e, "ac1:acme:42:zh:c6605a2e52db0d7984717033cf8b455f");
        assert_eq!(e, alloc::format!("{k}"));
        assert_eq!(
            hex::encode(k.question_digest()),
            "c6605a2e52db0d7984717033cf8b455f"
        );
        assert!(!e.contains("快递") && !alloc::format!("{k:?}").contains("快递"));
        let long = CacheKey::new(
            &tenant(&"t".repeat(64)),
            KbVersion(u64::MAX),
            Locale::En,
            &"问".repeat(10_000),
        );
        assert!(long.encode().len() <= 125, "{}", long.encode().len());
    }

    #[test]
    fn separators_in_tenant_ids_do_not_collide() {
        let q = "refund";
        let a = CacheKey::new(&tenant("a:1"), KbVersion(2), Locale::En, q).encode();
        let b = CacheKey::new(&tenant("a"), KbVersion(12), Locale::En, q).encode();
        let c = CacheKey::new(&tenant("a:1:2"), KbVersion(2), Locale::En, q).encode();
        assert!(a != b && a != c && b != c);
    }
}
