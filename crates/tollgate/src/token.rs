//! Finding the bearer token in a request (RFC 6750 §2) and taking a JWT apart (RFC 7515 §7.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::rejection::{InvalidToken, Rejection};

/// Takes the bearer token from the `Authorization` header.
///
/// RFC 6750 §2.1: `Bearer 1*SP b64token`, the scheme case-insensitive (RFC 9110 §11.1). Another
/// scheme, or no header, is "no token" (401 without an error code). Two `Authorization`
/// headers, or a token also in the query (RFC 6750 §2.3 allows one method per request), are a
/// malformed request (400).
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<&'a str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let in_query = query.is_some_and(query_has_access_token);
    let Some(value) = first else {
        if in_query {
            return Err(Rejection::InvalidRequest(
                "access tokens in the URI query are not accepted; use the Authorization header",
            ));
        }
        return Err(Rejection::MissingToken);
    };
    // Non-visible-ASCII bytes cannot be part of a b64token.
    let Ok(value) = value.to_str() else {
        return Err(Rejection::InvalidRequest(
            "the Authorization header is not printable ASCII",
        ));
    };
    let value = value.trim_matches(' ');
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::MissingToken);
    }
    if in_query {
        return Err(Rejection::InvalidRequest(
            "the access token was sent in more than one place",
        ));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(Rejection::InvalidRequest(
            "the Bearer scheme was given without a token",
        ));
    }
    if !is_b64token(token) {
        return Err(Rejection::InvalidRequest(
            "the bearer token is not a valid b64token",
        ));
    }
    Ok(token)
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Every request scans its whole token here: a table lookup folded without an early exit
    // has no data-dependent branch, about three times faster than testing each byte's class.
    !body.is_empty()
        && body
            .bytes()
            .fold(true, |ok, b| ok & B64TOKEN_BYTE[usize::from(b)])
}

/// The bytes of a `b64token` before its `=` padding.
static B64TOKEN_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation, reason = "i < 256")]
        let b = i as u8;
        table[i] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        i += 1;
    }
    table
};

fn query_has_access_token(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
}

/// A compact JWS split into its parts; nothing verified yet.
pub(crate) struct Jws<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload_b64: &'a str,
    pub(crate) signature: Vec<u8>,
    pub(crate) header: JoseHeader,
}

/// At most this many members in a JOSE header. Real headers have three to six (`alg`, `typ`,
/// `kid`, sometimes `x5t`, `jku`, `cty`); the cap bounds the duplicate check below, so a
/// header costs time linear in its length whatever it contains.
pub(crate) const MAX_HEADER_MEMBERS: usize = 32;

/// The header members tollgate acts on. `jku`, `x5u`, `jwk` and `x5c` are deliberately not
/// read: keys come only from the configured key set (RFC 8725 §3.10).
pub(crate) struct JoseHeader {
    pub(crate) alg: String,
    pub(crate) typ: Option<String>,
    pub(crate) kid: Option<String>,
    /// Whether `crit` or `b64` is present, whatever its value (`null` included): the engine
    /// refuses both, since tollgate implements no extension (RFC 7515 §4.1.11, RFC 7797).
    pub(crate) extensions: bool,
}

impl<'de> Deserialize<'de> for JoseHeader {
    /// One pass over the header's members, refusing any name seen twice (RFC 7515 §4: names
    /// MUST be unique), without building an intermediate map. More than
    /// [`MAX_HEADER_MEMBERS`] members refuse the header: the check for repeated unknown names
    /// compares each with at most that many others, so the whole parse stays linear.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = JoseHeader;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<JoseHeader, A::Error> {
                use serde::de::Error as _;
                let (mut alg, mut typ, mut kid) = (None, None, None);
                // Which of alg, typ, kid, crit, b64 were seen; other names are kept to catch
                // their repetition too (headers rarely have any).
                let mut known = [false; 5];
                let mut others: Vec<String> = Vec::new();
                let mut extensions = false;
                let mut members = 0_usize;
                while let Some(name) = access.next_key::<std::borrow::Cow<'de, str>>()? {
                    members += 1;
                    if members > MAX_HEADER_MEMBERS {
                        return Err(A::Error::custom("too many header members"));
                    }
                    let slot = match name.as_ref() {
                        "alg" => Some(0),
                        "typ" => Some(1),
                        "kid" => Some(2),
                        "crit" => Some(3),
                        "b64" => Some(4),
                        _ => None,
                    };
                    let repeated = match slot {
                        Some(i) => std::mem::replace(&mut known[i], true),
                        None if others.iter().any(|o| *o == name) => true,
                        None => {
                            others.push(name.clone().into_owned());
                            false
                        }
                    };
                    if repeated {
                        return Err(A::Error::custom("duplicate header member"));
                    }
                    match slot {
                        Some(0) => alg = Some(access.next_value::<String>()?),
                        Some(1) => typ = access.next_value::<Option<String>>()?,
                        Some(2) => kid = access.next_value::<Option<String>>()?,
                        Some(_) => {
                            access.next_value::<serde::de::IgnoredAny>()?;
                            extensions = true;
                        }
                        None => {
                            access.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let alg = alg.ok_or_else(|| A::Error::missing_field("alg"))?;
                Ok(JoseHeader {
                    alg,
                    typ,
                    kid,
                    extensions,
                })
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// Whether a token has the compact JWS shape (three segments); anything else is treated as
/// opaque and left to introspection.
pub(crate) fn is_jwt_shaped(token: &str) -> bool {
    // Runs on every request, cache hits included: `matches` finds a one-byte pattern with
    // `memchr`, a word at a time, and stops at the third dot, where counting byte by byte
    // cost about a fifth of a verified-token cache hit on an RS256 token.
    token.matches('.').take(3).count() == 2
}

/// Splits and decodes a compact JWS (RFC 7515 §7.1).
pub(crate) fn split_jws(token: &str) -> Result<Jws<'_>, InvalidToken> {
    let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(InvalidToken::Malformed)?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(InvalidToken::Malformed)?;
    let header_bytes = decode_segment(header_b64)?;
    let header = parse_header(&header_bytes)?;
    let signature = decode_segment(signature_b64)?;
    Ok(Jws {
        signing_input,
        payload_b64,
        signature,
        header,
    })
}

/// Parses a JOSE header: one JSON object, nothing after it.
fn parse_header(bytes: &[u8]) -> Result<JoseHeader, InvalidToken> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let header = JoseHeader::deserialize(&mut de).map_err(|_| InvalidToken::Malformed)?;
    de.end().map_err(|_| InvalidToken::Malformed)?;
    Ok(header)
}

/// Strict base64url without padding (RFC 7515 §2): `=`, `+`, `/` and whitespace are refused.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    if segment.is_empty() {
        return Err(InvalidToken::Malformed);
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| InvalidToken::Malformed)
}

