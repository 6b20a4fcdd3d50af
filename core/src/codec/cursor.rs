//! A checked read cursor over MessagePack bytes, shared by the pre-scan, the
//! deserializer and the version peek. Markers are classified by
//! `rmp::Marker::from_u8`; lengths are read big-endian as the spec says.
//! Every read is bounds-checked and returns [`Fault`] instead of panicking.

use rmp::Marker;

/// Why a read, or a bound check on what was read, failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The input ends inside a value.
    Truncated,
    /// The never-used marker `0xc1`.
    Reserved,
    /// A 32-bit length that does not fit this platform's `usize`.
    LenOverflow,
    /// An array or map declares more elements than bytes remain.
    LenExceedsInput,
    /// Bytes follow the one value.
    Trailing,
    /// A [`super::DecodeLimits`] bound was exceeded (the message names it).
    TooLarge(&'static str),
}

impl Fault {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Fault::Truncated => "truncated input",
            Fault::Reserved => "reserved marker 0xc1",
            Fault::LenOverflow => "length does not fit in usize",
            Fault::LenExceedsInput => "declared length exceeds the remaining input",
            Fault::Trailing => "trailing bytes after value",
            Fault::TooLarge(m) => m,
        }
    }
}

/// What a marker (with its length header) introduces: the payload length in
/// bytes for scalars, strings and binaries (an extension's type byte counts
/// as payload), the element count for arrays, the pair count for maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    Scalar(usize),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
}

/// The unread rest of the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { rest: bytes }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, Fault> {
        let (&b, rest) = self.rest.split_first().ok_or(Fault::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Fault> {
        if n > self.rest.len() {
            return Err(Fault::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        self.take(N)?.try_into().map_err(|_| Fault::Truncated)
    }

    #[inline]
    pub(crate) fn len<const N: usize>(&mut self) -> Result<usize, Fault> {
        let n = self
            .array::<N>()?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        usize::try_from(n).map_err(|_| Fault::LenOverflow)
    }

    /// Reads a marker and its length header; the payload stays unread.
    #[inline(always)]
    pub(crate) fn item(&mut self) -> Result<(Marker, Item), Fault> {
        let m = Marker::from_u8(self.byte()?);
        let item = match m {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
                Item::Scalar(0)
            }
            Marker::U8 | Marker::I8 => Item::Scalar(1),
            Marker::U16 | Marker::I16 => Item::Scalar(2),
            Marker::U32 | Marker::I32 | Marker::F32 => Item::Scalar(4),
            Marker::U64 | Marker::I64 | Marker::F64 => Item::Scalar(8),
            Marker::FixStr(n) => Item::Str(usize::from(n)),
            Marker::Str8 => Item::Str(self.len::<1>()?),
            Marker::Str16 => Item::Str(self.len::<2>()?),
            Marker::Str32 => Item::Str(self.len::<4>()?),
            Marker::Bin8 => Item::Bin(self.len::<1>()?),
            Marker::Bin16 => Item::Bin(self.len::<2>()?),
            Marker::Bin32 => Item::Bin(self.len::<4>()?),
            // Extension: a type byte, then the payload.
            Marker::FixExt1 => Item::Bin(2),
            Marker::FixExt2 => Item::Bin(3),
            Marker::FixExt4 => Item::Bin(5),
            Marker::FixExt8 => Item::Bin(9),
            Marker::FixExt16 => Item::Bin(17),
            Marker::Ext8 => Item::Bin(self.len::<1>()?.saturating_add(1)),
            Marker::Ext16 => Item::Bin(self.len::<2>()?.saturating_add(1)),
            Marker::Ext32 => Item::Bin(self.len::<4>()?.saturating_add(1)),
            Marker::FixArray(n) => Item::Array(usize::from(n)),
            Marker::Array16 => Item::Array(self.len::<2>()?),
            Marker::Array32 => Item::Array(self.len::<4>()?),
            Marker::FixMap(n) => Item::Map(usize::from(n)),
            Marker::Map16 => Item::Map(self.len::<2>()?),
            Marker::Map32 => Item::Map(self.len::<4>()?),
            Marker::Reserved => return Err(Fault::Reserved),
        };
        Ok((m, item))
    }

    /// Skips the rest of a value whose marker `first` was just read,
    /// iteratively (no recursion, however deep the value).
    #[inline]
    pub(crate) fn skip(&mut self, first: Item) -> Result<(), Fault> {
        let mut left: u64 = 0;
        let mut item = first;
        loop {
            match item {
                Item::Scalar(n) | Item::Str(n) | Item::Bin(n) => {
                    self.take(n)?;
                }
                Item::Array(n) => left = left.saturating_add(n as u64),
                Item::Map(n) => left = left.saturating_add((n as u64).saturating_mul(2)),
            }
            if left == 0 {
                return Ok(());
            }
            left -= 1;
            item = self.item()?.1;
        }
    }

    /// Skips one whole value.
    #[inline]
    pub(crate) fn skip_value(&mut self) -> Result<(), Fault> {
        let (_, item) = self.item()?;
        self.skip(item)
    }
}
