//! The bearer token of a request (RFC 6750 §2.1), for code that calls
//! [`Tollgate::validate`](crate::Tollgate::validate) outside the layer.
//!
//! The layer and route annotations use exactly this function. Only the `Authorization` header
//! is read: a token in the URI query is refused (URLs end up in logs), and form-encoded body
//! tokens (RFC 6750 §2.2) are not read.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, HeaderValue, StatusCode, header::AUTHORIZATION};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer mF_9.B5f-4.1JqM"));
//! assert_eq!(tollgate::bearer::extract(&headers, None), Ok("mF_9.B5f-4.1JqM"));
//!
//! // Another scheme is no bearer token (401), a token in the query a malformed request (400).
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
//! let refused = tollgate::bearer::extract(&headers, None).unwrap_err();
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! let refused = tollgate::bearer::extract(&HeaderMap::new(), Some("access_token=x")).unwrap_err();
//! assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
//! ```

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::rejection::Rejection;

/// Takes the bearer token from the `Authorization` header; `query` is the request URI's query,
/// if any (`uri.query()`), only looked at to refuse a token there.
///
/// RFC 6750 §2.1: `Bearer 1*SP b64token`, the scheme case-insensitive (RFC 9110 §11.1). Another
/// scheme, or no header, is "no token" ([`Rejection::MissingToken`], 401 without an error
/// code). Two `Authorization` headers, a token also in the query (RFC 6750 §2.3 allows one
/// method per request), a token only in the query, `Bearer` without a token and a token that is
/// not a `b64token` are a malformed request ([`Rejection::InvalidRequest`], 400).
///
/// # Errors
/// The [`Rejection`] to answer with, as the layer would.
pub fn extract<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, Rejection> {
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

/// Takes the access token of `Authorization: DPoP <token>` (RFC 9449 §7.1: the same
/// `token68`-like syntax as a bearer token), for a request that [`extract`] found no bearer
/// token in. Another scheme or no header is [`Rejection::MissingToken`]; the scheme without a
/// token, a token that is not a `b64token`, or a token also in the query is a malformed
/// request.
pub(crate) fn extract_dpop<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<&'a str, Rejection> {
    // `extract` already refused two headers and a value that is not visible ASCII.
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(Rejection::MissingToken);
    };
    let value = value.trim_matches(' ');
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("dpop") {
        return Err(Rejection::MissingToken);
    }
    if query.is_some_and(query_has_access_token) {
        return Err(Rejection::InvalidRequest(
            "the access token was sent in more than one place",
        ));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(Rejection::InvalidRequest(
            "the DPoP scheme was given without a token",
        ));
    }
    if !is_b64token(token) {
        return Err(Rejection::InvalidRequest(
            "the DPoP access token is not a valid b64token",
        ));
    }
    Ok(token)
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Every request scans its whole token here. Each byte's class is computed with compares
    // only and folded without an early exit: no data-dependent branch and no table lookup, so
    // the loop is vectorised, 32 bytes at a time with AVX2 (a table lookup cannot be).
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & is_b64token_byte(b))
}

/// A byte of a `b64token` before its `=` padding.
#[inline]
fn is_b64token_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

fn query_has_access_token(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
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
    fn b64token_bytes_are_exactly_those_of_rfc_6750() {
        for b in 0..=u8::MAX {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            extract(&headers(&["Bearer abc.def-_~+/="]), None),
            Ok("abc.def-_~+/=")
        );
        assert_eq!(extract(&headers(&["bearer abc"]), None), Ok("abc"));
        assert_eq!(extract(&headers(&["BEARER   abc"]), None), Ok("abc"));
        assert_eq!(extract(&headers(&[]), None), Err(Rejection::MissingToken));
        assert_eq!(
            extract(&headers(&["Basic dXNlcjpwYXNz"]), None),
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
                    extract(&headers(&[bad]), None),
                    Err(Rejection::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            extract(&headers(&["Bearer a", "Bearer b"]), None),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            extract(&headers(&["Bearer a"]), Some("x=1&access_token=b")),
            Err(Rejection::InvalidRequest(_))
        ));
        assert_eq!(
            extract(&headers(&["Bearer a"]), Some("x=1&not_access_token=b")),
            Ok("a")
        );
    }
}
