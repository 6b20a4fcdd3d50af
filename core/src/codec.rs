//! The bounded MessagePack layer every kefu decoder goes through.
//!
//! Format: [MessagePack](https://github.com/msgpack/msgpack/blob/master/spec.md),
//! structs as maps keyed by field name. [`encode`] writes byte-for-byte what
//! `rmp_serde::to_vec_named` writes (smallest integer and length forms, unit
//! enum variants as strings; `codec/ser.rs` lists the rules), which the codec,
//! session and wire tests pin against `rmp_serde` itself.
//!
//! [`decode`] runs in two passes:
//!
//! 1. [`scan`], a pre-scan over a checked slice cursor that classifies each
//!    marker with `rmp`'s low-level `Marker::from_u8`. It walks the
//!    input iteratively (an explicit stack of at most `max_depth` counters, no
//!    recursion) and checks that: the input is at most `max_bytes`; nesting
//!    stays within `max_depth`; every declared length fits in the bytes that
//!    remain (a string or binary of `n` bytes needs `n` bytes, an array of `n`
//!    elements at least `n`, a map of `n` pairs at least `2n`); each string,
//!    binary, array and map is within its bound; there is exactly one value
//!    and no trailing byte; and the reserved marker `0xc1` never appears.
//! 2. `serde` deserialisation by this module's own small deserializer
//!    (`codec/de.rs`: a slice cursor, strings borrowed from the input, markers
//!    classified by `rmp::Marker`), which now only sees input whose shape is
//!    already bounded. It recurses at most 128 levels whatever `max_depth`
//!    says, and skips unknown fields without visiting them. (It replaced
//!    `messagepack-serde`'s deserializer, which made decoding a session
//!    about 1.3× slower; see `benches/session.rs`.)
//!
//! Allocation bound: `scan` allocates one `Vec` of at most `max_depth`
//! counters. After it passes, every collection's declared length is at most
//! the input length, and `serde` pre-allocates no more than that
//! ("cautious" size hints, themselves capped at 1 MiB per collection). Every
//! collection element and every map entry consumes at least one input byte,
//! and every decoded string or byte buffer is a copy of input bytes. So a
//! decode allocates `O(len)`: at most `2 × len × (1 + S)` bytes, where `S` is
//! the largest `size_of` of an element type the target collects (a `Turn` for
//! sessions, 96 bytes on 64-bit targets), and the factor 2 is `Vec` growth; a target
//! using serde's buffering (`untagged`, `flatten`), which kefu's types do not,
//! counts serde's `Content` node as an element type too. Since
//! `len <= max_bytes`, it is never more than `2 × max_bytes × (1 + S)`. Hostile input (truncated,
//! `0xdd ffffffff`, 100 000-deep nesting, wrong types, trailing garbage) ends
//! in [`Error::Decode`] or [`Error::TooLarge`] before any large allocation.
//!
//! Error messages never quote input: `serde`'s messages (which can quote a
//! string value) are passed through [`sanitize`] first, so conversation text
//! cannot leak into a log line through an error.

use alloc::string::String;
use alloc::vec::Vec;

use rmp::Marker;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};
use cursor::{Cursor, Item};

/// Bounds applied to untrusted MessagePack input before it is deserialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The whole input, in bytes.
    pub max_bytes: usize,
    /// Containers (arrays, maps) open at once; a top-level map is depth 1.
    pub max_depth: usize,
    /// One string, in bytes.
    pub max_str_len: usize,
    /// One binary or extension payload, in bytes.
    pub max_bin_len: usize,
    /// Elements of one array.
    pub max_array_len: usize,
    /// Key/value pairs of one map.
    pub max_map_len: usize,
}

impl DecodeLimits {
    /// The defaults: 1 MiB input, depth 32, 64 KiB strings, 256 KiB binaries,
    /// 4096-element arrays, 1024-pair maps.
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_bytes: 1 << 20,
        max_depth: 32,
        max_str_len: 64 << 10,
        max_bin_len: 256 << 10,
        max_array_len: 4096,
        max_map_len: 1024,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Encodes `v` as MessagePack, structs as maps keyed by field name.
pub fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    encode_into(v, &mut buf)?;
    Ok(buf)
}

/// Appends the encoding of `v` to `buf`: lets a caller reuse one buffer, or
/// size it up front, instead of growing a fresh `Vec` per message. On error
/// `buf` may hold a partial encoding after its original contents.
pub fn encode_into<T: Serialize + ?Sized>(v: &T, buf: &mut Vec<u8>) -> Result<()> {
    v.serialize(&mut ser::Ser(buf))
        .map_err(|e| Error::Encode(sanitize(&e)))
}

/// Decodes one value of type `T` from `bytes`, after [`scan`] has checked
/// `bytes` against `limits`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limits: &DecodeLimits) -> Result<T> {
    scan(bytes, limits)?;
    decode_scanned(bytes)
}

/// The second pass of [`decode`] alone, for callers that have just run
/// [`scan`] on `bytes` themselves (to read the version in between).
pub(crate) fn decode_scanned<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut de = de::De::new(bytes);
    let value = T::deserialize(&mut de).map_err(|e| Error::Decode(sanitize(&e)))?;
    de.end().map_err(|e| Error::Decode(sanitize(&e)))?;
    Ok(value)
}

