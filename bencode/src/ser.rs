//! serde serialization to canonical bencode: dictionary keys sorted as raw bytes whatever
//! order the struct declares its fields in, `None` fields left out.

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::error::{Error, Result};

/// Serializes `value` to canonical bencode.
///
/// Structs and maps become dictionaries with their keys sorted as raw bytes; fields that
/// are `None` (or `()`) are left out; `bool` is `i0e`/`i1e`; a unit enum variant is its
/// name, other variants a one-entry dictionary. Floats, `None` inside a list, map keys
/// that are not strings or bytes, repeated map keys and integers above `i64::MAX` are
/// errors.
///
/// ```
/// use serde::Serialize;
/// use shoal_bencode::{ByteBuf, to_bytes};
///
/// #[derive(Serialize)]
/// struct Info {
///     name: String,
///     pieces: ByteBuf,
///     #[serde(rename = "piece length")]
///     piece_length: u32,
///     private: Option<u8>,
/// }
///
/// let info = Info {
///     name: "x".into(),
///     pieces: ByteBuf::from(vec![0xff, 0x00]),
///     piece_length: 16384,
///     private: None,
/// };
/// assert_eq!(to_bytes(&info).unwrap(), b"d4:name1:x12:piece lengthi16384e6:pieces2:\xff\x00e");
/// ```
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut ser = Serializer::default();
    value.serialize(&mut ser)?;
    if ser.skipped {
        return Err(serde_error("a top-level None or () has no bencode form"));
    }
    Ok(ser.out)
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Serde {
            message: msg.to_string(),
        }
    }
}

fn serde_error(message: &str) -> Error {
    Error::Serde {
        message: message.to_owned(),
    }
}

#[derive(Default)]
struct Serializer {
    out: Vec<u8>,
    /// Set when the last value serialized was `None` or `()`, which write nothing: a
    /// dictionary then leaves the entry out, anything else reports an error.
    skipped: bool,
    /// Lists and dictionaries open: serde recurses per level, so this is bounded.
    depth: usize,
}

impl Serializer {
    fn put_int(&mut self, n: i64) {
        crate::encode::put_int(&mut self.out, n);
    }

    fn put_bytes(&mut self, b: &[u8]) {
        crate::encode::put_bytes(&mut self.out, b);
    }

    /// Serializes one value and reports whether it wrote anything.
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<bool> {
        self.skipped = false;
        value.serialize(&mut *self)?;
        Ok(!std::mem::take(&mut self.skipped))
    }

    fn open_variant(&mut self, variant: &str) -> Result<()> {
        self.enter()?;
        self.out.push(b'd');
        self.put_bytes(variant.as_bytes());
        Ok(())
    }

    /// Opens one nesting level; serde recurses per level, so the depth is limited like
    /// deserialization ([`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)).
    fn enter(&mut self) -> Result<()> {
        if self.depth >= crate::DEFAULT_MAX_DEPTH {
            return Err(Error::Serde {
                message: format!(
                    "nesting deeper than {} levels cannot be serialized",
                    crate::DEFAULT_MAX_DEPTH
                ),
            });
        }
        self.depth += 1;
        Ok(())
    }
}

