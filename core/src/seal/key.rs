//! [`Key`]: 128-bit SM4 key material that wipes itself and never prints.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::KEY_LEN;
use crate::error::{Error, Result};
use crate::ids::NonceSource;

/// A 128-bit SM4 key (a data key or a master key).
///
/// The bytes are zeroized when the value is dropped, clones included. `Debug`
/// prints `Key(..)` and nothing else, so a key inside a logged struct stays
/// secret. There is deliberately no `Display`, `PartialEq` or serde support:
/// the only way out is [`Key::expose`], and the only way to persist a data
/// key is [`super::wrap_key`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key {
    bytes: [u8; KEY_LEN],
}

impl Key {
    /// Takes ownership of raw key bytes. The caller should zeroize its own copy.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key { bytes }
    }

    /// Parses 32 hex digits (either case, no separators), e.g. a master key
    /// read from an environment variable or a secrets file.
    ///
    /// Surrounding ASCII whitespace (a trailing newline in a file) is ignored.
    /// The error never echoes the input.
    pub fn from_hex(s: &str) -> Result<Key> {
        let digits = s.trim_ascii().as_bytes();
        if digits.len() != 2 * KEY_LEN {
            return Err(Error::InvalidKey("expected 32 hex digits"));
        }
        let mut key = Key {
            bytes: [0; KEY_LEN],
        };
        for (out, pair) in key.bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                // `key` is dropped (and zeroized) on this path.
                return Err(Error::InvalidKey("not a hex digit"));
            };
            *out = (hi << 4) | lo;
        }
        Ok(key)
    }

    /// Draws a fresh key from `rng` (the OS RNG in the regional service).
    #[must_use]
    pub fn generate(rng: &mut impl NonceSource) -> Key {
        let mut key = Key {
            bytes: [0; KEY_LEN],
        };
        rng.fill(&mut key.bytes);
        key
    }

    /// The raw bytes. Only for handing the key to a cipher or to
    /// [`super::wrap_key`]; never log, serialise or compare them directly.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The value of one ASCII hex digit. Branches on the digit, which is secret:
/// fine for a key parsed once at start-up, not for a hot path.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CounterNonces;
    use alloc::format;
    use hex_literal::hex;

    #[test]
    fn from_hex_reads_both_cases_and_trims_a_trailing_newline() {
        let k = Key::from_hex("0123456789abcdefFEDCBA9876543210\n").unwrap();
        assert_eq!(k.expose(), &hex!("0123456789abcdeffedcba9876543210"));
    }

    #[test]
    fn from_hex_rejects_bad_length_and_non_hex_without_echoing_input() {
        for bad in [
            "",
            "0123456789abcdeffedcba987654321",
            "0123456789abcdeffedcba98765432100",
            "0123456789abcdeffedcba987654321g",
            "0x23456789abcdeffedcba9876543210",
            "0123456789abcdef fedcba987654321",
        ] {
            let err = Key::from_hex(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidKey(_)), "{bad:?}: {err:?}");
            if bad.len() > 4 {
                assert!(!format!("{err}").contains(&bad[..8]), "error echoes key");
            }
        }
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let bytes = hex!("0123456789abcdeffedcba9876543210");
        let k = Key::from_bytes(bytes);
        let shown = format!("{k:?} {k:#?}");
        assert_eq!(format!("{k:?}"), "Key(..)");
        let lower = hex::encode(bytes);
        let upper = lower.to_uppercase();
        assert!(!shown.contains(&lower[..8]) && !shown.contains(&upper[..8]));
        // Nor as the decimal bytes a derived Debug would print.
        assert!(!shown.contains("35, 69"), "{shown}");
    }

    #[test]
    fn generate_draws_from_the_source_and_differs_per_draw() {
        let mut rng = CounterNonces::default();
        let a = Key::generate(&mut rng);
        let b = Key::generate(&mut rng);
        assert_eq!(a.expose()[15], 1);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn zeroize_wipes_the_bytes() {
        let mut k = Key::from_bytes([0xa5; KEY_LEN]);
        k.zeroize();
        assert_eq!(k.expose(), &[0; KEY_LEN]);
    }
}
