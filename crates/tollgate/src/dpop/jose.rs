//! Taking a DPoP proof's JOSE header apart, with its `jwk` (RFC 9449 §4.2), and the
//! one-pass object walk the claims (`claims`) use too.
//!
//! One pass per JSON object, refusing names seen twice (RFC 7515 §4, RFC 7519 §4: names MUST
//! be unique) and objects with more members than a proof ever needs. Strings borrow from the
//! decoded segment unless they hold escapes.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

/// At most this many members in the JOSE header (`typ`, `alg`, `jwk`, and a few optional ones).
pub(super) const MAX_HEADER_MEMBERS: usize = 16;
/// At most this many members in the `jwk` (an RSA key with every optional member has 10).
pub(super) const MAX_JWK_MEMBERS: usize = 16;

/// The JOSE header of a proof.
pub(super) struct ProofHeader<'a> {
    pub(super) typ: Option<Cow<'a, str>>,
    pub(super) alg: Option<Cow<'a, str>>,
    pub(super) jwk: Option<ProofJwk<'a>>,
    /// `crit` or `b64` is present: JWS extensions, which tollgate does not implement (RFC 7515
    /// §4.1.11, RFC 7797).
    pub(super) extensions: bool,
}

/// The `jwk` header member (RFC 7515 §4.1.3).
#[derive(Default)]
pub(super) struct ProofJwk<'a> {
    pub(super) kty: Option<Cow<'a, str>>,
    pub(super) crv: Option<Cow<'a, str>>,
    pub(super) alg: Option<Cow<'a, str>>,
    pub(super) n: Option<Cow<'a, str>>,
    pub(super) e: Option<Cow<'a, str>>,
    pub(super) x: Option<Cow<'a, str>>,
    pub(super) y: Option<Cow<'a, str>>,
    /// A private or symmetric key member is present (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037
    /// §2), whatever its value.
    pub(super) private: bool,
}

/// Parses one JSON object that must be the whole input.
pub(super) fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Remembers the member names of one object: a bit per known name, a short list of the others.
pub(super) struct Names<'a> {
    known: u32,
    others: Vec<Cow<'a, str>>,
    count: usize,
    max: usize,
}

impl<'a> Names<'a> {
    fn new(max: usize) -> Self {
        Self {
            known: 0,
            others: Vec::new(),
            count: 0,
            max,
        }
    }

    /// Notes a member; an error when it was seen before or the object has too many members.
    fn note<E: de::Error>(&mut self, slot: Option<u32>, name: Cow<'a, str>) -> Result<(), E> {
        self.count += 1;
        if self.count > self.max {
            return Err(E::custom("too many members"));
        }
        let repeated = match slot {
            Some(bit) => {
                let mask = 1 << bit;
                let seen = self.known & mask;
                self.known |= mask;
                seen
            }
            None if self.others.contains(&name) => 1,
            None => {
                self.others.push(name);
                0
            }
        };
        if repeated != 0 {
            return Err(E::custom("duplicate member"));
        }
        Ok(())
    }
}

