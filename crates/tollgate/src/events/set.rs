//! A Security Event Token taken apart and checked: the compact JWS (RFC 7515 §7.1), its header
//! (`typ: secevent+jwt`, RFC 8417 §2.3 and SSF 1.0 §4.1.1), and its claims (RFC 8417 §2.2, SSF
//! 1.0 §4.1).
//!
//! Two steps, with the signature between them: [`parse`] reads what the signature check needs
//! (and refuses what is not a SET at all), [`Claims::check`] reads the rest once the signature
//! is known good.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::error::{ErrorCode, Refusal};
use super::json::unique_object;
use super::subject::{self, Subject};
use super::types::is_uri;
use crate::alg::Algorithm;

/// At most this many members in the JOSE header (as for access tokens: real headers have
/// three or four).
const MAX_HEADER_MEMBERS: usize = 32;

/// The longest `jti` read, in bytes.
pub(super) const MAX_JTI_BYTES: usize = 1024;

/// The longest issuer read, in bytes (as the shared store's wire format).
const MAX_ISSUER_BYTES: usize = 2048;

/// At most this many events in one SET. SSF 1.0 §4.2.1 wants one; several are alternative
/// URIs of the same event.
const MAX_EVENTS: usize = 8;

/// A compact JWS split and parsed; the signature not checked yet.
pub(super) struct Parsed<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub(super) signing_input: &'a str,
    pub(super) signature: Vec<u8>,
    /// The header's `alg`, an algorithm tollgate verifies, never HMAC.
    pub(super) alg: Result<Algorithm, Refusal>,
    pub(super) kid: Option<String>,
    /// The unverified `iss`, read to pick the keys.
    pub(super) issuer: String,
    pub(super) claims: Map<String, Value>,
}

/// Splits a compact SET and reads its header and claims. Refuses, with `invalid_request`,
/// what is not a signed JWT with the SET type; the algorithm is judged later (an unusable one
/// is `invalid_key`, once the issuer is known to be trusted).
pub(super) fn parse(token: &str) -> Result<Parsed<'_>, Refusal> {
    const NOT_A_JWS: &str = "the body is not a compact JWS (three base64url segments)";
    let dots = token.matches('.').take(5).count();
    if dots == 4 {
        // RFC 7516 §9: five segments are a JWE.
        return Err(Refusal::invalid(
            "encrypted SETs (JWE) are not supported: send it signed (JWS)",
        ));
    }
    if dots != 2 {
        return Err(Refusal::invalid(NOT_A_JWS));
    }
    let (signing_input, signature_b64) =
        token.rsplit_once('.').ok_or(Refusal::invalid(NOT_A_JWS))?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .ok_or(Refusal::invalid(NOT_A_JWS))?;
    let header = decode(header_b64)
        .and_then(|bytes| unique_object(&bytes))
        .ok_or(Refusal::invalid(
            "the JOSE header is not a JSON object with unique member names",
        ))?;
    let claims = decode(payload_b64)
        .and_then(|bytes| unique_object(&bytes))
        .ok_or(Refusal::invalid(
            "the claims are not a JSON object with unique member names",
        ))?;
    // An unsigned JWS (`alg: none`) has an empty signature: judged with the algorithm.
    let signature = if signature_b64.is_empty() {
        Vec::new()
    } else {
        decode(signature_b64).ok_or(Refusal::invalid(NOT_A_JWS))?
    };

    if header.len() > MAX_HEADER_MEMBERS {
        return Err(Refusal::invalid("the JOSE header has too many members"));
    }
    check_typ(header.get("typ"))?;
    // RFC 7515 §4.1.11: the receiver implements no extension, so any `crit` is unknown; RFC
    // 7797 `b64` only exists with `crit`.
    if header.contains_key("crit") || header.contains_key("b64") {
        return Err(Refusal::invalid(
            "the JOSE header names an extension (`crit`, `b64`) this receiver does not implement",
        ));
    }
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Ok(name.as_str()),
        _ => Err(Refusal::invalid("the JOSE header has no `alg` string")),
    }?;
    let alg = algorithm(alg, &signature);
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() => Some(kid.clone()),
        Some(_) => return Err(Refusal::invalid("the JOSE header's `kid` is not a string")),
    };
    let issuer = match claims.get("iss") {
        Some(Value::String(iss)) if !iss.is_empty() && iss.len() <= MAX_ISSUER_BYTES => iss.clone(),
        _ => {
            return Err(Refusal::invalid(
                "the SET has no `iss` string (RFC 8417 §2.2)",
            ));
        }
    };
    Ok(Parsed {
        signing_input,
        signature,
        alg,
        kid,
        issuer,
        claims,
    })
}

