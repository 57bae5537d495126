//! The claims of a DPoP proof (RFC 9449 §4.2), loosely typed so that a claim of the wrong type
//! is told apart from a broken payload.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::jose::walk;

/// At most this many claims (RFC 9449 defines six; clients may add their own).
pub(super) const MAX_CLAIMS: usize = 32;

/// The claims of a proof that the checks read; others are only checked for repetition.
#[derive(Default)]
pub(super) struct ProofClaims<'a> {
    pub(super) jti: Option<Scalar<'a>>,
    pub(super) htm: Option<Scalar<'a>>,
    pub(super) htu: Option<Scalar<'a>>,
    pub(super) iat: Option<Scalar<'a>>,
    pub(super) ath: Option<Scalar<'a>>,
    pub(super) nonce: Option<Scalar<'a>>,
}

/// A JSON value reduced to what the checks need.
pub(super) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    /// `null`, a boolean, an array or an object.
    Other,
}

impl<'a> Scalar<'a> {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for ProofClaims<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ProofClaims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims object")
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                let mut claims = ProofClaims::default();
                let slot = |name: &str| match name {
                    "jti" => Some(0),
                    "htm" => Some(1),
                    "htu" => Some(2),
                    "iat" => Some(3),
                    "ath" => Some(4),
                    "nonce" => Some(5),
                    _ => None,
                };
                walk(access, MAX_CLAIMS, slot, |bit, access| {
                    let target = match bit {
                        0 => &mut claims.jti,
                        1 => &mut claims.htm,
                        2 => &mut claims.htu,
                        3 => &mut claims.iat,
                        4 => &mut claims.ath,
                        _ => &mut claims.nonce,
                    };
                    *target = Some(access.next_value()?);
                    Ok(())
                })?;
                Ok(claims)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            #[allow(clippy::cast_precision_loss, reason = "only compared with the clock")]
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v as f64))
            }
            #[allow(clippy::cast_precision_loss, reason = "only compared with the clock")]
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::jose::parse;

    #[test]
    fn claims_keep_their_json_type() {
        let claims: ProofClaims<'_> = parse(
            br#"{"jti":"j","htm":1,"htu":["u"],"iat":1700000000.5,"ath":null,"nonce":{"a":[1]},"extra":true}"#,
        )
        .unwrap();
        assert_eq!(claims.jti.as_ref().and_then(Scalar::as_str), Some("j"));
        assert!(matches!(claims.htm, Some(Scalar::Num(_))));
        assert!(matches!(claims.htu, Some(Scalar::Other)));
        assert!(matches!(claims.iat, Some(Scalar::Num(n)) if n > 1.7e9));
        assert!(matches!(claims.ath, Some(Scalar::Other)));
        assert!(matches!(claims.nonce, Some(Scalar::Other)));
    }
    #[test]
    fn duplicate_and_too_many_claims_are_refused() {
        assert!(parse::<ProofClaims<'_>>(br#"{"jti":"a","jti":"b"}"#).is_none());
        assert!(parse::<ProofClaims<'_>>(br#"{"x":1,"x":2}"#).is_none());
        let claims = |n: usize| {
            let members: Vec<String> = (0..n).map(|i| format!("\"c{i}\":{i}")).collect();
            format!("{{{}}}", members.join(","))
        };
        assert!(parse::<ProofClaims<'_>>(claims(MAX_CLAIMS).as_bytes()).is_some());
        assert!(parse::<ProofClaims<'_>>(claims(MAX_CLAIMS + 1).as_bytes()).is_none());
    }
}
