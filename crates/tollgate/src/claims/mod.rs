//! Claims to principal data: the claim checks of RFC 9068 §4 and RFC 8725 on a
//! signature-verified payload, and the time checks every verified-token cache hit repeats.

mod hints;
mod switches;

use std::sync::Arc;

use serde_json::{Map, Value};

pub(crate) use self::hints::{Hint, Hints};
pub use self::switches::{AudiencePolicy, ClientIdClaim, JtiPolicy, ScopeSource};
pub(crate) use self::switches::{ClaimPath, ScopeSources, Switches};
use crate::issuer::IssuerName;
use crate::keys::VerifyKey;
use crate::principal::{Scopes, StandardClaims, TokenFormat, TokenInfo};
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

/// RFC 9068 §2.2 `client_id`, or the claim the issuer puts it in: the first present of the
/// configured claims.
fn client_id_claim(
    claims: &Map<String, Value>,
    switches: &Switches,
    hint: &dyn Fn(Hint),
) -> Result<Option<String>, InvalidToken> {
    for name in switches.client_id.iter().filter_map(|c| c.claim()) {
        if let Some(id) = string_claim(claims, name)? {
            return Ok(Some(id));
        }
    }
    if switches.client_id_optional() {
        return Ok(None);
    }
    // The client is there under another name: say which switch reads it.
    for (name, which) in [
        ("azp", Hint::ClientIdAzp),
        ("appid", Hint::ClientIdAppid),
        ("cid", Hint::ClientIdCid),
    ] {
        if claims.get(name).is_some_and(Value::is_string) {
            hint(which);
            break;
        }
    }
    Err(InvalidToken::MissingClaim("client_id"))
}

/// RFC 9068 §4 step 4: the audience must name this resource, or, under a relaxed policy, an
/// absent or empty `aud` is stood in for by an allowed client ([`allowed_client`], which
/// `build()` makes sure is configured then). The token's audiences, for the principal.
fn audience_claim_checked(
    claims: &Map<String, Value>,
    rules: &ClaimRules,
    hint: &dyn Fn(Hint),
) -> Result<Vec<String>, InvalidToken> {
    let policy = rules.switches.audience_policy;
    match audience_claim(claims)? {
        Some(list) if !list.is_empty() => {
            if list.iter().any(|a| rules.audiences.contains(a)) {
                Ok(list)
            } else {
                Err(InvalidToken::Audience)
            }
        }
        Some(empty) if policy == AudiencePolicy::EmptyWithClientAllowlist => Ok(empty),
        Some(_) => {
            hint(Hint::AudienceEmpty);
            Err(InvalidToken::Audience)
        }
        None if policy == AudiencePolicy::AbsentWithClientAllowlist => Ok(Vec::new()),
        None => {
            hint(Hint::AudienceAbsent);
            Err(InvalidToken::MissingClaim("aud"))
        }
    }
}

/// With an allowlist of clients, the token's client must be on it, whatever its audience.
fn allowed_client(switches: &Switches, client_id: Option<&str>) -> Result<(), InvalidToken> {
    if switches.allowed_clients.is_empty()
        || client_id.is_some_and(|id| switches.allowed_clients.iter().any(|a| a == id))
    {
        Ok(())
    } else {
        Err(InvalidToken::Audience)
    }
}

/// RFC 9068 §2.2 `jti`, or its alias.
fn jti_claim(
    claims: &Map<String, Value>,
    policy: &JtiPolicy,
    hint: &dyn Fn(Hint),
) -> Result<Option<String>, InvalidToken> {
    if let Some(jti) = string_claim(claims, "jti")? {
        return Ok(Some(jti));
    }
    match policy {
        JtiPolicy::Optional => Ok(None),
        JtiPolicy::Alias(name) => match claims.get(name.as_str()) {
            Some(Value::String(id)) => Ok(Some(id.clone())),
            Some(_) => Err(InvalidToken::InvalidClaim("jti")),
            None => Err(InvalidToken::MissingClaim("jti")),
        },
        JtiPolicy::Required => {
            hint(if claims.get("uti").is_some_and(Value::is_string) {
                Hint::JtiUti
            } else {
                Hint::JtiMissing
            });
            Err(InvalidToken::MissingClaim("jti"))
        }
    }
}

/// Roles or permissions: every string at the configured paths, each once, in order. A path
/// may hold an array of strings, a space-delimited string, or an object whose member names are
/// the values (ZITADEL's project roles); anything else refuses the token, since the
/// application's authorization would read it.
pub(crate) fn strings_at(
    claims: &Map<String, Value>,
    paths: &[ClaimPath],
    what: &'static str,
) -> Result<Vec<String>, InvalidToken> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    for path in paths {
        match path.find(claims) {
            None => {}
            Some(Value::String(s)) => s.split(' ').for_each(&mut push),
            Some(Value::Array(items)) => {
                for item in items {
                    push(item.as_str().ok_or(InvalidToken::InvalidClaim(what))?);
                }
            }
            Some(Value::Object(members)) => members.keys().for_each(|k| push(k)),
            Some(_) => return Err(InvalidToken::InvalidClaim(what)),
        }
    }
    Ok(out)
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