/// RFC 8417 §2.3 and SSF 1.0 §4.1.1: `typ` is `secevent+jwt`, with or without the
/// `application/` prefix, compared case-insensitively (RFC 7515 §4.1.9). Required: SSF makes
/// it a MUST, and an API that accepts JWT access tokens is where a SET could pass for one
/// (RFC 8417 §4.2).
fn check_typ(typ: Option<&Value>) -> Result<(), Refusal> {
    let typ = typ.and_then(Value::as_str).unwrap_or("");
    let subtype = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if subtype.eq_ignore_ascii_case("secevent+jwt") {
        Ok(())
    } else {
        Err(Refusal::invalid(
            "the JOSE header's `typ` is not `secevent+jwt` (RFC 8417 §2.3, SSF 1.0 §4.1.1)",
        ))
    }
}

/// The algorithm to verify with. `none`, HMAC (a transmitter shares no secret with its
/// receivers) and names tollgate does not verify are `invalid_key`: no key this receiver
/// accepts can have signed the SET.
fn algorithm(name: &str, signature: &[u8]) -> Result<Algorithm, Refusal> {
    match Algorithm::from_jws_name(name) {
        Some(alg) if !alg.is_hmac() && !signature.is_empty() => Ok(alg),
        Some(_) | None if name == "none" || signature.is_empty() => Err(Refusal::set(
            ErrorCode::InvalidKey,
            "the SET is not signed (RFC 8417 §5: a SET must be signed)",
        )),
        Some(_) => Err(Refusal::set(
            ErrorCode::InvalidKey,
            "the SET is signed with a shared secret (HMAC); only public-key signatures are \
             accepted",
        )),
        None => Err(Refusal::set(
            ErrorCode::InvalidKey,
            "the SET's `alg` is not an algorithm this receiver verifies",
        )),
    }
}

fn decode(segment: &str) -> Option<Vec<u8>> {
    // RFC 7515 §2: base64url without padding; `=`, `+`, `/` and whitespace are refused.
    if segment.is_empty() {
        return None;
    }
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// The claims of a SET whose signature verified, checked.
#[derive(Debug)]
pub(super) struct Claims {
    pub(super) issuer: String,
    pub(super) jti: String,
    /// `iat`, Unix seconds (a fractional NumericDate rounded down).
    pub(super) issued_at: i64,
    /// RFC 8417 §2.2 `toe`: when the event happened, if the issuer shares it.
    pub(super) time_of_event: Option<i64>,
    /// RFC 9493 §4.1 `sub_id`: the primary subject.
    pub(super) subject: Option<Subject>,
    /// The events: URI and payload, in the order sent.
    pub(super) events: Vec<(String, Map<String, Value>)>,
}

/// What the claims are checked against.
pub(super) struct Expect<'a> {
    /// This receiver's audiences: `aud` must contain one.
    pub(super) audiences: &'a [String],
    pub(super) now: i64,
    pub(super) leeway: i64,
    /// SETs issued longer ago are refused; `None` accepts any age.
    pub(super) max_age: Option<i64>,
}

