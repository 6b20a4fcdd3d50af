//! The serde `Serializer` behind [`super::encode`]: MessagePack into a
//! `Vec<u8>`, written to match `rmp_serde::to_vec_named` byte for byte.
//!
//! That means, following the MessagePack spec
//! (<https://github.com/msgpack/msgpack/blob/master/spec.md>) and rmp-serde
//! 1.3's choices: integers in their smallest form (non-negative signed
//! integers as unsigned ones), `f32`/`f64` as float 32/64, strings and
//! binaries with the smallest length header, `None` and `()` as nil, a unit
//! struct as an empty array, newtypes as their content, structs as maps keyed
//! by field name, unit variants as their name, other variants as a one-entry
//! map `{name: content}`, and 128-bit integers as 16-byte binaries. Sequences
//! and maps of unknown length get their header once their length is known.
//! The codec tests hold this to `rmp_serde` on every shape.
//!
//! (It replaced `messagepack-serde`'s serializer, which was about twice as slow;
//! see `benches/session.rs`.)

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::ser::{self, Serialize};

/// An encode error before sanitising (see [`super::sanitize`]).
#[derive(Debug)]
pub(crate) struct SerError(String);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

fn too_long() -> SerError {
    SerError(String::from("length does not fit in 32 bits"))
}

fn put_uint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x7f => out.push(v as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, v as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

fn put_sint(out: &mut Vec<u8>, v: i64) {
    match v {
        0.. => put_uint(out, v as u64),
        -32..=-1 => out.push(v as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, v as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(v as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(v as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// A length header: `fix` is the fix-format base if `fix_max` allows it,
/// then the 8-, 16- and 32-bit markers (`None` where the format has none).
fn header(
    n: usize,
    fix: Option<(u8, usize)>,
    m8: Option<u8>,
    m16: u8,
    m32: u8,
) -> Result<([u8; 5], usize), SerError> {
    let mut h = [0u8; 5];
    let used = match (fix, m8) {
        (Some((base, max)), _) if n <= max => {
            h[0] = base | n as u8;
            1
        }
        (_, Some(m)) if n <= 0xff => {
            h[..2].copy_from_slice(&[m, n as u8]);
            2
        }
        _ if n <= 0xffff => {
            h[0] = m16;
            h[1..3].copy_from_slice(&(n as u16).to_be_bytes());
            3
        }
        _ => {
            let n = u32::try_from(n).map_err(|_| too_long())?;
            h[0] = m32;
            h[1..5].copy_from_slice(&n.to_be_bytes());
            5
        }
    };
    Ok((h, used))
}

fn put_header(out: &mut Vec<u8>, h: Result<([u8; 5], usize), SerError>) -> Result<(), SerError> {
    let (h, used) = h?;
    out.extend_from_slice(h.get(..used).unwrap_or(&[]));
    Ok(())
}

fn str_header(n: usize) -> Result<([u8; 5], usize), SerError> {
    header(n, Some((0xa0, 31)), Some(0xd9), 0xda, 0xdb)
}
fn bin_header(n: usize) -> Result<([u8; 5], usize), SerError> {
    header(n, None, Some(0xc4), 0xc5, 0xc6)
}
fn array_header(n: usize) -> Result<([u8; 5], usize), SerError> {
    header(n, Some((0x90, 15)), None, 0xdc, 0xdd)
}
fn map_header(n: usize) -> Result<([u8; 5], usize), SerError> {
    header(n, Some((0x80, 15)), None, 0xde, 0xdf)
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), SerError> {
    put_header(out, str_header(s.len()))?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// The serializer: appends to a byte vector.
pub(crate) struct Ser<'a>(pub(crate) &'a mut Vec<u8>);

/// An array or map being written. `unknown` holds, for a collection whose
/// length was not given up front, where its elements start, how many were
/// written, and whether it is a map; its header is inserted at `end`.
pub(crate) struct Compound<'b> {
    out: &'b mut Vec<u8>,
    unknown: Option<(usize, usize, bool)>,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        v.serialize(&mut Ser(self.out))
    }

    fn count(&mut self) {
        if let Some((_, n, _)) = &mut self.unknown {
            *n += 1;
        }
    }

    fn finish(self) -> Result<(), SerError> {
        if let Some((start, n, is_map)) = self.unknown {
            let (h, used) = if is_map {
                map_header(n)?
            } else {
                array_header(n)?
            };
            let h = h.get(..used).unwrap_or(&[]);
            self.out.splice(start..start, h.iter().copied());
        }
        Ok(())
    }
}

impl<'b> Ser<'_> {
    fn compound(&'b mut self, len: Option<usize>, is_map: bool) -> Result<Compound<'b>, SerError> {
        let unknown = match len {
            Some(n) => {
                put_header(
                    self.0,
                    if is_map {
                        map_header(n)
                    } else {
                        array_header(n)
                    },
                )?;
                None
            }
            None => Some((self.0.len(), 0, is_map)),
        };
        Ok(Compound {
            out: self.0,
            unknown,
        })
    }

    fn variant_key(&mut self, variant: &str) -> Result<(), SerError> {
        self.0.push(0x81);
        put_str(self.0, variant)
    }
}

impl<'b> ser::Serializer for &'b mut Ser<'_> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Compound<'b>;
    type SerializeTuple = Compound<'b>;
    type SerializeTupleStruct = Compound<'b>;
    type SerializeTupleVariant = Compound<'b>;
    type SerializeMap = Compound<'b>;
    type SerializeStruct = Compound<'b>;
    type SerializeStructVariant = Compound<'b>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.0.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        put_sint(self.0, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), SerError> {
        self.serialize_bytes(&v.to_be_bytes())
    }
    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        put_uint(self.0, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), SerError> {
        self.serialize_bytes(&v.to_be_bytes())
    }
    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.0.push(0xca);
        self.0.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        self.0.push(0xcb);
        self.0.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), SerError> {
        put_str(self.0, v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        put_str(self.0, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        put_header(self.0, bin_header(v.len()))?;
        self.0.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), SerError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), SerError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), SerError> {
        self.0.push(0xc0);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.0.push(0x90);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        put_str(self.0, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.variant_key(variant)?;
        v.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'b>, SerError> {
        self.compound(len, false)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'b>, SerError> {
        self.compound(Some(len), false)
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, SerError> {
        self.compound(Some(len), false)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'b>, SerError> {
        self.variant_key(variant)?;
        self.compound(Some(len), false)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'b>, SerError> {
        self.compound(len, true)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, SerError> {
        self.compound(Some(len), true)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'b>, SerError> {
        self.variant_key(variant)?;
        self.compound(Some(len), true)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.count();
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        self.count();
        self.element(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        put_str(self.out, key)?;
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        put_str(self.out, key)?;
        self.element(v)
    }
    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}
