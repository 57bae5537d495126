//! A compact JWS taken apart (RFC 7515 §7.1), and every check of its JOSE header: the member
//! cap and unique names, `crit` and `b64`, the algorithm allowlist, `typ`. Nothing here is
//! trusted yet: the payload is parsed once, so that its unverified `iss` can choose the
//! issuer whose rules and keys apply (RFC 8725 §3.8), and the signature is checked afterwards
//! with the key the header names.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::claims::Hint;
use crate::rejection::InvalidToken;

/// What a token's JOSE header must satisfy for one issuer: its allowlist and `typ` rule.
#[derive(Debug)]
pub(crate) struct HeaderRules {
    /// The algorithm allowlist (RFC 8725 §3.1); never contains `none`, which is no
    /// [`Algorithm`].
    pub(crate) algorithms: Vec<Algorithm>,
    /// Accept `typ: JWT` (`TrustedIssuer::accept_typ_jwt`).
    pub(crate) accept_jwt: bool,
    /// Accept a header without `typ` (`TrustedIssuer::accept_missing_typ`).
    pub(crate) accept_missing: bool,
}

impl HeaderRules {
    pub(crate) fn new(algorithms: Vec<Algorithm>, accept_jwt: bool, accept_missing: bool) -> Self {
        Self {
            algorithms,
            accept_jwt,
            accept_missing,
        }
    }

    /// The issuer's header checks, after the ones every token gets in [`parse`]: the
    /// algorithm to verify with when they pass.
    pub(crate) fn check(&self, jws: &Jws<'_>) -> Result<Algorithm, InvalidToken> {
        let header = &jws.header;
        // RFC 8725 §3.1: only allowlisted algorithms; `none` can never be on the list.
        let alg = Algorithm::from_jws_name(&header.alg)
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or(InvalidToken::Algorithm)?;
        check_typ(header.typ.as_deref(), self.accept_jwt, self.accept_missing)?;
        Ok(alg)
    }
}

/// RFC 7515 §4.1.9: the `application/` prefix may be left out, and the whole media type,
/// prefix included, compares case-insensitively (RFC 2045 §5.1).
fn subtype(t: &str) -> &str {
    match t.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
        _ => t,
    }
}

/// RFC 9068 §4 step 2 (through RFC 8725 §3.11): the `typ` header must be `at+jwt`, with or
/// without the `application/` prefix, compared case-insensitively (RFC 7515 §4.1.9); `JWT`
/// and no `typ` only where the issuer's switches say so.
fn check_typ(
    typ: Option<&str>,
    accept_jwt: bool,
    accept_missing: bool,
) -> Result<(), InvalidToken> {
    match typ.map(subtype) {
        Some(t) if t.eq_ignore_ascii_case("at+jwt") => Ok(()),
        Some(t) if accept_jwt && t.eq_ignore_ascii_case("JWT") => Ok(()),
        None if accept_missing => Ok(()),
        _ => Err(InvalidToken::Type),
    }
}

/// The switch that would have accepted a token refused for its `typ`, if one would.
pub(crate) fn typ_hint(jws: &Jws<'_>) -> Option<Hint> {
    match jws.header.typ.as_deref().map(subtype) {
        None => Some(Hint::TypMissing),
        Some(t) if t.eq_ignore_ascii_case("JWT") => Some(Hint::TypJwt),
        Some(_) => None,
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

/// A compact JWE (RFC 7516 §7.1): five segments, four dots. RFC 7516 §9 tells a JWE from a JWS
/// by this count alone. Stops at the fifth dot, so a long token with many is not scanned
/// further than needed.
pub(crate) fn is_jwe_shaped(token: &str) -> bool {
    token.matches('.').take(5).count() == 4
}

/// Splits a compact JWS, parses its header and its payload, and makes the checks that do not
/// depend on the issuer. The payload is parsed here, once, and its claims are what the claim
/// checks read after the signature: nothing parses it a second time. Its size is bounded by
/// the engine's `max_token_bytes` before this runs.
pub(crate) fn parse(token: &str) -> Result<Jws<'_>, InvalidToken> {
    let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(InvalidToken::Malformed)?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(InvalidToken::Malformed)?;
    let header = parse_header(&decode_segment(header_b64)?)?;
    // RFC 7515 §4.1.11: tollgate implements no extension, so any `crit` is unknown.
    // RFC 7797 `b64` only exists together with `crit`; refuse it in any form, before anything
    // is read from a payload it might say is not base64url.
    if header.extensions {
        return Err(InvalidToken::Critical);
    }
    // RFC 7519 §4: one JSON object with unique names.
    let claims = crate::json::unique_object(&decode_segment(payload_b64)?)
        .map_err(|_| InvalidToken::Malformed)?;
    let signature = decode_segment(signature_b64)?;
    Ok(Jws {
        signing_input,
        signature,
        header,
        claims,
    })
}

/// A compact JWS split into its parts, its payload parsed; nothing verified yet.
pub(crate) struct Jws<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
    header: JoseHeader,
    /// The payload's claims, not to be trusted before the signature is verified.
    pub(crate) claims: Map<String, Value>,
}

