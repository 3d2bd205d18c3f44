//! serde deserialization straight from the input bytes (no intermediate [`Value`]), with
//! the same rules as [`Decoder`] and the byte offset in every error.
//!
//! [`Value`]: crate::Value

use serde::Deserialize;
use serde::de::value::BorrowedBytesDeserializer;
use serde::de::{self, DeserializeSeed, Visitor};

use crate::decode::{Decoder, parse_bytes, parse_int};
use crate::error::{Error, Result};

/// Deserializes a `T` from exactly one strict bencode value.
///
/// Byte strings are borrowed where the type allows (`&str`,
/// [`ByteSlice`](crate::ByteSlice)); dictionary keys map to struct fields (absent `Option`
/// fields become `None`, unknown keys are skipped); an enum is a byte string (unit
/// variant) or a one-entry dictionary. Strict as [`decode`](crate::decode): use
/// [`Decoder::deserialize`] for lenient key order.
///
/// ```
/// use serde::Deserialize;
/// use shoal_bencode::{ByteSlice, from_bytes};
///
/// #[derive(Debug, Deserialize)]
/// struct Info<'a> {
///     name: &'a str,
///     #[serde(rename = "piece length")]
///     piece_length: u64,
///     #[serde(borrow)]
///     pieces: ByteSlice<'a>,
///     private: Option<u8>,
/// }
///
/// let input = b"d4:name3:foo12:piece lengthi16384e6:pieces4:\x01\x02\x03\x04e";
/// let info: Info<'_> = from_bytes(input).unwrap();
/// assert_eq!((info.name, info.piece_length, info.private), ("foo", 16384, None));
/// assert_eq!(&*info.pieces, &[1, 2, 3, 4]);
///
/// let err = from_bytes::<Info<'_>>(b"d4:namei1ee").unwrap_err();
/// assert_eq!(err.offset(), Some(7));
/// ```
pub fn from_bytes<'de, T: Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    Decoder::new().deserialize(input)
}

impl Decoder {
    /// Deserializes a `T` from exactly one value, with this decoder's options (lenient key
    /// order, nesting limit). See [`from_bytes`].
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use shoal_bencode::Decoder;
    ///
    /// let unsorted = b"d1:bi2e1:ai1ee";
    /// let map: BTreeMap<String, i64> = Decoder::new().lenient(true).deserialize(unsorted).unwrap();
    /// assert_eq!(map["a"], 1);
    /// assert!(shoal_bencode::from_bytes::<BTreeMap<String, i64>>(unsorted).is_err());
    /// ```
    ///
    /// serde recurses once per nesting level (a few KiB of stack per level in debug
    /// builds), so here nesting is limited to [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)
    /// (256) even when `max_depth` allows more.
    pub fn deserialize<'de, T: Deserialize<'de>>(&self, input: &'de [u8]) -> Result<T> {
        let max_depth = self.max_depth_value().min(crate::DEFAULT_MAX_DEPTH);
        let mut de = Deserializer {
            input,
            pos: 0,
            depth: 0,
            options: self.max_depth(max_depth),
        };
        let value = T::deserialize(&mut de).map_err(|e: Error| e.at(0))?;
        if de.pos != input.len() {
            return Err(Error::TrailingBytes { offset: de.pos });
        }
        Ok(value)
    }
}

impl Error {
    /// Gives a position to a serde error that has none yet.
    fn at(self, offset: usize) -> Error {
        match self {
            Error::Serde { message } => Error::Deserialize { offset, message },
            other => other,
        }
    }
}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Serde {
            message: msg.to_string(),
        }
    }
}

struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    depth: usize,
    options: Decoder,
}

impl<'de> Deserializer<'de> {
    fn peek(&self, expected: &'static str) -> Result<u8> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(Error::UnexpectedEof {
                offset: self.pos,
                expected,
            })
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= self.options.max_depth_value() {
            return Err(Error::DepthLimit {
                offset: self.pos,
                max_depth: self.options.max_depth_value(),
            });
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Consumes the `e` closing a list or dictionary the visitor has finished reading.
    fn leave(&mut self, what: &'static str) -> Result<()> {
        match self.peek("'e'")? {
            b'e' => {
                self.pos += 1;
                self.depth -= 1;
                Ok(())
            }
            _ => Err(Error::Deserialize {
                offset: self.pos,
                message: format!("{what} has more items than the type expects"),
            }),
        }
    }

    fn bytes(&mut self) -> Result<(&'de [u8], usize)> {
        let start = self.pos;
        let (b, next) = parse_bytes(self.input, start)?;
        self.pos = next;
        Ok((b, start))
    }
}