impl Claims {
    /// Checks the claims of a verified SET: audience first (`invalid_audience`), then the
    /// rest (`invalid_request`).
    pub(super) fn check(
        issuer: String,
        mut claims: Map<String, Value>,
        expect: &Expect<'_>,
    ) -> Result<Self, Refusal> {
        // RFC 8935 §2: the recipient must be an intended audience. RFC 8417 makes `aud`
        // only RECOMMENDED, but without it a SET meant for one receiver replays at any
        // other: required.
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => expect.audiences.contains(aud),
            Some(Value::Array(list)) => list.iter().any(|aud| {
                aud.as_str()
                    .is_some_and(|aud| expect.audiences.iter().any(|a| a == aud))
            }),
            _ => false,
        };
        if !audience_ok {
            return Err(Refusal::set(
                ErrorCode::InvalidAudience,
                "the SET's `aud` does not name this receiver",
            ));
        }
        // SSF 1.0 §4.1.2 and §4.1.7: no `sub` (the subject is `sub_id`) and no `exp` (a SET
        // describes the past; RFC 8417 §4.1-§4.2: with `exp`, it could pass for an ID token
        // or an access token).
        if claims.contains_key("sub") {
            return Err(Refusal::invalid(
                "the SET has a `sub` claim; SSF 1.0 §4.1.2 puts the subject in `sub_id`",
            ));
        }
        if claims.contains_key("exp") {
            return Err(Refusal::invalid(
                "the SET has an `exp` claim (SSF 1.0 §4.1.7 forbids it)",
            ));
        }
        let issued_at = numeric_date(claims.get("iat")).ok_or(Refusal::invalid(
            "the SET has no `iat` NumericDate (RFC 8417 §2.2)",
        ))?;
        if issued_at > expect.now.saturating_add(expect.leeway) {
            return Err(Refusal::invalid(
                "the SET's `iat` is in the future beyond the leeway",
            ));
        }
        if let Some(max_age) = expect.max_age
            && issued_at
                < expect
                    .now
                    .saturating_sub(max_age.saturating_add(expect.leeway))
        {
            return Err(Refusal::invalid(
                "the SET's `iat` is older than this receiver accepts",
            ));
        }
        let jti = match claims.get("jti") {
            Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_BYTES => {
                jti.clone()
            }
            _ => {
                return Err(Refusal::invalid(
                    "the SET has no `jti` string (RFC 8417 §2.2)",
                ));
            }
        };
        let time_of_event = match claims.get("toe") {
            None => None,
            value => Some(numeric_date(value).ok_or(Refusal::invalid(
                "the SET's `toe` is not a NumericDate (RFC 8417 §2.2)",
            ))?),
        };
        if claims.get("txn").is_some_and(|txn| !txn.is_string()) {
            return Err(Refusal::invalid(
                "the SET's `txn` is not a string (RFC 8417 §2.2)",
            ));
        }
        let subject = match claims.get("sub_id") {
            None => None,
            Some(value) => Some(subject::parse(value)?),
        };
        let Some(Value::Object(events)) = claims.remove("events") else {
            return Err(Refusal::invalid(
                "the SET has no `events` object (RFC 8417 §2.2)",
            ));
        };
        if events.is_empty() || events.len() > MAX_EVENTS {
            return Err(Refusal::invalid(
                "the SET's `events` has no member, or too many (RFC 8417 §2.2, SSF 1.0 §4.2.1)",
            ));
        }
        let mut list = Vec::with_capacity(events.len());
        for (uri, payload) in events {
            // RFC 8417 §1.2: an event identifier is a URI, its payload an object.
            if !is_uri(&uri) {
                return Err(Refusal::invalid(
                    "an event identifier is not a URI (RFC 8417 §1.2)",
                ));
            }
            let Value::Object(payload) = payload else {
                return Err(Refusal::invalid(
                    "an event payload is not a JSON object (RFC 8417 §1.2)",
                ));
            };
            list.push((uri, payload));
        }
        Ok(Self {
            issuer,
            jti,
            issued_at,
            time_of_event,
            subject,
            events: list,
        })
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds, fractions rounded down.
pub(super) fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let number = value?.as_number()?;
    if let Some(seconds) = number.as_i64() {
        return (seconds >= 0).then_some(seconds);
    }
    let seconds = number.as_f64()?;
    // Beyond i64 or negative: not a time this receiver can use.
    (seconds.is_finite() && (0.0..9.2e18).contains(&seconds)).then(|| seconds.floor() as i64)
}
