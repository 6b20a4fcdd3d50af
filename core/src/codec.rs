//! The bounded MessagePack layer every kefu decoder goes through.
//!
//! Format: [MessagePack](https://github.com/msgpack/msgpack/blob/master/spec.md),
//! structs as maps keyed by field name. [`encode`] writes byte-for-byte what
//! `rmp_serde::to_vec_named` writes (smallest integer and length forms, unit
//! enum variants as strings; `codec/ser.rs` lists the rules), which the codec,
//! session and wire tests pin against `rmp_serde` itself.
//!
//! [`decode`] bounds untrusted input while it deserialises it, in one pass
//! (`codec/de.rs`: a checked slice cursor, markers classified by
//! `rmp::Marker`, strings borrowed from the input and validated as UTF-8
//! with `simdutf8`). Before any value is read or allocated for, its header
//! is checked, so that: the input is at most `max_bytes`; nesting stays
//! within `max_depth`; every declared length fits in the bytes that remain
//! (a string or binary of `n` bytes needs `n` bytes, an array of `n`
//! elements at least `n`, a map of `n` pairs at least `2n`); each string,
//! binary, array and map is within its bound; there is exactly one value and
//! no trailing byte; and the reserved marker `0xc1` never appears. A value
//! serde skips (an unknown field) is walked by the same iterative check as
//! [`scan`] (an explicit stack of at most `max_depth` counters, no
//! recursion). The deserializer itself recurses at most 128 levels whatever
//! `max_depth` says.
//!
//! [`scan`] makes the same checks alone, without deserialising. `decode`
//! accepts exactly the inputs that `scan` followed by deserialisation
//! accepts, with the same value (a property test pins this); only which
//! error comes first can differ, when an input is both mistyped and out of
//! bounds. Checking while decoding saves a second walk over the input: about
//! a fifth of the instructions of decoding a session; validating UTF-8 with
//! `simdutf8` (AVX2 or SSE4.2 picked at run time when kefu-core is built with
//! its `std` feature; `core::str::from_utf8` otherwise) saves a sixth more,
//! the session's Chinese text being most of its bytes. (The deserializer
//! replaced `messagepack-serde`'s, which made decoding a session about 1.3×
//! slower; `benches/session.rs` keeps both, and `serde_json`, side by side.)
//!
//! Allocation bound: the walk over a skipped value allocates one `Vec` of at
//! most `max_depth` counters. Every collection's declared length is checked
//! against the input left before serde sees it as a size hint, and `serde`
//! pre-allocates no more than that ("cautious" size hints, themselves capped
//! at 1 MiB per collection). Every collection element and every map entry
//! consumes at least one input byte, and every decoded string or byte buffer
//! is a copy of input bytes. So a decode allocates `O(len)`: at most
//! `2 × len × (1 + S)` bytes, where `S` is the largest `size_of` of an
//! element type the target collects (a `Turn` for sessions, 96 bytes on
//! 64-bit targets), and the factor 2 is `Vec` growth; a target using serde's
//! buffering (`untagged`, `flatten`), which kefu's types do not, counts
//! serde's `Content` node as an element type too. Since `len <= max_bytes`,
//! it is never more than `2 × max_bytes × (1 + S)`, and a decode that fails
//! part-way has allocated no more. Hostile input (truncated,
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
use cursor::{Cursor, Fault, Item};

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

/// Decodes one value of type `T` from `bytes`, holding `bytes` to `limits`
/// exactly as [`scan`] does (see the module docs).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limits: &DecodeLimits) -> Result<T> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge("message longer than max_bytes"));
    }
    decode_with(bytes, *limits)
}

/// Deserialises `bytes` for callers that have just run [`scan`] on them
/// themselves (to read the version in between). The scan's bounds are not
/// checked twice; the deserializer's own checks (truncation, declared
/// lengths against the input, its recursion cap, trailing bytes) still run.
pub(crate) fn decode_scanned<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    decode_with(bytes, SCANNED)
}

/// No bound beyond what the input itself imposes: for input already scanned.
const SCANNED: DecodeLimits = DecodeLimits {
    max_bytes: usize::MAX,
    max_depth: usize::MAX,
    max_str_len: usize::MAX,
    max_bin_len: usize::MAX,
    max_array_len: usize::MAX,
    max_map_len: usize::MAX,
};

