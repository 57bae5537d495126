//! The one JSON object parser for what tollgate trusts: a JWT's claims and an introspection
//! answer.
//!
//! serde_json keeps the last of two members with the same name. For a token or an answer that
//! is a way to say two things at once (`{"active": false, "active": true}`, two `sub`s that two
//! parsers read differently), so a repeated name refuses the whole object (RFC 7519 §4 for
//! claims, RFC 8259 §4 "names SHOULD be unique"). Nothing may follow the object.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object with unique member names, and nothing after it.
///
/// # Errors
/// When the bytes are not JSON, not an object, repeat a member name, or continue after it.
pub(crate) fn unique_object(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    serde_json::from_slice::<UniqueObject>(bytes).map(|object| object.0)
}

/// A JSON object whose member names are unique.
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(A::Error::custom("duplicate member"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(UniqueObject(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_with_unique_names_and_nothing_after_it() {
        assert_eq!(unique_object(br#"{"a":1,"b":{"a":2}}"#).unwrap().len(), 2);
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"active":false,"active":true}"#,
            br#"[1]"#,
            br#""a""#,
            br#"{"a":1} x"#,
            br#"{"a":1"#,
            b"",
        ] {
            assert!(
                unique_object(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Only the object's own names must be unique: nested objects are values.
        assert!(unique_object(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }
}
