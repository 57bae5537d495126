//! Reading the claims the narrow switches decide about: the client id, the audience (and the
//! client allowlist that may stand in for it), `jti`, the scopes, roles and permissions, and
//! the typed helpers every claim check uses.

use serde_json::{Map, Value};

use super::{
    AudiencePolicy, ClaimPath, ClaimRules, Hint, JtiPolicy, ScopeSource, ScopeSources, Switches,
};
use crate::principal::Scopes;
use crate::rejection::InvalidToken;

/// RFC 9068 §2.2 `client_id`, or the claim the issuer puts it in: the first present of the
/// configured claims.
pub(super) fn client_id_claim(
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
pub(super) fn audience_claim_checked(
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
pub(super) fn allowed_client(
    switches: &Switches,
    client_id: Option<&str>,
) -> Result<(), InvalidToken> {
    if switches.allowed_clients.is_empty()
        || client_id.is_some_and(|id| switches.allowed_clients.iter().any(|a| a == id))
    {
        Ok(())
    } else {
        Err(InvalidToken::Audience)
    }
}

/// RFC 9068 §2.2 `jti`, or its alias.
pub(super) fn jti_claim(
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

pub(super) fn string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, InvalidToken> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(InvalidToken::InvalidClaim(name)),
    }
}

pub(super) fn string_array(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
pub(super) fn audience_claim(
    claims: &Map<String, Value>,
) -> Result<Option<Vec<String>>, InvalidToken> {
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
pub(super) fn scope_claim(
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
    use crate::claims::{ClientIdClaim, Hints};
    use crate::issuer::IssuerName;

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
