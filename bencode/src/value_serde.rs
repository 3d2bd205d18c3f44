//! `Value` as a serde type, so a struct can keep any part of a document as a generic
//! value (e.g. unknown extension fields). A `Value` deserialized through serde has no
//! raw span: use [`Decoder`](crate::Decoder) and [`Value::raw`] to hash `info`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::byte_buf::ByteSlice;
use crate::value::{Dict, List, Value};

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Int(n) => s.serialize_i64(*n),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::List(list) => {
                let mut seq = s.serialize_seq(Some(list.len()))?;
                for item in list.iter() {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Dict(dict) => {
                let mut map = s.serialize_map(Some(dict.len()))?;
                for (k, v) in dict.iter() {
                    map.serialize_entry(&ByteSlice(k), v)?;
                }
                map.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bencode value borrowed from the input")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value<'de>, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &"an i64"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Int(i64::from(v)))
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Value<'de>, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Bytes(v.as_bytes()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(List::from(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some((ByteSlice(k), v)) = map.next_entry::<ByteSlice<'de>, Value<'de>>()? {
            entries.push((k, v));
        }
        // Repeated keys are refused in n·log n (one `insert` each would be quadratic on
        // unsorted input).
        let mut keys: Vec<&[u8]> = entries.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(de::Error::custom(format_args!(
                "duplicate dictionary key {:?}",
                String::from_utf8_lossy(w[0])
            )));
        }
        Ok(Value::Dict(Dict::from_unique(entries)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}