/// Walks the members of a JSON object: `slot` maps a name to its bit (or `None` for a name
/// that is only checked for repetition), `read` takes the value of a known name.
pub(super) fn walk<'de, A, F>(
    mut access: A,
    max: usize,
    slot: fn(&str) -> Option<u32>,
    mut read: F,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    F: FnMut(u32, &mut A) -> Result<(), A::Error>,
{
    let mut names = Names::new(max);
    while let Some(Text(name)) = access.next_key::<Text<'de>>()? {
        let bit = slot(&name);
        names.note::<A::Error>(bit, name)?;
        match bit {
            Some(bit) => read(bit, &mut access)?,
            None => {
                access.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

impl<'de> Deserialize<'de> for ProofHeader<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ProofHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                let mut header = ProofHeader {
                    typ: None,
                    alg: None,
                    jwk: None,
                    extensions: false,
                };
                let slot = |name: &str| match name {
                    "typ" => Some(0),
                    "alg" => Some(1),
                    "jwk" => Some(2),
                    "crit" => Some(3),
                    "b64" => Some(4),
                    _ => None,
                };
                walk(access, MAX_HEADER_MEMBERS, slot, |bit, access| {
                    match bit {
                        0 => header.typ = Some(access.next_value::<Text<'de>>()?.0),
                        1 => header.alg = Some(access.next_value::<Text<'de>>()?.0),
                        2 => header.jwk = Some(access.next_value()?),
                        _ => {
                            access.next_value::<IgnoredAny>()?;
                            header.extensions = true;
                        }
                    }
                    Ok(())
                })?;
                Ok(header)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

impl<'de> Deserialize<'de> for ProofJwk<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ProofJwk<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWK object")
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                let mut jwk = ProofJwk::default();
                let slot = |name: &str| match name {
                    "kty" => Some(0),
                    "crv" => Some(1),
                    "alg" => Some(2),
                    "n" => Some(3),
                    "e" => Some(4),
                    "x" => Some(5),
                    "y" => Some(6),
                    // Private and symmetric members.
                    "d" => Some(7),
                    "p" => Some(8),
                    "q" => Some(9),
                    "dp" => Some(10),
                    "dq" => Some(11),
                    "qi" => Some(12),
                    "oth" => Some(13),
                    "k" => Some(14),
                    _ => None,
                };
                walk(access, MAX_JWK_MEMBERS, slot, |bit, access| {
                    let target = match bit {
                        0 => &mut jwk.kty,
                        1 => &mut jwk.crv,
                        2 => &mut jwk.alg,
                        3 => &mut jwk.n,
                        4 => &mut jwk.e,
                        5 => &mut jwk.x,
                        6 => &mut jwk.y,
                        _ => {
                            access.next_value::<IgnoredAny>()?;
                            jwk.private = true;
                            return Ok(());
                        }
                    };
                    *target = Some(access.next_value::<Text<'de>>()?.0);
                    Ok(())
                })?;
                Ok(jwk)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// A JSON string that borrows from the input when it holds no escape (serde's own `Cow`
/// always copies).
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_jwk() {
        let bytes = br#"{"typ":"dpop+jwt","alg":"ES256","kid":"k","jwk":{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag","use":"sig"}}"#;
        let header: ProofHeader<'_> = parse(bytes).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg.as_deref(), Some("ES256"));
        assert!(!header.extensions);
        let jwk = header.jwk.unwrap();
        assert_eq!(
            (
                jwk.kty.as_deref(),
                jwk.crv.as_deref(),
                jwk.x.as_deref(),
                jwk.y.as_deref()
            ),
            (Some("EC"), Some("P-256"), Some("AQ"), Some("Ag"))
        );
        assert!(!jwk.private);
        // Without escapes, strings borrow from the input.
        assert!(matches!(jwk.x, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn private_members_are_noticed_whatever_their_value() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            for value in ["\"AQ\"", "null", "[]", "1"] {
                let text = format!(r#"{{"kty":"EC","{member}":{value}}}"#);
                let jwk: ProofJwk<'_> = parse(text.as_bytes()).unwrap();
                assert!(jwk.private, "{text}");
            }
        }
    }

    #[test]
    fn extensions_are_noticed() {
        for text in [
            r#"{"alg":"ES256","crit":["x"]}"#,
            r#"{"alg":"ES256","b64":false}"#,
        ] {
            let header: ProofHeader<'_> = parse(text.as_bytes()).unwrap();
            assert!(header.extensions, "{text}");
        }
    }

    #[test]
    fn duplicates_oversized_objects_and_trailing_bytes_are_refused() {
        let many_header = format!(
            "{{{}}}",
            (0..=MAX_HEADER_MEMBERS)
                .map(|i| format!("\"h{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(parse::<ProofHeader<'_>>(many_header.as_bytes()).is_none());
        for bad in [
            &br#"{"alg":"ES256","alg":"none"}"#[..],
            br#"{"alg":"ES256","kid":"a","kid":"b"}"#,
            br#"{"alg":"ES256","jwk":{"kty":"EC","kty":"RSA"}}"#,
            br#"{"alg":"ES256","jwk":{"kty":"EC","x5c":[],"x5c":[]}}"#,
            br#"{"alg":"ES256","jwk":"not an object"}"#,
            br#"{"alg":1}"#,
            br#"{"alg":"ES256"} x"#,
            br#"["alg"]"#,
        ] {
            assert!(
                parse::<ProofHeader<'_>>(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
