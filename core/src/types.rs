//! Small identifiers shared across modules.
//!
//! Ids are validated once, at construction: non-empty, at most
//! [`MAX_ID_LEN`] bytes, printable ASCII without whitespace. That keeps them
//! safe to use in store keys, cache keys and log lines.

use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The longest id kefu accepts, in bytes.
pub const MAX_ID_LEN: usize = 64;

fn check_id(s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::Invalid("id is empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(Error::Invalid("id longer than 64 bytes"));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid("id must be printable ASCII without spaces"));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn new(s: impl Into<String>) -> Result<Self> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A tenant: one business using kefu.
    TenantId
);
id_type!(
    /// One conversation of one visitor with one tenant.
    ConversationId
);
id_type!(
    /// A visitor as the widget (or the host page, when signed) identifies them.
    VisitorId
);

/// A published, immutable knowledge-base version. 0 means "none published".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct KbVersion(pub u64);

/// The language a visitor writes in, as far as kefu cares.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// Chinese (simplified or traditional).
    Zh,
    /// English, and the fallback for anything else.
    #[default]
    En,
}

impl Locale {
    /// Guesses the locale of a message: Chinese if at least one CJK ideograph
    /// makes up a fifth of its letters, English otherwise.
    pub fn detect(text: &str) -> Locale {
        let (mut cjk, mut letters) = (0usize, 0usize);
        for c in text.chars() {
            if is_cjk(c) {
                cjk += 1;
                letters += 1;
            } else if c.is_alphabetic() {
                letters += 1;
            }
        }
        if cjk > 0 && cjk * 5 >= letters {
            Locale::Zh
        } else {
            Locale::En
        }
    }

    /// The short tag used in keys and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Zh => "zh",
            Locale::En => "en",
        }
    }
}

/// Whether `c` is a CJK unified ideograph (basic block or extension A).
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(TenantId::new("acme").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a b").is_err());
        assert!(TenantId::new("x".repeat(65)).is_err());
        assert!(TenantId::new("租户").is_err());
    }

    #[test]
    fn locale_detection() {
        assert_eq!(Locale::detect("我忘记密码了怎么办"), Locale::Zh);
        assert_eq!(Locale::detect("how do I get a refund"), Locale::En);
        assert_eq!(Locale::detect("我的order还没到"), Locale::Zh);
        assert_eq!(Locale::detect("12345"), Locale::En);
    }
}