fn invalid_value_start(offset: usize, found: u8) -> Error {
    Error::InvalidByte {
        offset,
        found,
        expected: "'i', 'l', 'd' or a digit",
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        match self.peek("a value")? {
            b'i' => {
                let (n, next) = parse_int(self.input, start)?;
                self.pos = next;
                visitor.visit_i64(n).map_err(|e: Error| e.at(start))
            }
            b'0'..=b'9' => {
                let (b, _) = self.bytes()?;
                visitor
                    .visit_borrowed_bytes(b)
                    .map_err(|e: Error| e.at(start))
            }
            b'l' => {
                self.enter()?;
                let value = visitor
                    .visit_seq(SeqAccess { de: &mut *self })
                    .map_err(|e: Error| e.at(start))?;
                self.leave("list")?;
                Ok(value)
            }
            b'd' => {
                self.enter()?;
                let value = visitor
                    .visit_map(MapAccess {
                        de: &mut *self,
                        last_key: None,
                        seen: Vec::new(),
                    })
                    .map_err(|e: Error| e.at(start))?;
                self.leave("dictionary")?;
                Ok(value)
            }
            found => Err(invalid_value_start(start, found)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if self.peek("a value")? == b'i' {
            let (n, next) = parse_int(self.input, start)?;
            self.pos = next;
            return match n {
                0 | 1 => visitor.visit_bool(n == 1).map_err(|e: Error| e.at(start)),
                _ => Err(Error::Deserialize {
                    offset: start,
                    message: format!("expected a boolean (i0e or i1e), found integer {n}"),
                }),
            };
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek("a value")?.is_ascii_digit() {
            let (b, start) = self.bytes()?;
            let s = std::str::from_utf8(b).map_err(|e| Error::Deserialize {
                offset: self.pos - b.len() + e.valid_up_to(),
                message: "byte string is not valid UTF-8".into(),
            })?;
            return visitor
                .visit_borrowed_str(s)
                .map_err(|e: Error| e.at(start));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // bencode has no null: a present value is `Some`, an absent key is `None`.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let start = self.pos;
        match self.peek("a value")? {
            b'0'..=b'9' => {
                let (name, _) = self.bytes()?;
                visitor
                    .visit_enum(UnitVariant { name })
                    .map_err(|e: Error| e.at(start))
            }
            b'd' => {
                self.enter()?;
                let value = visitor
                    .visit_enum(EnumAccess { de: &mut *self })
                    .map_err(|e: Error| e.at(start))?;
                self.leave("enum dictionary")?;
                Ok(value)
            }
            _ => Err(Error::Deserialize {
                offset: start,
                message: "expected an enum: a byte string or a one-entry dictionary".into(),
            }),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let max_depth = self.options.max_depth_value();
        let end = self
            .options
            .max_depth(max_depth - self.depth)
            .skip_value(self.input, self.pos)
            .map_err(|e| match e {
                // Report the limit counted from the top, not from the skipped value.
                Error::DepthLimit { offset, .. } => Error::DepthLimit { offset, max_depth },
                other => other,
            })?;
        self.pos = end;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

struct SeqAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.de.peek("a value or 'e'")? == b'e' {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

struct MapAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    last_key: Option<&'de [u8]>,
    /// Lenient mode only, once keys went out of order: every key seen, with its offset.
    seen: Vec<(&'de [u8], usize)>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let offset = self.de.pos;
        match self.de.peek("dictionary key or 'e'")? {
            b'e' => {
                if !self.seen.is_empty() {
                    check_unique(&mut self.seen)?;
                }
                return Ok(None);
            }
            b'0'..=b'9' => {}
            found => return Err(Error::NonStringKey { offset, found }),
        }
        let (key, _) = self.de.bytes()?;
        if let Some(last) = self.last_key {
            match last.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(Error::DuplicateKey { offset }),
                std::cmp::Ordering::Greater if !self.de.options.is_lenient() => {
                    return Err(Error::UnsortedKey { offset });
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        if self.de.options.is_lenient() {
            self.seen.push((key, offset));
        }
        self.last_key = Some(key);
        seed.deserialize(BorrowedBytesDeserializer::<Error>::new(key))
            .map(Some)
            .map_err(|e: Error| e.at(offset))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// Lenient dictionaries: no key twice, found in n·log n; reports the later occurrence.
fn check_unique(seen: &mut [(&[u8], usize)]) -> Result<()> {
    seen.sort_unstable();
    match seen.windows(2).find(|w| w[0].0 == w[1].0) {
        Some(w) => Err(Error::DuplicateKey { offset: w[1].1 }),
        None => Ok(()),
    }
}

struct EnumAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let offset = self.de.pos;
        match self.de.peek("the variant name")? {
            b'0'..=b'9' => {}
            found => return Err(Error::NonStringKey { offset, found }),
        }
        let (name, _) = self.de.bytes()?;
        let variant = seed
            .deserialize(BorrowedBytesDeserializer::<Error>::new(name))
            .map_err(|e: Error| e.at(offset))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumAccess<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Err(Error::Deserialize {
            offset: self.de.pos,
            message: "a unit variant is a byte string, not a dictionary".into(),
        })
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}

/// An enum spelled as a byte string: a unit variant.
struct UnitVariant<'de> {
    name: &'de [u8],
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(BorrowedBytesDeserializer::<Error>::new(self.name))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a one-entry dictionary holding the variant's value",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a one-entry dictionary holding a list",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a one-entry dictionary holding a dictionary",
        ))
    }
}