fn decode_with<T: DeserializeOwned>(bytes: &[u8], limits: DecodeLimits) -> Result<T> {
    let mut de = de::De::new(bytes, limits);
    let value = T::deserialize(&mut de).map_err(de::DeError::into_error)?;
    de.end()?;
    Ok(value)
}

impl From<cursor::Fault> for Error {
    fn from(f: cursor::Fault) -> Error {
        match f {
            cursor::Fault::TooLarge(m) => Error::TooLarge(m),
            other => Error::Decode(String::from(other.message())),
        }
    }
}

/// Checks that `bytes` holds exactly one MessagePack value within `limits`,
/// without deserialising it: the bounds of the module docs, walked
/// iteratively.
pub fn scan(bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge("message longer than max_bytes"));
    }
    let mut cur = Cursor::new(bytes);
    scan_value(&mut cur, limits, 0)?;
    if cur.remaining() != 0 {
        return Err(Fault::Trailing.into());
    }
    Ok(())
}

/// Reads one whole value from `cur`, checking every header in it against
/// `limits` with `depth` containers already open around it. Iterative: an
/// explicit stack of the values still to read in each open container, never
/// more than `max_depth` of them.
pub(crate) fn scan_value(
    cur: &mut Cursor<'_>,
    limits: &DecodeLimits,
    depth: usize,
) -> Result<(), Fault> {
    let mut left: u64 = 1;
    let mut outer: Vec<u64> = Vec::new();
    loop {
        while left == 0 {
            match outer.pop() {
                Some(o) => left = o,
                None => return Ok(()),
            }
        }
        left -= 1;
        let item = cur.item()?.1;
        match item {
            Item::Scalar(n) => {
                cur.take(n)?;
            }
            Item::Str(n) => {
                check_str(n, limits)?;
                cur.take(n)?;
            }
            Item::Bin(n) => {
                check_bin(n, limits)?;
                cur.take(n)?;
            }
            Item::Array(_) | Item::Map(_) => {
                let values = check_open(item, limits, depth.saturating_add(outer.len()), cur)?;
                if values > 0 {
                    outer.push(left);
                    left = values;
                }
            }
        }
    }
}

/// A string header of `n` bytes within `limits`?
#[inline(always)]
pub(crate) fn check_str(n: usize, limits: &DecodeLimits) -> Result<(), Fault> {
    if n > limits.max_str_len {
        return Err(Fault::TooLarge("string longer than max_str_len"));
    }
    Ok(())
}

/// A binary or extension header of `n` payload bytes within `limits`?
#[inline(always)]
pub(crate) fn check_bin(n: usize, limits: &DecodeLimits) -> Result<(), Fault> {
    if n > limits.max_bin_len {
        return Err(Fault::TooLarge("binary longer than max_bin_len"));
    }
    Ok(())
}

/// An array or map header (`item`), read with `depth` containers open around
/// it and `cur` just past it: checks its length bound, the depth bound and
/// that its values (two per map pair, each at least one byte) fit in the
/// input left. Returns the number of values it holds.
#[inline(always)]
pub(crate) fn check_open(
    item: Item,
    limits: &DecodeLimits,
    depth: usize,
    cur: &Cursor<'_>,
) -> Result<u64, Fault> {
    let values = match item {
        Item::Array(n) if n > limits.max_array_len => {
            return Err(Fault::TooLarge("array longer than max_array_len"));
        }
        Item::Map(n) if n > limits.max_map_len => {
            return Err(Fault::TooLarge("map larger than max_map_len"));
        }
        Item::Array(n) => n as u64,
        Item::Map(n) => (n as u64).saturating_mul(2),
        Item::Scalar(_) | Item::Str(_) | Item::Bin(_) => return Ok(0),
    };
    if depth >= limits.max_depth {
        return Err(Fault::TooLarge("nesting deeper than max_depth"));
    }
    if values > cur.remaining() as u64 {
        return Err(Fault::LenExceedsInput);
    }
    Ok(values)
}

/// Reads the unsigned integer field `key` of the top-level map in `bytes`
/// without deserialising the rest: kefu's records and frames carry their
/// format version as field `"v"`, written first, so this is O(1) for them and
/// a walk over the top-level keys otherwise. Safe on unscanned input: every
/// read is checked and skipping is iterative, so it takes `O(len)` time,
/// allocates nothing, and fails with [`Error::Decode`] on anything but a map
/// with that field holding an integer 0..=255.
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
