//! Checks of single config values: booleans, ranges, secret files, the
//! master key and operator tokens. Each error names the value's origin and
//! never repeats a secret.

use std::fmt;
use std::path::Path;

use super::{ConfigError, Secret, err};
use crate::crypto::Key;

pub(super) fn parse_bool(origin: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(err(
            origin,
            format!("`{other}` is not a boolean (use 1/0, true/false)"),
        )),
    }
}

pub(super) fn positive<T: PartialOrd + Default + fmt::Display>(
    origin: &str,
    v: T,
    max: T,
) -> Result<T, ConfigError> {
    if v <= T::default() || v > max {
        return Err(err(origin, format!("{v} is out of range (1..={max})")));
    }
    Ok(v)
}

pub(super) fn read_secret_file(origin: &str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| err(origin, format!("cannot read {}: {e}", path.display())))
}

/// Parses a master key given as 32 hex digits; the message never echoes it.
pub fn parse_master_key(origin: &str, hex_key: &str) -> Result<Key, ConfigError> {
    let s = hex_key.trim();
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(
            origin,
            format!(
                "must be exactly 32 hex digits (a 128-bit SM4 key); got {} characters{}",
                s.chars().count(),
                if s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    ""
                } else {
                    ", not all hex"
                }
            ),
        ));
    }
    let key = Key::from_hex(s).map_err(|_| err(origin, "is not valid hex"))?;
    if key.expose().iter().all(|&b| b == 0) {
        return Err(err(
            origin,
            "is all zeros; generate a random key (e.g. `openssl rand -hex 16`)",
        ));
    }
    Ok(key)
}

pub(super) fn check_token(origin: &str, t: &str) -> Result<Secret, ConfigError> {
    if t.chars().count() < 16 {
        return Err(err(origin, "operator token must be at least 16 characters"));
    }
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(
            origin,
            "operator token must be printable ASCII without spaces",
        ));
    }
    Ok(Secret::new(t.to_owned()))
}