/// At most this many members in a JOSE header. Real headers have three to six (`alg`, `typ`,
/// `kid`, sometimes `x5t`, `jku`, `cty`); the cap bounds the duplicate check below, so a
/// header costs time linear in its length whatever it contains.
pub(crate) const MAX_HEADER_MEMBERS: usize = 32;

/// The header members tollgate acts on. `jku`, `x5u`, `jwk` and `x5c` are deliberately not
/// read: keys come only from the configured key set (RFC 8725 §3.10).
struct JoseHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    /// Whether `crit` or `b64` is present, whatever its value (`null` included): the engine
    /// refuses both, since tollgate implements no extension (RFC 7515 §4.1.11, RFC 7797).
    extensions: bool,
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

impl Jws<'_> {
    /// The header's `kid`, which names the key to verify with.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The payload's `iss`, unverified: it only chooses whose keys to try (RFC 8725 §3.8).
    /// `None` when absent or not a string.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn segments_are_strict_base64url() {
        assert!(decode_segment("eyJ9").is_ok());
        assert!(decode_segment("eyJ9=").is_err());
        assert!(decode_segment("ey+9").is_err());
        assert!(decode_segment("ey/9").is_err());
        assert!(decode_segment("").is_err());
    }

    #[test]
    fn typ_rules() {
        let strict = |typ| check_typ(typ, false, false).is_ok();
        assert!(strict(Some("at+jwt")));
        assert!(strict(Some("AT+JWT")));
        assert!(strict(Some("application/at+jwt")));
        assert!(strict(Some("APPLICATION/AT+JWT")));
        assert!(strict(Some("Application/at+JWT")));
        assert!(!strict(Some("application/")));
        assert!(!strict(Some("application/jwt")));
        assert!(!strict(Some("JWT")));
        assert!(!strict(None));
        let lax = |typ| check_typ(typ, true, true).is_ok();
        assert!(lax(Some("JWT")));
        assert!(lax(None));
        assert!(lax(Some("Application/JWT")));
        assert!(!lax(Some("id_token+jwt")));
        // Each switch relaxes one thing only.
        let jwt_only = |typ| check_typ(typ, true, false).is_ok();
        assert!(jwt_only(Some("JWT")) && !jwt_only(None));
        let missing_only = |typ| check_typ(typ, false, true).is_ok();
        assert!(missing_only(None) && !missing_only(Some("JWT")));
    }

    /// A token with this header, the payload `{"iss":"i"}` and a one-byte signature.
    fn token(header: &str) -> String {
        format!(
            "{}.{}.AA",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(r#"{"iss":"i"}"#)
        )
    }

    #[test]
    fn header_checks_run_in_order() {
        let rules = HeaderRules::new(vec![Algorithm::ES256], false, false);
        let check = |header: &str| {
            let token = token(header);
            rules.check(&parse(&token)?)
        };
        assert_eq!(
            check(r#"{"alg":"ES256","typ":"at+jwt"}"#),
            Ok(Algorithm::ES256)
        );
        // `crit` first, whatever else is wrong.
        assert_eq!(
            check(r#"{"alg":"none","crit":["exp"]}"#),
            Err(InvalidToken::Critical)
        );
        // An algorithm outside the allowlist, then `typ`.
        assert_eq!(
            check(r#"{"alg":"RS256","typ":"at+jwt"}"#),
            Err(InvalidToken::Algorithm)
        );
        assert_eq!(check(r#"{"alg":"none"}"#), Err(InvalidToken::Algorithm));
        assert_eq!(
            check(r#"{"alg":"ES256","typ":"JWT"}"#),
            Err(InvalidToken::Type)
        );
    }

    #[test]
    fn jwe_and_jws_shapes() {
        assert!(is_jwt_shaped("a.b.c") && !is_jwt_shaped("a.b") && !is_jwt_shaped("a.b.c.d"));
        assert!(
            is_jwe_shaped("a.b.c.d.e") && !is_jwe_shaped("a.b.c") && !is_jwe_shaped("a.b.c.d.e.f")
        );
    }
}