/// The granted scopes: `scope` (RFC 9068 §2.2.3, a space-delimited string) or, when it is
/// absent and the issuer's sources say so, `scp`; the first present must have an accepted form.
fn scope_claim(
    claims: &Map<String, Value>,
    sources: ScopeSources,
    hint: &dyn Fn(Hint),
) -> Result<Scopes, InvalidToken> {
    let read =
        |value: &Value, string: ScopeSource, array: ScopeSource, name: &'static str| match value {
            Value::String(s) if sources.accepts(string) => Ok(Scopes::parse(s)),
            Value::Array(_) if sources.accepts(array) => string_array(value)
                .map(Scopes::from_vec)
                .ok_or(InvalidToken::InvalidClaim(name)),
            _ => Err(InvalidToken::InvalidClaim(name)),
        };
    if let Some(scope) = claims.get("scope") {
        if scope.is_array() && !sources.accepts(ScopeSource::ScopeArray) {
            hint(Hint::ScopeArray);
        }
        return read(
            scope,
            ScopeSource::ScopeString,
            ScopeSource::ScopeArray,
            "scope",
        );
    }
    match claims.get("scp") {
        Some(scp) if sources.reads_scp() => {
            read(scp, ScopeSource::ScpString, ScopeSource::ScpArray, "scp")
        }
        Some(_) => {
            // Not refused: the token just grants no scope here, and a route that needs one
            // answers 403. Still worth saying once why.
            hint(Hint::Scp);
            Ok(Scopes::default())
        }
        None => Ok(Scopes::default()),
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

    fn scopes(claims: Value, sources: &[ScopeSource]) -> Result<String, InvalidToken> {
        scope_claim(
            &map(claims),
            ScopeSources::of(sources.iter().copied()),
            &|_| {},
        )
        .map(|s| s.to_string())
    }

    #[test]
    fn scope_sources_decide_which_forms_are_read() {
        use ScopeSource::*;
        let strict = [ScopeString];
        assert_eq!(scopes(json!({"scope": "a b"}), &strict).unwrap(), "a b");
        assert!(scopes(json!({"scope": ["a"]}), &strict).is_err());
        // `scp` is no scope at all while no `scp` form is read.
        assert_eq!(scopes(json!({"scp": ["a"]}), &strict).unwrap(), "");
        let all = [ScopeString, ScopeArray, ScpString, ScpArray];
        assert_eq!(scopes(json!({"scp": ["a", "b"]}), &all).unwrap(), "a b");
        assert_eq!(scopes(json!({"scp": "a b"}), &all).unwrap(), "a b");
        assert_eq!(scopes(json!({"scope": ["a"]}), &all).unwrap(), "a");
        assert!(scopes(json!({"scp": [1]}), &all).is_err());
        // `scope` decides when both are there.
        assert_eq!(
            scopes(json!({"scope": "a", "scp": ["b"]}), &all).unwrap(),
            "a"
        );
        // A form not accepted is refused, not ignored, once its claim is read.
        assert!(scopes(json!({"scp": "a"}), &[ScpArray]).is_err());
        assert!(scopes(json!({"scope": "a"}), &[ScpArray]).is_err());
    }

    #[test]
    fn roles_and_permissions_come_from_arrays_strings_and_object_keys() {
        let claims = map(json!({
            "realm_access": {"roles": ["admin", "user"]},
            "roles": "user auditor",
            "urn:zitadel:iam:org:project:roles": {"editor": {"1": "acme"}},
            "bad": [1],
            "worse": 3,
        }));
        let paths = |names: &[&str]| names.iter().map(|n| ClaimPath::new(*n)).collect::<Vec<_>>();
        assert_eq!(
            strings_at(&claims, &paths(&["realm_access.roles", "roles"]), "roles").unwrap(),
            ["admin", "user", "auditor"]
        );
        assert_eq!(
            strings_at(
                &claims,
                &paths(&["urn:zitadel:iam:org:project:roles"]),
                "roles"
            )
            .unwrap(),
            ["editor"]
        );
        assert!(
            strings_at(&claims, &paths(&["missing"]), "roles")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            strings_at(&claims, &paths(&["bad"]), "roles"),
            Err(InvalidToken::InvalidClaim("roles"))
        );
        assert_eq!(
            strings_at(&claims, &paths(&["worse"]), "permissions"),
            Err(InvalidToken::InvalidClaim("permissions"))
        );
    }

    fn rules(switches: Switches) -> ClaimRules {
        ClaimRules {
            issuer: IssuerName::new("https://as.test", crate::issuer::Tenants::Any),
            audiences: vec!["api".into()],
            leeway: 60,
            switches,
        }
    }

    #[test]
    fn the_client_id_is_the_first_configured_claim_present() {
        let read = |claims: Value, order: &[ClientIdClaim]| {
            let switches = Switches {
                client_id: order.to_vec(),
                ..Switches::default()
            };
            client_id_claim(&map(claims), &switches, &|_| {})
        };
        use ClientIdClaim::*;
        let both = json!({"client_id": "a", "azp": "b", "cid": "c", "appid": "d"});
        assert_eq!(read(both.clone(), &[ClientId]), Ok(Some("a".into())));
        assert_eq!(read(both.clone(), &[Azp, ClientId]), Ok(Some("b".into())));
        assert_eq!(read(both.clone(), &[Cid]), Ok(Some("c".into())));
        assert_eq!(read(both, &[Appid]), Ok(Some("d".into())));
        // Strict: `azp` is not read, and nothing stands in for `client_id`.
        assert_eq!(
            read(json!({"azp": "b"}), &[ClientId]),
            Err(InvalidToken::MissingClaim("client_id"))
        );
        assert_eq!(
            read(json!({"azp": "b"}), &[ClientId, None]),
            Ok(Option::None)
        );
        assert_eq!(
            read(json!({"client_id": 7}), &[ClientId, Azp]),
            Err(InvalidToken::InvalidClaim("client_id"))
        );
    }

    #[test]
    fn audience_policies_relax_only_an_absent_or_empty_aud() {
        let check = |claims: Value, policy: AudiencePolicy| {
            let rules = rules(Switches {
                audience_policy: policy,
                allowed_clients: vec!["app".into()],
                ..Switches::default()
            });
            audience_claim_checked(&map(claims), &rules, &|_| {})
        };
        use AudiencePolicy::*;
        for policy in [
            Contains,
            AbsentWithClientAllowlist,
            EmptyWithClientAllowlist,
        ] {
            assert_eq!(
                check(json!({"aud": ["x", "api"]}), policy).unwrap(),
                ["x", "api"]
            );
            // Another API's token is refused whatever the policy.
            assert_eq!(
                check(json!({"aud": "other"}), policy),
                Err(InvalidToken::Audience)
            );
        }
        assert_eq!(
            check(json!({}), Contains),
            Err(InvalidToken::MissingClaim("aud"))
        );
        assert_eq!(
            check(json!({"aud": []}), Contains),
            Err(InvalidToken::Audience)
        );
        assert!(
            check(json!({}), AbsentWithClientAllowlist)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            check(json!({"aud": []}), AbsentWithClientAllowlist),
            Err(InvalidToken::Audience)
        );
        assert!(
            check(json!({"aud": []}), EmptyWithClientAllowlist)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            check(json!({}), EmptyWithClientAllowlist),
            Err(InvalidToken::MissingClaim("aud"))
        );
    }

    #[test]
    fn an_allowlist_of_clients_holds_whatever_the_audience() {
        let switches = Switches {
            allowed_clients: vec!["app".into()],
            ..Switches::default()
        };
        assert_eq!(allowed_client(&switches, Some("app")), Ok(()));
        assert_eq!(
            allowed_client(&switches, Some("other")),
            Err(InvalidToken::Audience)
        );
        assert_eq!(allowed_client(&switches, None), Err(InvalidToken::Audience));
        assert_eq!(allowed_client(&Switches::default(), None), Ok(()));
    }

    #[test]
    fn jti_may_be_required_optional_or_aliased() {
        let read = |claims: Value, policy: JtiPolicy| jti_claim(&map(claims), &policy, &|_| {});
        assert_eq!(
            read(json!({}), JtiPolicy::Required),
            Err(InvalidToken::MissingClaim("jti"))
        );
        assert_eq!(read(json!({}), JtiPolicy::Optional), Ok(None));
        let uti = json!({"uti": "u1"});
        assert_eq!(
            read(uti.clone(), JtiPolicy::Required),
            Err(InvalidToken::MissingClaim("jti"))
        );
        assert_eq!(read(uti, JtiPolicy::alias("uti")), Ok(Some("u1".into())));
        assert_eq!(
            read(json!({"jti": "j", "uti": "u"}), JtiPolicy::alias("uti")),
            Ok(Some("j".into()))
        );
        assert_eq!(
            read(json!({}), JtiPolicy::alias("uti")),
            Err(InvalidToken::MissingClaim("jti"))
        );
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

    #[test]
    fn hints_name_the_switch_for_what_strict_mode_refused() {
        let hints = Hints::default();
        let note = |hint| hints.note(hint, "https://as.test");
        let strict = Switches::default();
        let _ = client_id_claim(&map(json!({"cid": "c"})), &strict, &note);
        let _ = jti_claim(&map(json!({"uti": "u"})), &JtiPolicy::Required, &note);
        let _ = scope_claim(&map(json!({"scp": "a"})), strict.scopes, &note);
        let _ = audience_claim_checked(&map(json!({"aud": []})), &rules(strict.clone()), &note);
        for hint in [
            Hint::ClientIdCid,
            Hint::JtiUti,
            Hint::Scp,
            Hint::AudienceEmpty,
        ] {
            assert!(hints.given(hint), "{hint:?}");
        }
        for hint in [Hint::ClientIdAzp, Hint::JtiMissing, Hint::AudienceAbsent] {
            assert!(!hints.given(hint), "{hint:?}");
        }
    }
}
