//! Claims to principal data: the claim checks of RFC 9068 §4 and RFC 8725 on a
//! signature-verified payload, and the time checks every verified-token cache hit repeats.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::keys::VerifyKey;
use crate::principal::{Scopes, StandardClaims, TokenFormat, TokenInfo};
use crate::rejection::{InvalidToken, Responder};

/// The configured expectations every token is held to.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    /// One leeway, in seconds, for every time check.
    pub(crate) leeway: i64,
    /// Relax the RFC 9068 §2.2 required claims (`TollgateBuilder::allow_untyped_tokens`, which
    /// also relaxes the `typ` rule of `jws::HeaderRules`).
    pub(crate) allow_untyped: bool,
    /// Accept scopes as a `scp` array (compatibility).
    pub(crate) accept_scp: bool,
}

/// Checks the claims of a verified JWT and builds what the principal will expose.
pub(crate) fn token_info(
    claims: Map<String, Value>,
    rules: &ClaimRules,
    now: i64,
    key: Arc<VerifyKey>,
    responder: &Arc<Responder>,
) -> Result<TokenInfo, InvalidToken> {
    let strict = !rules.allow_untyped;

    // RFC 9068 §4 step 3 / RFC 7519 §4.1.1: the issuer must match exactly.
    let issuer = string_claim(&claims, "iss")?.ok_or(InvalidToken::MissingClaim("iss"))?;
    if issuer != rules.issuer {
        return Err(InvalidToken::Issuer);
    }

    // RFC 9068 §4 step 4: the audience must name this resource.
    let audiences = audience_claim(&claims)?.ok_or(InvalidToken::MissingClaim("aud"))?;
    if !audiences.iter().any(|a| rules.audiences.contains(a)) {
        return Err(InvalidToken::Audience);
    }

    let expires_at = time_claim(&claims, "exp")?.ok_or(InvalidToken::MissingClaim("exp"))?;
    let issued_at = time_claim(&claims, "iat")?;
    let not_before = time_claim(&claims, "nbf")?;
    let auth_time = time_claim(&claims, "auth_time")?;

    let subject = string_claim(&claims, "sub")?;
    let mut client_id = string_claim(&claims, "client_id")?;
    let jti = string_claim(&claims, "jti")?;

    if strict {
        // RFC 9068 §2.2: these are REQUIRED in an access token.
        if subject.is_none() {
            return Err(InvalidToken::MissingClaim("sub"));
        }
        if client_id.is_none() {
            return Err(InvalidToken::MissingClaim("client_id"));
        }
        if issued_at.is_none() {
            return Err(InvalidToken::MissingClaim("iat"));
        }
        if jti.is_none() {
            return Err(InvalidToken::MissingClaim("jti"));
        }
    } else {
        // Without `typ` to go by, an ID token for a client whose id equals our audience would
        // otherwise pass: refuse tokens that carry ID-token-only claims (OIDC Core §2, §3.1.3.6).
        if claims.contains_key("nonce") || claims.contains_key("at_hash") {
            return Err(InvalidToken::NotAccessToken);
        }
        // Many servers put the client in `azp` (OIDC) instead of `client_id`.
        if client_id.is_none() {
            client_id = string_claim(&claims, "azp")?;
        }
    }

    let scopes = scope_claim(&claims, rules.accept_scp)?;
    let acr = string_claim(&claims, "acr")?;
    let amr = match claims.get("amr") {
        None => Vec::new(),
        Some(v) => string_array(v).ok_or(InvalidToken::InvalidClaim("amr"))?,
    };

    let standard = StandardClaims {
        issuer: Some(issuer),
        subject,
        client_id,
        scopes,
        audiences,
        issued_at,
        expires_at: Some(expires_at),
        not_before,
        auth_time,
        acr,
        amr,
        jti,
    };
    let info = TokenInfo::new(TokenFormat::Jwt, standard, claims, Some(key), responder);
    check_times(&info, now, rules.leeway)?;
    Ok(info)
}

/// The time checks, repeated on every verified-token cache hit (RFC 7519 §4.1.4, §4.1.5).
pub(crate) fn check_times(info: &TokenInfo, now: i64, leeway: i64) -> Result<(), InvalidToken> {
    if let Some(exp) = info.standard.expires_at {
        // The current time must be before `exp` (plus leeway).
        if now >= exp.saturating_add(leeway) {
            return Err(InvalidToken::Expired);
        }
    }
    if info
        .standard
        .not_before
        .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
    {
        return Err(InvalidToken::NotYetValid);
    }
    if info
        .standard
        .issued_at
        .is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(InvalidToken::IssuedInFuture);
    }
    Ok(())
}

fn string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, InvalidToken> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(InvalidToken::InvalidClaim(name)),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, fractions allowed and truncated.
/// Strings, booleans and values outside the `i64` range are invalid.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // Anything beyond ±2^62 seconds is no date, and would overflow the arithmetic.
    const LIMIT: f64 = 4.611_686_018_427_388e18;
    if f.is_finite() && f.abs() < LIMIT {
        #[allow(clippy::cast_possible_truncation)]
        return Some(f.trunc() as i64);
    }
    None
}

fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, InvalidToken> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => numeric_date(v)
            .map(Some)
            .ok_or(InvalidToken::InvalidClaim(name)),
    }
}

fn string_array(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
fn audience_claim(claims: &Map<String, Value>) -> Result<Option<Vec<String>>, InvalidToken> {
    match claims.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(v) => string_array(v)
            .map(Some)
            .ok_or(InvalidToken::InvalidClaim("aud")),
    }
}

/// `scope` is a space-delimited string (RFC 9068 §2.2.3); with the compatibility switch, a
/// `scp` claim (array or string) is accepted when `scope` is absent.
fn scope_claim(claims: &Map<String, Value>, accept_scp: bool) -> Result<Scopes, InvalidToken> {
    match claims.get("scope") {
        Some(Value::String(s)) => return Ok(Scopes::parse(s)),
        Some(Value::Array(_)) if accept_scp => {}
        Some(_) => return Err(InvalidToken::InvalidClaim("scope")),
        None => {}
    }
    if !accept_scp {
        return Ok(Scopes::default());
    }
    let value = claims.get("scope").or_else(|| claims.get("scp"));
    match value {
        None => Ok(Scopes::default()),
        Some(Value::String(s)) => Ok(Scopes::parse(s)),
        Some(v) => string_array(v)
            .map(Scopes::from_vec)
            .ok_or(InvalidToken::InvalidClaim("scp")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numeric_dates() {
        assert_eq!(numeric_date(&json!(10)), Some(10));
        assert_eq!(numeric_date(&json!(10.9)), Some(10));
        assert_eq!(numeric_date(&json!(-5)), Some(-5));
        assert_eq!(numeric_date(&json!("10")), None);
        assert_eq!(numeric_date(&json!(1e300)), None);
        assert_eq!(numeric_date(&json!(u64::MAX)), None);
    }

    #[test]
    fn scopes() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            scope_claim(&m(json!({"scope": "a b"})), false)
                .unwrap()
                .to_string(),
            "a b"
        );
        assert!(scope_claim(&m(json!({"scope": ["a"]})), false).is_err());
        assert!(
            scope_claim(&m(json!({"scp": ["a"]})), false)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            scope_claim(&m(json!({"scp": ["a", "b"]})), true)
                .unwrap()
                .to_string(),
            "a b"
        );
        assert_eq!(
            scope_claim(&m(json!({"scope": ["a"]})), true)
                .unwrap()
                .to_string(),
            "a"
        );
        assert!(scope_claim(&m(json!({"scp": [1]})), true).is_err());
    }
}
