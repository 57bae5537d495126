//! Entry points for the fuzz targets in `fuzz/` at the repository root: thin wrappers around
//! tollgate's own parsers, so that a fuzzer reaches them without HTTP or an authorization server.
//!
//! Not part of the API: compiled only with the `fuzzing` feature, hidden from the docs, and
//! free to change with any release. Nothing here panics; a panic found through these functions
//! is a defect of the library.
//!
//! The token entry points validate against one fixed, in-memory key set: an HMAC secret
//! ([`SECRET`], HS256/384/512), with issuer [`ISSUER`] and audience [`AUDIENCE`], in strict
//! RFC 9068 mode. A fuzzer cannot forge an HMAC, so [`validate_signed`] signs what it is given
//! first: that is how fuzzed claims and headers get past the signature to the claim checks.

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};

use crate::{Algorithm, Principal, Tollgate};

/// The HMAC secret of the fixed key set: 64 bytes, long enough for HS512 (RFC 7518 §3.2).
pub const SECRET: &[u8; 64] = b"tollgate fuzzing secret: not a secret, only 64 bytes long......!";

/// The issuer the fixed engine expects in `iss`.
pub const ISSUER: &str = "https://as.fuzzing.test";

/// The audience the fixed engine expects in `aud`.
pub const AUDIENCE: &str = "https://api.fuzzing.test";

/// The engine the token entry points use; `None` only if it could not be built.
fn engine() -> Option<&'static Tollgate> {
    static ENGINE: OnceLock<Option<Tollgate>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Tollgate::builder()
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .hmac_secret(SECRET.to_vec())
                .build()
                .ok()
        })
        .as_ref()
}

/// Runs `token` through the whole local validation path (size, shape, header, algorithm,
/// `typ`, key, signature, claims, the verified-token cache) against the fixed key set.
///
/// `None` when no decision could be made without waiting, which the fixed key set never
/// causes: there is nothing to fetch and no introspection.
pub fn validate(token: &str) -> Option<Principal> {
    engine()?.validate(token).now_or_never()?.ok()
}

/// Signs `header` and `payload`, exactly these bytes, with HS256 and the fixed secret, then
/// runs the token through [`validate`]. Returns the token and the principal if accepted.
pub fn validate_signed(header: &[u8], payload: &[u8]) -> (String, Option<Principal>) {
    let token = sign(header, payload, Algorithm::HS256);
    let principal = validate(&token);
    (token, principal)
}

/// A compact JWS of exactly these bytes, signed with the fixed secret and `alg` (HS256, HS384
/// or HS512; any other algorithm signs with HS256).
pub fn sign(header: &[u8], payload: &[u8], alg: Algorithm) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let key = hmac::Key::new(hmac_algorithm(alg), SECRET);
    let tag = hmac::sign(&key, token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(tag.as_ref()));
    token
}

/// Whether `token` carries a correct HS256, HS384 or HS512 signature by the fixed secret over
/// its signed part, checked independently of the engine: the oracle for "nothing passes
/// without a valid signature".
pub fn has_valid_signature(token: &str) -> bool {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
        .into_iter()
        .any(|alg| {
            let key = hmac::Key::new(hmac_algorithm(alg), SECRET);
            hmac::verify(&key, signed.as_bytes(), &signature).is_ok()
        })
}

fn hmac_algorithm(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

/// Takes a bearer token from these `Authorization` field values and this URI query, as the
/// middleware does (RFC 6750 §2.1, §2.3). Values that are not valid field values are skipped.
/// Returns the token, or the HTTP status of the rejection.
pub fn bearer_token(values: &[&[u8]], query: Option<&str>) -> Result<String, u16> {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(AUTHORIZATION, value);
        }
    }
    crate::bearer::extract(&headers, query)
        .map(str::to_owned)
        .map_err(|rejection| rejection.status().as_u16())
}

/// Parses a JWKS body as a key-set refresh does, with the default asymmetric algorithms.
/// Returns the number of usable keys, or why the document is unusable.
pub fn parse_jwks(body: &[u8]) -> Result<usize, String> {
    crate::keys::parse_jwks_for_fuzzing(body, &crate::alg::DEFAULT_ALGORITHMS)
}

/// Parses an introspection answer as the introspection client does (RFC 7662 §2.2), at time
/// `now` (seconds since the epoch) with a 60 s leeway. `Ok(true)` for an active answer,
/// `Ok(false)` for an inactive one (or one that is expired or not yet valid), `Err` for an
/// answer that is no answer at all.
pub fn parse_introspection(body: &[u8], now: i64) -> Result<bool, &'static str> {
    crate::introspection::parse_answer_for_fuzzing(body, now, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"s","client_id":"c","jti":"j","iat":{now},"exp":{}}}"#,
            now + 300
        )
    }

    #[test]
    fn a_signed_token_passes_and_a_tampered_one_does_not() {
        let header = br#"{"alg":"HS256","typ":"at+jwt"}"#;
        let (token, principal) = validate_signed(header, claims().as_bytes());
        assert_eq!(
            principal
                .and_then(|p| p.subject().map(str::to_owned))
                .as_deref(),
            Some("s")
        );
        assert!(has_valid_signature(&token));
        // Another last character that is still canonical base64url for a 32-byte signature
        // (its two low bits zero), so the tampered token differs whatever the signature was.
        let last = if token.ends_with('A') { 'E' } else { 'A' };
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        assert_ne!(tampered, token);
        assert!(validate(&tampered).is_none());
        let hs512 = sign(
            br#"{"alg":"HS512","typ":"at+jwt"}"#,
            claims().as_bytes(),
            Algorithm::HS512,
        );
        assert!(validate(&hs512).is_some() && has_valid_signature(&hs512));
    }

    #[test]
    fn the_other_parsers_answer() {
        assert_eq!(bearer_token(&[b"Bearer abc"], None), Ok("abc".to_owned()));
        assert_eq!(bearer_token(&[b"Bearer a", b"Bearer b"], None), Err(400));
        assert_eq!(bearer_token(&[], None), Err(401));
        assert!(parse_jwks(b"{}").is_err());
        assert_eq!(parse_jwks(br#"{"keys":[]}"#), Ok(0));
        assert_eq!(parse_introspection(br#"{"active":true}"#, 0), Ok(true));
        assert_eq!(parse_introspection(br#"{"active":false}"#, 0), Ok(false));
        assert!(parse_introspection(br#"{"active":"true"}"#, 0).is_err());
    }
}