impl<'s> ser::Serializer for &'s mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'s>;
    type SerializeTuple = Seq<'s>;
    type SerializeTupleStruct = Seq<'s>;
    type SerializeTupleVariant = Seq<'s>;
    type SerializeMap = Map<'s>;
    type SerializeStruct = Map<'s>;
    type SerializeStructVariant = Map<'s>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.put_int(i64::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.put_int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| serde_error("integer does not fit in an i64"))?;
        self.serialize_i64(v)
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| serde_error("integer does not fit in an i64"))?;
        self.serialize_i64(v)
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        let v = i64::try_from(v).map_err(|_| serde_error("integer does not fit in an i64"))?;
        self.serialize_i64(v)
    }
    fn serialize_f32(self, _v: f32) -> Result<()> {
        Err(serde_error("bencode has no floating-point numbers"))
    }
    fn serialize_f64(self, _v: f64) -> Result<()> {
        Err(serde_error("bencode has no floating-point numbers"))
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.put_bytes(v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.put_bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.put_bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.skipped = true;
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.skipped = true;
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.put_bytes(variant.as_bytes());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.open_variant(variant)?;
        if !self.element(value)? {
            return Err(serde_error("an enum variant cannot hold None"));
        }
        self.out.push(b'e');
        self.depth -= 1;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'s>> {
        self.enter()?;
        self.out.push(b'l');
        Ok(Seq {
            ser: self,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'s>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'s>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'s>> {
        self.open_variant(variant)?;
        self.enter()?;
        self.out.push(b'l');
        Ok(Seq {
            ser: self,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'s>> {
        self.enter()?;
        Ok(Map::new(self, false))
    }
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<Map<'s>> {
        self.enter()?;
        Ok(Map::new(self, false))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'s>> {
        self.open_variant(variant)?;
        self.enter()?;
        Ok(Map::new(self, true))
    }
}

/// A list being written.
struct Seq<'s> {
    ser: &'s mut Serializer,
    /// Inside a one-entry variant dictionary that needs a second `e`.
    variant: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if self.ser.element(value)? {
            Ok(())
        } else {
            Err(serde_error("a list cannot hold None or ()"))
        }
    }

    fn finish(self) -> Result<()> {
        self.ser.out.push(b'e');
        self.ser.depth -= 1;
        if self.variant {
            self.ser.out.push(b'e');
            self.ser.depth -= 1;
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// A dictionary being written: each value is serialized to the end of the output as it
/// comes, then the entries are put in key order when the dictionary ends.
struct Map<'s> {
    ser: &'s mut Serializer,
    /// Where this dictionary's entries start in the output (after any `d`).
    start: usize,
    /// Key and the span of its encoded value in `ser.out`.
    entries: Vec<(Vec<u8>, std::ops::Range<usize>)>,
    /// A key given by `serialize_key`, waiting for its value.
    pending_key: Option<Vec<u8>>,
    variant: bool,
}

impl<'s> Map<'s> {
    fn new(ser: &'s mut Serializer, variant: bool) -> Self {
        let start = ser.out.len();
        Map {
            ser,
            start,
            entries: Vec::new(),
            pending_key: None,
            variant,
        }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        let from = self.ser.out.len();
        if self.ser.element(value)? {
            let to = self.ser.out.len();
            self.entries.push((key, from..to));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = self.entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Serde {
                message: format!(
                    "dictionary key {:?} appears twice",
                    String::from_utf8_lossy(&pair[0].0)
                ),
            });
        }
        let values = self.ser.out.split_off(self.start);
        let out = &mut self.ser.out;
        out.push(b'd');
        for (key, span) in &self.entries {
            crate::encode::put_bytes(out, key);
            out.extend_from_slice(&values[span.start - self.start..span.end - self.start]);
        }
        out.push(b'e');
        self.ser.depth -= 1;
        if self.variant {
            out.push(b'e');
            self.ser.depth -= 1;
        }
        Ok(())
    }
}

/// Serializes a map key: only strings, bytes and chars are byte strings.
fn key_bytes<T: Serialize + ?Sized>(key: &T) -> Result<Vec<u8>> {
    key.serialize(KeySerializer)
}

struct KeySerializer;

fn non_string_key() -> Error {
    serde_error("dictionary keys must be strings or byte strings")
}

impl ser::Serializer for KeySerializer {
    type Ok = Vec<u8>;
    type Error = Error;
    type SerializeSeq = Impossible<Vec<u8>, Error>;
    type SerializeTuple = Impossible<Vec<u8>, Error>;
    type SerializeTupleStruct = Impossible<Vec<u8>, Error>;
    type SerializeTupleVariant = Impossible<Vec<u8>, Error>;
    type SerializeMap = Impossible<Vec<u8>, Error>;
    type SerializeStruct = Impossible<Vec<u8>, Error>;
    type SerializeStructVariant = Impossible<Vec<u8>, Error>;

    fn serialize_str(self, v: &str) -> Result<Vec<u8>> {
        Ok(v.as_bytes().to_vec())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>> {
        Ok(v.to_vec())
    }
    fn serialize_char(self, v: char) -> Result<Vec<u8>> {
        Ok(v.encode_utf8(&mut [0; 4]).as_bytes().to_vec())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Vec<u8>> {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Vec<u8>> {
        Ok(variant.as_bytes().to_vec())
    }
    fn serialize_bool(self, _: bool) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_i8(self, _: i8) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_i16(self, _: i16) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_i32(self, _: i32) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_i64(self, _: i64) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_u8(self, _: u8) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_u16(self, _: u16) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_u32(self, _: u32) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_u64(self, _: u64) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_f32(self, _: f32) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_f64(self, _: f64) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_none(self) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_unit(self) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<u8>> {
        Err(non_string_key())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(non_string_key())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(non_string_key())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(non_string_key())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(non_string_key())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(non_string_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(non_string_key())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(non_string_key())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.pending_key = Some(key_bytes(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| serde_error("map value without a key"))?;
        self.entry(key, value)
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<()> {
        let key = key_bytes(key)?;
        self.entry(key, value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.entry(key.as_bytes().to_vec(), value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.entry(key.as_bytes().to_vec(), value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}
