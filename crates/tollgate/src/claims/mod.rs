//! Claims to principal data: the claim checks of RFC 9068 §4 and RFC 8725 on a
//! signature-verified payload, and the time checks every verified-token cache hit repeats.

mod hints;
mod read;
mod switches;

use std::sync::Arc;

use serde_json::{Map, Value};

pub(crate) use self::hints::{Hint, Hints};
pub(crate) use self::read::strings_at;
use self::read::{
    allowed_client, audience_claim_checked, client_id_claim, jti_claim, scope_claim, string_array,
    string_claim,
};
pub use self::switches::{AudiencePolicy, ClientIdClaim, JtiPolicy, ScopeSource};
pub(crate) use self::switches::{ClaimPath, ScopeSources, Switches};
use crate::issuer::IssuerName;
use crate::keys::VerifyKey;
use crate::principal::{StandardClaims, TokenFormat, TokenInfo};
use crate::rejection::{InvalidToken, Responder};

/// The configured expectations one issuer's tokens are held to.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: IssuerName,
    pub(crate) audiences: Vec<String>,
    /// One leeway, in seconds, for every time check.
    pub(crate) leeway: i64,
    /// The narrow switches: strict RFC 9068 unless relaxed.
    pub(crate) switches: Switches,
}

/// What a token's claims are checked with, besides the claims themselves.
pub(crate) struct Context<'a> {
    pub(crate) rules: &'a ClaimRules,
    pub(crate) hints: &'a Hints,
    pub(crate) now: i64,
    pub(crate) responder: &'a Arc<Responder>,
    /// The issuer's place in the engine's list, kept with the verification.
    pub(crate) issuer_index: usize,
}

/// Checks the claims of a verified JWT and builds what the principal will expose.
pub(crate) fn token_info(
    claims: Map<String, Value>,
    key: Arc<VerifyKey>,
    cx: &Context<'_>,
) -> Result<TokenInfo, InvalidToken> {
    let rules = cx.rules;
    let switches = &rules.switches;
    let hint = |hint: Hint| cx.hints.note(hint, rules.issuer.as_str());

    // RFC 9068 §4 step 3 / RFC 7519 §4.1.1: the issuer must match exactly (or, for a template,
    // with an accepted tenant). The engine chose this issuer by the same `iss`; checked again
    // here so that no caller can skip it.
    let issuer = string_claim(&claims, "iss")?.ok_or(InvalidToken::Issuer)?;
    if !rules.issuer.matches(&issuer) {
        return Err(InvalidToken::Issuer);
    }

    let audiences = audience_claim_checked(&claims, rules, &hint)?;

    // Without `typ` to go by, an ID token for a client whose id equals our audience would
    // otherwise pass: refuse tokens that carry ID-token-only claims (OIDC Core §2, §3.1.3.6).
    // Checked before the claims an access token needs, so that an ID token is called one.
    if switches.typ_relaxed() && (claims.contains_key("nonce") || claims.contains_key("at_hash")) {
        return Err(InvalidToken::NotAccessToken);
    }
    discriminators(&claims, switches)?;
    // RFC 8417 §4.2: a Security Event Token must not be usable as an access token. Its
    // `events` claim tells it apart whatever its `typ` says, in every mode.
    if claims.contains_key("events") {
        return Err(InvalidToken::NotAccessToken);
    }

    let expires_at = time_claim(&claims, "exp")?.ok_or(InvalidToken::MissingClaim("exp"))?;
    let issued_at = time_claim(&claims, "iat")?;
    let not_before = time_claim(&claims, "nbf")?;
    let auth_time = time_claim(&claims, "auth_time")?;

    // RFC 9068 §2.2: `sub`, `client_id`, `iat` and `jti` are REQUIRED in an access token.
    let subject = string_claim(&claims, "sub")?;
    if subject.is_none() && switches.require_subject {
        return Err(InvalidToken::MissingClaim("sub"));
    }
    let client_id = client_id_claim(&claims, switches, &hint)?;
    allowed_client(switches, client_id.as_deref())?;
    if issued_at.is_none() && switches.require_issued_at {
        return Err(InvalidToken::MissingClaim("iat"));
    }
    let jti = jti_claim(&claims, &switches.jti, &hint)?;
    // OpenID Connect Front-Channel Logout §3: the session, which a revocation rule may name.
    // Only read, never required: a `sid` that is not a string names no session.
    let session = claims.get("sid").and_then(Value::as_str).map(str::to_owned);

    let scopes = scope_claim(&claims, switches.scopes, &hint)?;
    let roles = strings_at(&claims, &switches.roles, "roles")?;
    let permissions = strings_at(&claims, &switches.permissions, "permissions")?;
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
        roles,
        permissions,
        audiences,
        issued_at,
        expires_at: Some(expires_at),
        not_before,
        auth_time,
        acr,
        amr,
        jti,
        session,
    };
    let info = TokenInfo::new(TokenFormat::Jwt, standard, claims, Some(key), cx.responder)
        .issued_by(cx.issuer_index);
    check_times(&info, cx.now, rules.leeway)?;
    Ok(info)
}

/// The issuer's discriminators: what tells its access tokens from its other JWTs (Cognito's
/// `token_use`, Keycloak's `typ` claim, authentik's `uid`, ...). A token that fails one is not
/// an access token.
fn discriminators(claims: &Map<String, Value>, switches: &Switches) -> Result<(), InvalidToken> {
    let values_ok = switches.required_values.iter().all(|(name, values)| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|v| values.iter().any(|accepted| accepted == v))
    });
    let present_ok = switches
        .required_present
        .iter()
        .all(|name| claims.contains_key(name));
    let absent_ok = !switches
        .forbidden
        .iter()
        .any(|name| claims.contains_key(name));
    if values_ok && present_ok && absent_ok {
        Ok(())
    } else {
        Err(InvalidToken::NotAccessToken)
    }
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

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn discriminators_compare_exactly() {
        let mut switches = Switches::default();
        switches.require_value("typ".into(), "Bearer".into());
        switches.require_value("typ".into(), "DPoP".into());
        switches.required_present.push("uid".into());
        switches.forbidden.push("azp".into());
        let check = |claims: Value| discriminators(&map(claims), &switches);
        assert_eq!(check(json!({"typ": "Bearer", "uid": 1})), Ok(()));
        assert_eq!(check(json!({"typ": "DPoP", "uid": "x"})), Ok(()));
        for bad in [
            json!({"typ": "Refresh", "uid": 1}),
            json!({"typ": "ID", "uid": 1}),
            json!({"typ": "BEARER", "uid": 1}),
            json!({"typ": ["Bearer"], "uid": 1}),
            json!({"uid": 1}),
            json!({"typ": "Bearer"}),
            json!({"typ": "Bearer", "uid": 1, "azp": "web"}),
        ] {
            assert_eq!(
                check(bad.clone()),
                Err(InvalidToken::NotAccessToken),
                "{bad}"
            );
        }
    }
}
