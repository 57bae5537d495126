//! A SET's JSON, read with unique member names at every depth.
//!
//! serde_json keeps the last of two members with the same name. In a SET that is a way to say
//! two things at once: `{"format":"opaque","format":"iss_sub"}` in a subject, two `change_type`
//! members in an event, which two receivers read differently. RFC 8259 §4 says names SHOULD be
//! unique, RFC 7515 §4 and RFC 7519 §4 make it a MUST for the header and the claims; the
//! receiver refuses a repeated name anywhere (nested objects included, unlike the claims
//! parser of access tokens, which only compares top-level names).

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON object whose objects all have unique member names, with nothing
/// after it.
pub(super) fn unique_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Unique>(bytes).ok()?.0 {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without repeated member names")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = access.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                return Err(A::Error::custom("repeated member name"));
            }
            let Unique(value) = access.next_value()?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_refused_at_every_depth() {
        assert!(unique_object(br#"{"a":{"b":[{"c":1,"d":2}]},"e":null}"#).is_some());
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":2}}"#,
            br#"{"a":[{"f":"x","f":"y"}]}"#,
            br#"[{"a":1}]"#,
            br#"{"a":1} {}"#,
            br#"{"a":1e400}"#,
            b"",
        ] {
            assert!(
                unique_object(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn values_read_as_serde_json_reads_them() {
        let text =
            br#"{"s":"x","n":-5,"u":18446744073709551615,"f":1.5,"b":true,"z":null,"a":[1,"2"]}"#;
        let ours = Value::Object(unique_object(text).unwrap());
        let theirs: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(ours, theirs);
    }
}
