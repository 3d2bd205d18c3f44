//! Byte-string field types for serde: `Vec<u8>` and `&[u8]` serialize as lists of
//! integers in serde's data model, these as bencode byte strings.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// An owned byte string for serde fields (`pieces`, `peer id`, compact peers...).
///
/// Serializes with `serialize_bytes`, so it becomes a bencode byte string (a plain
/// `Vec<u8>` would become a list of integers); deserializes from a byte string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteBuf(pub Vec<u8>);

/// A byte string borrowed from the input, for zero-copy serde fields (mark the field
/// `#[serde(borrow)]`).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSlice<'a>(pub &'a [u8]);

impl ByteBuf {
    /// The bytes, taken out.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for ByteBuf {
    fn from(v: Vec<u8>) -> Self {
        ByteBuf(v)
    }
}

impl From<&[u8]> for ByteBuf {
    fn from(v: &[u8]) -> Self {
        ByteBuf(v.to_vec())
    }
}

impl<'a> From<&'a [u8]> for ByteSlice<'a> {
    fn from(v: &'a [u8]) -> Self {
        ByteSlice(v)
    }
}

impl Deref for ByteBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for ByteBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl<'a> Deref for ByteSlice<'a> {
    type Target = &'a [u8];
    fn deref(&self) -> &&'a [u8] {
        &self.0
    }
}

impl fmt::Debug for ByteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ByteSlice(&self.0).fmt(f)
    }
}

impl fmt::Debug for ByteSlice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl Serialize for ByteSlice<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

struct ByteBufVisitor;

impl<'de> Visitor<'de> for ByteBufVisitor {
    type Value = ByteBuf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
        Ok(ByteBuf(v.as_bytes().to_vec()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
        // Other formats (JSON...) may carry bytes as a list of integers.
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(ByteBuf(out))
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(ByteBufVisitor)
    }
}

struct ByteSliceVisitor;

impl<'de> Visitor<'de> for ByteSliceVisitor {
    type Value = ByteSlice<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string borrowed from the input")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<ByteSlice<'de>, E> {
        Ok(ByteSlice(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ByteSlice<'de>, E> {
        Ok(ByteSlice(v.as_bytes()))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ByteSlice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(ByteSliceVisitor)
    }
}