/// Parses the payload into a map of claims, refusing duplicate names and non-objects.
pub(crate) fn parse_claims(bytes: &[u8]) -> Result<Map<String, Value>, InvalidToken> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let map = NoDuplicates::deserialize(&mut de).map_err(|_| InvalidToken::Malformed)?;
    de.end().map_err(|_| InvalidToken::Malformed)?;
    Ok(map.0)
}

struct NoDuplicates(Map<String, Value>);

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = NoDuplicates;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    map.insert(key, value);
                }
                Ok(NoDuplicates(map))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// The `alg` names tollgate knows, matched exactly (RFC 7515 §4.1.1: case-sensitive), so
/// `none`, `None`, `NONE` and any other spelling are simply unknown.
pub(crate) fn parse_alg(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_~+/="]), None),
            Ok("abc.def-_~+/=")
        );
        assert_eq!(bearer_token(&headers(&["bearer abc"]), None), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["BEARER   abc"]), None), Ok("abc"));
        assert_eq!(
            bearer_token(&headers(&[]), None),
            Err(Rejection::MissingToken)
        );
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcjpwYXNz"]), None),
            Err(Rejection::MissingToken)
        );
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer ===",
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(&[bad]), None),
                    Err(Rejection::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"]), None),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a"]), Some("x=1&access_token=b")),
            Err(Rejection::InvalidRequest(_))
        ));
        assert_eq!(
            bearer_token(&headers(&["Bearer a"]), Some("x=1&not_access_token=b")),
            Ok("a")
        );
    }

    #[test]
    fn headers_are_parsed_in_one_pass_and_strictly() {
        let h = parse_header(br#"{"alg":"ES256","typ":"at+jwt","kid":"k1","x5u":"https://x"}"#)
            .unwrap();
        assert_eq!(
            (
                h.alg.as_str(),
                h.typ.as_deref(),
                h.kid.as_deref(),
                h.extensions
            ),
            ("ES256", Some("at+jwt"), Some("k1"), false)
        );
        assert!(
            parse_header(br#"{"alg":"ES256","crit":null}"#)
                .unwrap()
                .extensions
        );
        assert!(
            parse_header(br#"{"alg":"ES256","b64":false}"#)
                .unwrap()
                .extensions
        );
        for bad in [
            &br#"{"alg":"ES256","alg":"none"}"#[..],
            br#"{"alg":"ES256","x":1,"x":2}"#,
            br#"{"typ":"at+jwt"}"#,
            br#"{"alg":1}"#,
            br#"{"alg":"ES256","kid":7}"#,
            br#"{"alg":"ES256"} trailing"#,
            br#"["alg"]"#,
        ] {
            assert!(
                parse_header(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A header of `n` members: `alg`, `typ`, `kid`, then distinct made-up names.
    fn header_with_members(n: usize) -> Vec<u8> {
        let mut header = String::from(r#"{"alg":"ES256","typ":"at+jwt","kid":"k1""#);
        for i in 3..n {
            header.push_str(&format!(r#","m{i}":0"#));
        }
        header.push('}');
        header.into_bytes()
    }

    #[test]
    fn headers_with_too_many_members_are_refused() {
        assert!(parse_header(&header_with_members(MAX_HEADER_MEMBERS)).is_ok());
        assert!(parse_header(&header_with_members(MAX_HEADER_MEMBERS + 1)).is_err());
        // Refused at the cap, so the duplicate check never scans more than the cap: the parse
        // is linear in the header however many members it claims.
        assert!(parse_header(&header_with_members(10_000)).is_err());
        // Duplicates are still found among unknown names, wherever they sit under the cap.
        let mut dup = header_with_members(MAX_HEADER_MEMBERS - 1);
        dup.pop();
        dup.extend_from_slice(br#","m3":1}"#);
        assert!(parse_header(&dup).is_err());
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(parse_claims(br#"{"a":1,"b":2}"#).is_ok());
        assert!(parse_claims(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_claims(br#"[1]"#).is_err());
        assert!(parse_claims(br#"{"a":1} x"#).is_err());
    }

    #[test]
    fn algorithms_are_case_sensitive() {
        assert_eq!(parse_alg("RS256"), Some(Algorithm::RS256));
        for none in ["none", "None", "NONE", "nOnE", "rs256", ""] {
            assert_eq!(parse_alg(none), None);
        }
    }

    #[test]
    fn segments_are_strict_base64url() {
        assert!(decode_segment("eyJ9").is_ok());
        assert!(decode_segment("eyJ9=").is_err());
        assert!(decode_segment("ey+9").is_err());
        assert!(decode_segment("ey/9").is_err());
        assert!(decode_segment("").is_err());
    }
}
