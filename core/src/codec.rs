//! The bounded MessagePack layer every kefu decoder goes through.
//!
//! Format: [MessagePack](https://github.com/msgpack/msgpack/blob/master/spec.md),
//! structs as maps keyed by field name. [`encode`] uses `messagepack-serde`
//! (no_std) with its default lossless-minimal integers, which is byte-for-byte
//! what `rmp_serde::to_vec_named` writes for kefu's types (unsigned integers,
//! strings, options, sequences, unit enum variants as strings); the session
//! and wire tests pin that.
//!
//! [`decode`] runs in two passes:
//!
//! 1. [`scan`], a pre-scan with `rmp`'s low-level marker reader. It walks the
//!    input iteratively (an explicit stack of at most `max_depth` counters, no
//!    recursion) and checks that: the input is at most `max_bytes`; nesting
//!    stays within `max_depth`; every declared length fits in the bytes that
//!    remain (a string or binary of `n` bytes needs `n` bytes, an array of `n`
//!    elements at least `n`, a map of `n` pairs at least `2n`); each string,
//!    binary, array and map is within its bound; there is exactly one value
//!    and no trailing byte; and the reserved marker `0xc1` never appears.
//! 2. `serde` deserialisation with `messagepack-serde`, which now only sees
//!    input whose shape is already bounded.
//!
//! Allocation bound: `scan` allocates one `Vec` of at most `max_depth`
//! counters. After it passes, every collection's declared length is at most
//! the input length, and `serde` pre-allocates no more than that
//! ("cautious" size hints, themselves capped at 1 MiB per collection). Every
//! collection element and every map entry consumes at least one input byte,
//! and every decoded string or byte buffer is a copy of input bytes. So a
//! decode allocates `O(len)`: at most `2 × len × (1 + S)` bytes, where `S` is
//! the largest `size_of` of an element type the target collects (a `Turn` for
//! sessions), and the factor 2 is `Vec` growth. Since `len <= max_bytes`, it is
//! never more than `2 × max_bytes × (1 + S)`. Hostile input (truncated,
//! `0xdd ffffffff`, 100 000-deep nesting, wrong types, trailing garbage) ends
//! in [`Error::Decode`] or [`Error::TooLarge`] before any large allocation.
//!
//! Error messages never quote input: `serde`'s messages (which can quote a
//! string value) are passed through [`sanitize`] first, so conversation text
//! cannot leak into a log line through an error.

use alloc::string::String;
use alloc::vec::Vec;

use rmp::Marker;
use rmp::decode::{Bytes, RmpRead, read_marker};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

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
    messagepack_serde::to_vec(v).map_err(|e| Error::Encode(sanitize(&e)))
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
    messagepack_serde::from_slice(bytes).map_err(|e| Error::Decode(sanitize(&e)))
}

fn truncated() -> Error {
    Error::Decode(String::from("truncated input"))
}