impl From<cursor::Fault> for Error {
    fn from(f: cursor::Fault) -> Error {
        Error::Decode(String::from(f.message()))
    }
}

/// The iterative pre-scan described in the module docs. Succeeds only if
/// `bytes` holds exactly one MessagePack value within `limits`.
pub fn scan(bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge("message longer than max_bytes"));
    }
    let mut cur = Cursor::new(bytes);
    let mut open = Open {
        left: 1,
        outer: Vec::new(),
    };
    loop {
        while open.left == 0 {
            match open.outer.pop() {
                Some(outer) => open.left = outer,
                None if cur.remaining() == 0 => return Ok(()),
                None => return Err(Error::Decode(String::from("trailing bytes after value"))),
            }
        }
        open.left -= 1;
        match cur.item()?.1 {
            Item::Scalar(n) => {
                cur.take(n)?;
            }
            Item::Str(n) if n > limits.max_str_len => {
                return Err(Error::TooLarge("string longer than max_str_len"));
            }
            Item::Bin(n) if n > limits.max_bin_len => {
                return Err(Error::TooLarge("binary longer than max_bin_len"));
            }
            Item::Str(n) | Item::Bin(n) => {
                cur.take(n)?;
            }
            Item::Array(n) if n > limits.max_array_len => {
                return Err(Error::TooLarge("array longer than max_array_len"));
            }
            Item::Map(n) if n > limits.max_map_len => {
                return Err(Error::TooLarge("map larger than max_map_len"));
            }
            Item::Array(n) => open.push(n as u64, &cur, limits)?,
            // A map of n pairs holds 2n values.
            Item::Map(n) => open.push((n as u64).saturating_mul(2), &cur, limits)?,
        }
    }
}

/// The scanner's explicit stack: values still to read in the innermost open
/// container (`left`) and in each enclosing one (`outer`). While inside a
/// container the depth is `outer.len() + 1`; `outer` never holds more than
/// `max_depth` entries.
struct Open {
    left: u64,
    outer: Vec<u64>,
}

impl Open {
    fn push(&mut self, values: u64, cur: &Cursor<'_>, limits: &DecodeLimits) -> Result<()> {
        if self.outer.len() >= limits.max_depth {
            return Err(Error::TooLarge("nesting deeper than max_depth"));
        }
        // Every value takes at least one byte.
        if values > cur.remaining() as u64 {
            return Err(Error::Decode(String::from(
                "declared length exceeds the remaining input",
            )));
        }
        if values > 0 {
            self.outer.push(self.left);
            self.left = values;
        }
        Ok(())
    }
}

/// Reads the unsigned integer field `key` of the top-level map in `bytes`
/// without deserialising the rest: kefu's records and frames carry their
/// format version as field `"v"`, written first, so this is O(1) for them and
/// a walk over the top-level keys otherwise. Call it after [`scan`] (or on
/// trusted bytes); it assumes nothing and fails with [`Error::Decode`] on
/// anything but a map with that field holding an integer 0..=255.
pub fn read_version_field(bytes: &[u8], key: &str) -> Result<u8> {
    let mut cur = Cursor::new(bytes);
    let Item::Map(pairs) = cur.item()?.1 else {
        return Err(Error::Decode(String::from("expected a map")));
    };
    for _ in 0..pairs {
        let is_key = match cur.item()?.1 {
            Item::Str(n) => cur.take(n)? == key.as_bytes(),
            other => {
                cur.skip(other)?;
                false
            }
        };
        if is_key {
            return match cur.item()? {
                (Marker::FixPos(v), _) => Ok(v),
                (Marker::U8, _) => Ok(cur.byte()?),
                _ => Err(Error::Decode(String::from(
                    "version is not an integer 0..=255",
                ))),
            };
        }
        cur.skip_value()?;
    }
    Err(Error::Decode(String::from("missing version field")))
}

/// Renders an error message for an [`Error`] without any input it quotes:
/// text between double quotes is dropped, text between backticks is kept only
/// if it looks like a field or variant name, and the result is capped at 160
/// bytes.
pub fn sanitize(e: &dyn core::fmt::Display) -> String {
    use core::fmt::Write;
    let mut raw = String::new();
    // Writing to a String cannot fail.
    let _ = write!(raw, "{e}");
    let mut out = String::new();
    let mut rest = raw.as_str();
    while let Some(i) = rest.find(['"', '`']) {
        let (before, tail) = rest.split_at(i);
        out.push_str(before);
        let quote = if tail.starts_with('"') { '"' } else { '`' };
        let inner_and_more = &tail[1..];
        let (inner, after) = match inner_and_more.find(quote) {
            Some(j) => (&inner_and_more[..j], &inner_and_more[j + 1..]),
            None => (inner_and_more, ""),
        };
        let is_name = quote == '`'
            && inner.len() <= 32
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if is_name {
            out.push('`');
            out.push_str(inner);
            out.push('`');
        } else {
            out.push_str("<redacted>");
        }
        rest = after;
    }
    out.push_str(rest);
    if out.len() > 160 {
        let mut cut = 160;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

mod cursor;
mod de;
mod ser;

#[cfg(test)]
mod tests;
