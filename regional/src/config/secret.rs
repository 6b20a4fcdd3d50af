//! Secrets in config: wrapped so `Debug` and `Display` never show them, and
//! zeroized when dropped.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string (the operator token). `Debug` prints `Secret(<redacted>)`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }

    /// The secret itself, for the one place that must compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented credential.
    pub fn matches(&self, presented: &str) -> bool {
        // ct_eq on slices of different lengths returns false without
        // looking at the contents; length is not secret here.
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2-operator-token".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(s.matches("hunter2-operator-token"));
        assert!(!s.matches("hunter2-operator-tokeX"));
        assert!(!s.matches("hunter2"));
    }
}