/// The iterative pre-scan described in the module docs. Succeeds only if
/// `bytes` holds exactly one MessagePack value within `limits`.
pub fn scan(bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge("message longer than max_bytes"));
    }
    let mut rd = Bytes::new(bytes);
    let mut open = Open {
        left: 1,
        outer: Vec::new(),
    };
    loop {
        while open.left == 0 {
            match open.outer.pop() {
                Some(outer) => open.left = outer,
                None if rd.remaining_slice().is_empty() => return Ok(()),
                None => return Err(Error::Decode(String::from("trailing bytes after value"))),
            }
        }
        open.left -= 1;
        let marker = read_marker(&mut rd).map_err(|_| truncated())?;
        match item_kind(marker, &mut rd)? {
            Item::Scalar(n) => rd = skip_bytes(rd, n)?,
            Item::Str(n) if n > limits.max_str_len => {
                return Err(Error::TooLarge("string longer than max_str_len"));
            }
            Item::Bin(n) if n > limits.max_bin_len => {
                return Err(Error::TooLarge("binary longer than max_bin_len"));
            }
            Item::Str(n) | Item::Bin(n) => rd = skip_bytes(rd, n)?,
            Item::Array(n) if n > limits.max_array_len => {
                return Err(Error::TooLarge("array longer than max_array_len"));
            }
            Item::Map(n) if n > limits.max_map_len => {
                return Err(Error::TooLarge("map larger than max_map_len"));
            }
            Item::Array(n) => open.push(n as u64, &rd, limits)?,
            // A map of n pairs holds 2n values.
            Item::Map(n) => open.push((n as u64).saturating_mul(2), &rd, limits)?,
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
    fn push(&mut self, values: u64, rd: &Bytes<'_>, limits: &DecodeLimits) -> Result<()> {
        if self.outer.len() >= limits.max_depth {
            return Err(Error::TooLarge("nesting deeper than max_depth"));
        }
        // Every value takes at least one byte.
        if values > rd.remaining_slice().len() as u64 {
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

/// What a marker introduces, with its payload length in bytes (scalars,
/// strings, binaries) or its element count (arrays, maps).
enum Item {
    Scalar(usize),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
}

fn read_len<const N: usize>(rd: &mut Bytes<'_>) -> Result<usize> {
    let mut buf = [0u8; N];
    rd.read_exact_buf(&mut buf).map_err(|_| truncated())?;
    let n = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    usize::try_from(n).map_err(|_| Error::TooLarge("length does not fit in usize"))
}

fn item_kind(m: Marker, rd: &mut Bytes<'_>) -> Result<Item> {
    Ok(match m {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            Item::Scalar(0)
        }
        Marker::U8 | Marker::I8 => Item::Scalar(1),
        Marker::U16 | Marker::I16 => Item::Scalar(2),
        Marker::U32 | Marker::I32 | Marker::F32 => Item::Scalar(4),
        Marker::U64 | Marker::I64 | Marker::F64 => Item::Scalar(8),
        Marker::FixStr(n) => Item::Str(usize::from(n)),
        Marker::Str8 => Item::Str(read_len::<1>(rd)?),
        Marker::Str16 => Item::Str(read_len::<2>(rd)?),
        Marker::Str32 => Item::Str(read_len::<4>(rd)?),
        Marker::Bin8 => Item::Bin(read_len::<1>(rd)?),
        Marker::Bin16 => Item::Bin(read_len::<2>(rd)?),
        Marker::Bin32 => Item::Bin(read_len::<4>(rd)?),
        // Extension: a type byte, then the payload.
        Marker::FixExt1 => Item::Bin(1 + 1),
        Marker::FixExt2 => Item::Bin(1 + 2),
        Marker::FixExt4 => Item::Bin(1 + 4),
        Marker::FixExt8 => Item::Bin(1 + 8),
        Marker::FixExt16 => Item::Bin(1 + 16),
        Marker::Ext8 => Item::Bin(read_len::<1>(rd)?.saturating_add(1)),
        Marker::Ext16 => Item::Bin(read_len::<2>(rd)?.saturating_add(1)),
        Marker::Ext32 => Item::Bin(read_len::<4>(rd)?.saturating_add(1)),
        Marker::FixArray(n) => Item::Array(usize::from(n)),
        Marker::Array16 => Item::Array(read_len::<2>(rd)?),
        Marker::Array32 => Item::Array(read_len::<4>(rd)?),
        Marker::FixMap(n) => Item::Map(usize::from(n)),
        Marker::Map16 => Item::Map(read_len::<2>(rd)?),
        Marker::Map32 => Item::Map(read_len::<4>(rd)?),
        Marker::Reserved => return Err(Error::Decode(String::from("reserved marker 0xc1"))),
    })
}

fn skip_bytes(rd: Bytes<'_>, n: usize) -> Result<Bytes<'_>> {
    rd.remaining_slice()
        .get(n..)
        .map(Bytes::new)
        .ok_or_else(truncated)
}

/// Reads the unsigned integer field `key` of the top-level map in `bytes`
/// without deserialising the rest: kefu's records and frames carry their
/// format version as field `"v"`, written first, so this is O(1) for them and
/// a walk over the top-level keys otherwise. Call it after [`scan`] (or on
/// trusted bytes); it assumes nothing and fails with [`Error::Decode`] on
/// anything but a map with that field holding an integer 0..=255.
pub fn read_version_field(bytes: &[u8], key: &str) -> Result<u8> {
    let mut rd = Bytes::new(bytes);
    let marker = read_marker(&mut rd).map_err(|_| truncated())?;
    let pairs = match item_kind(marker, &mut rd)? {
        Item::Map(n) => n,
        _ => return Err(Error::Decode(String::from("expected a map"))),
    };
    for _ in 0..pairs {
        let m = read_marker(&mut rd).map_err(|_| truncated())?;
        let is_key = match item_kind(m, &mut rd)? {
            Item::Str(n) => {
                let s = rd.remaining_slice().get(..n).ok_or_else(truncated)?;
                rd = skip_bytes(rd, n)?;
                s == key.as_bytes()
            }
            other => {
                rd = skip_item(rd, other)?;
                false
            }
        };
        let m = read_marker(&mut rd).map_err(|_| truncated())?;
        if is_key {
            return match m {
                Marker::FixPos(v) => Ok(v),
                Marker::U8 => Ok(rd.read_u8().map_err(|_| truncated())?),
                _ => Err(Error::Decode(String::from(
                    "version is not an integer 0..=255",
                ))),
            };
        }
        let item = item_kind(m, &mut rd)?;
        rd = skip_item(rd, item)?;
    }
    Err(Error::Decode(String::from("missing version field")))
}

/// Skips one value whose marker has been read, iteratively.
fn skip_item(mut rd: Bytes<'_>, first: Item) -> Result<Bytes<'_>> {
    let mut left: u64 = 0;
    let mut item = first;
    loop {
        match item {
            Item::Scalar(n) | Item::Str(n) | Item::Bin(n) => rd = skip_bytes(rd, n)?,
            Item::Array(n) => left = left.saturating_add(n as u64),
            Item::Map(n) => left = left.saturating_add((n as u64).saturating_mul(2)),
        }
        if left == 0 {
            return Ok(rd);
        }
        left -= 1;
        let m = read_marker(&mut rd).map_err(|_| truncated())?;
        item = item_kind(m, &mut rd)?;
    }
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

#[cfg(test)]
mod tests;
