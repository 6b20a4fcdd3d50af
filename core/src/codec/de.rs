//! The serde `Deserializer` behind [`super::decode`]: MessagePack over a
//! byte slice, borrowing strings from it, markers classified by
//! `rmp::Marker`.
//!
//! It holds the input to [`DecodeLimits`] as it goes, with the same checks
//! as [`super::scan`], made at the same headers: every string, binary, array
//! and map header is checked against its bound, the nesting depth and the
//! input left before anything is read or allocated for it, and a value serde
//! skips (an unknown field) is walked by [`super::scan_value`], which checks
//! every header inside it. So one pass over the input both bounds and
//! decodes it. Every read is checked (a short input is an error, never a
//! panic), and recursion stops at [`MAX_RECURSION`] whatever `max_depth`
//! says. Collection size hints are the declared lengths, already held to the
//! input length.

use alloc::string::{String, ToString};
use core::fmt;

use rmp::Marker;
use serde::de::{self, DeserializeSeed, Visitor};

use super::cursor::{Cursor, Fault, Item};
use super::{DecodeLimits, check_bin, check_open, check_str, sanitize, scan_value};
use crate::Error;

/// The deepest nesting the deserializer recurses into.
pub(crate) const MAX_RECURSION: usize = 128;

/// A decode error before it becomes an [`Error`].
#[derive(Debug)]
pub(crate) enum DeError {
    /// The input broke the format or a bound.
    Fault(Fault),
    /// The input does not fit the target type (our message).
    Shape(&'static str),
    /// serde's message, which may quote input: sanitised on the way out.
    Serde(String),
}

impl DeError {
    /// The crate error: bounds stay [`Error::TooLarge`], everything else is
    /// [`Error::Decode`] with any quoted input removed.
    pub(crate) fn into_error(self) -> Error {
        match self {
            DeError::Fault(f) => f.into(),
            DeError::Shape(m) => Error::Decode(String::from(m)),
            DeError::Serde(m) => Error::Decode(sanitize(&m)),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Fault(fault) => f.write_str(fault.message()),
            DeError::Shape(m) => f.write_str(m),
            DeError::Serde(m) => f.write_str(m),
        }
    }
}

impl core::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Serde(msg.to_string())
    }
}

fn fail<T>(msg: &'static str) -> Result<T, DeError> {
    Err(DeError::Shape(msg))
}

impl From<Fault> for DeError {
    #[inline]
    fn from(f: Fault) -> DeError {
        DeError::Fault(f)
    }
}

/// The deserializer state: a cursor, the bounds, and the containers open.
pub(crate) struct De<'de> {
    cur: Cursor<'de>,
    depth: usize,
    limits: DecodeLimits,
}

impl<'de> De<'de> {
    #[inline]
    pub(crate) fn new(input: &'de [u8], limits: DecodeLimits) -> Self {
        De {
            cur: Cursor::new(input),
            depth: 0,
            limits,
        }
    }

    /// Fails unless every byte was consumed.
    #[inline]
    pub(crate) fn end(&self) -> Result<(), Fault> {
        if self.cur.remaining() == 0 {
            Ok(())
        } else {
            Err(Fault::Trailing)
        }
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, DeError> {
        Ok(self.cur.byte()?)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8], DeError> {
        Ok(self.cur.take(n)?)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DeError> {
        Ok(self.cur.array::<N>()?)
    }

    #[inline]
    fn len<const N: usize>(&mut self) -> Result<usize, DeError> {
        Ok(self.cur.len::<N>()?)
    }

    /// A string payload of `n` bytes, checked against `max_str_len` and
    /// validated as UTF-8 by `simdutf8` (AVX2 or SSE4.2 picked at run time
    /// when kefu-core is built with `std`, for strings of 64 bytes and more;
    /// `core::str::from_utf8` otherwise).
    #[inline]
    fn str(&mut self, n: usize) -> Result<&'de str, DeError> {
        check_str(n, &self.limits)?;
        simdutf8::basic::from_utf8(self.take(n)?).or_else(|_| fail("string is not UTF-8"))
    }

    /// A binary payload of `n` bytes, checked against `max_bin_len`.
    #[inline]
    fn bin(&mut self, n: usize) -> Result<&'de [u8], DeError> {
        check_bin(n, &self.limits)?;
        self.take(n)
    }

    /// The bytes of a string value, not yet checked to be UTF-8.
    #[inline]
    fn str_bytes(&mut self) -> Result<&'de [u8], DeError> {
        let n = match Marker::from_u8(self.byte()?) {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 => self.len::<1>()?,
            Marker::Str16 => self.len::<2>()?,
            Marker::Str32 => self.len::<4>()?,
            _ => return fail("expected a string"),
        };
        check_str(n, &self.limits)?;
        self.take(n)
    }

    /// Enters the container `item` (just read) after checking it against the
    /// bounds, runs `f` inside it, and leaves.
    #[inline]
    fn nested<T>(
        &mut self,
        item: Item,
        f: impl FnOnce(&mut Self) -> Result<T, DeError>,
    ) -> Result<T, DeError> {
        check_open(item, &self.limits, self.depth, &self.cur)?;
        if self.depth >= MAX_RECURSION {
            return fail("nesting too deep");
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn visit_seq<V: Visitor<'de>>(&mut self, n: usize, visitor: V) -> Result<V::Value, DeError> {
        self.nested(Item::Array(n), |de| {
            let mut acc = Access { de, left: n };
            let v = visitor.visit_seq(&mut acc)?;
            if acc.left == 0 {
                Ok(v)
            } else {
                fail("array has more elements than expected")
            }
        })
    }

    fn visit_map<V: Visitor<'de>>(&mut self, n: usize, visitor: V) -> Result<V::Value, DeError> {
        self.nested(Item::Map(n), |de| {
            let mut acc = Access { de, left: n };
            let v = visitor.visit_map(&mut acc)?;
            if acc.left == 0 {
                Ok(v)
            } else {
                fail("map has more entries than expected")
            }
        })
    }
}

impl<'de> de::Deserializer<'de> for &mut De<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match Marker::from_u8(self.byte()?) {
            Marker::FixPos(v) => visitor.visit_u8(v),
            Marker::FixNeg(v) => visitor.visit_i8(v),
            Marker::Null => visitor.visit_unit(),
            Marker::False => visitor.visit_bool(false),
            Marker::True => visitor.visit_bool(true),
            Marker::U8 => visitor.visit_u8(self.byte()?),
            Marker::U16 => visitor.visit_u16(u16::from_be_bytes(self.array()?)),
            Marker::U32 => visitor.visit_u32(u32::from_be_bytes(self.array()?)),
            Marker::U64 => visitor.visit_u64(u64::from_be_bytes(self.array()?)),
            Marker::I8 => visitor.visit_i8(i8::from_be_bytes(self.array()?)),
            Marker::I16 => visitor.visit_i16(i16::from_be_bytes(self.array()?)),
            Marker::I32 => visitor.visit_i32(i32::from_be_bytes(self.array()?)),
            Marker::I64 => visitor.visit_i64(i64::from_be_bytes(self.array()?)),
            Marker::F32 => visitor.visit_f32(f32::from_be_bytes(self.array()?)),
            Marker::F64 => visitor.visit_f64(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => visitor.visit_borrowed_str(self.str(usize::from(n))?),
            Marker::Str8 => {
                let n = self.len::<1>()?;
                visitor.visit_borrowed_str(self.str(n)?)
            }
            Marker::Str16 => {
                let n = self.len::<2>()?;
                visitor.visit_borrowed_str(self.str(n)?)
            }
            Marker::Str32 => {
                let n = self.len::<4>()?;
                visitor.visit_borrowed_str(self.str(n)?)
            }
            Marker::Bin8 => {
                let n = self.len::<1>()?;
                visitor.visit_borrowed_bytes(self.bin(n)?)
            }
            Marker::Bin16 => {
                let n = self.len::<2>()?;
                visitor.visit_borrowed_bytes(self.bin(n)?)
            }
            Marker::Bin32 => {
                let n = self.len::<4>()?;
                visitor.visit_borrowed_bytes(self.bin(n)?)
            }
            Marker::FixArray(n) => self.visit_seq(usize::from(n), visitor),
            Marker::Array16 => {
                let n = self.len::<2>()?;
                self.visit_seq(n, visitor)
            }
            Marker::Array32 => {
                let n = self.len::<4>()?;
                self.visit_seq(n, visitor)
            }
            Marker::FixMap(n) => self.visit_map(usize::from(n), visitor),
            Marker::Map16 => {
                let n = self.len::<2>()?;
                self.visit_map(n, visitor)
            }
            Marker::Map32 => {
                let n = self.len::<4>()?;
                self.visit_map(n, visitor)
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => fail("extension types are not part of kefu's formats"),
            Marker::Reserved => Err(Fault::Reserved.into()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.cur.peek() == Some(0xc0) {
            self.byte()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.cur.peek() {
            // {variant: content}, the form rmp_serde writes for variants
            // with data.
            Some(0x81) => {
                self.byte()?;
                self.nested(Item::Map(1), |de| visitor.visit_enum(EnumMap { de }))
            }
            // A unit variant: its name as a string.
            _ => visitor.visit_enum(UnitVariant(self.str_bytes()?)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        scan_value(&mut self.cur, &self.limits, self.depth)?;
        visitor.visit_unit()
    }

    /// Field and variant names: handed over as bytes, which serde's derived
    /// visitors match directly, saving a UTF-8 check per key.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.cur.peek() {
            Some(0xa0..=0xbf | 0xd9..=0xdb) => visitor.visit_borrowed_bytes(self.str_bytes()?),
            _ => de::Deserializer::deserialize_any(self, visitor),
        }
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
    }
}

/// Elements of an array or pairs of a map, `left` still to read.
struct Access<'a, 'de> {
    de: &'a mut De<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Access<'_, 'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Access<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// A unit variant written as its name. The name goes to serde's derived
/// variant visitor as bytes, which it matches without a UTF-8 check.
struct UnitVariant<'de>(&'de [u8]);

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let d = de::value::BorrowedBytesDeserializer::<DeError>::new(self.0);
        Ok((seed.deserialize(d)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, DeError> {
        fail("expected a unit variant")
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DeError> {
        fail("expected a unit variant")
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        fail("expected a unit variant")
    }
}

/// An enum variant written as a one-entry map `{name: content}`.
struct EnumMap<'a, 'de> {
    de: &'a mut De<'de>,
}

impl<'a, 'de> de::EnumAccess<'de> for EnumMap<'a, 'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumMap<'_, 'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        de::Deserialize::deserialize(&mut *self.de)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
}
