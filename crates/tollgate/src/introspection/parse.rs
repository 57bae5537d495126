//! Strict parsing of an introspection answer (RFC 7662 §2.2) and its time checks.
//!
//! Longer than 400 lines for a reason: half of it is the table of answers servers really send,
//! as unit tests beside the parser they pin down.
//!
//! Only a JSON object with a boolean `active` is an answer; anything else is a failure of the
//! authorization server, never a pass and never a cacheable "inactive".

use std::sync::Arc;

use serde_json::{Map, Value};

use super::IntrospectionAnswer;

/// What a well-formed answer says (RFC 7662 §2.2), after the time checks.
#[derive(Debug)]
pub(super) enum Verdict {
    /// `"active": true`, and not expired or premature.
    Active(Arc<IntrospectionAnswer>),
    /// `"active": false`; `exp` is the answer's own, when it gave one as an integer.
    Inactive { exp: Option<i64> },
    /// `"active": true`, but `exp` (plus leeway) has passed: the token is dead for good.
    Expired,
    /// `"active": true`, but `nbf` (minus leeway) is still ahead: not valid *yet*, which is no
    /// revocation, so it must not be remembered past `nbf`.
    NotYetValid { nbf: i64 },
}

/// Parses an answer strictly (RFC 7662 §2.2) and applies the time checks with `now` (seconds
/// since the epoch) and `leeway_secs`.
///
/// - The body must be one JSON object with unique members.
/// - `active` must be a JSON boolean. Anything else (`"true"`, `1`, `null`, missing) is a broken
///   answer, an error, not a pass and not a cacheable "inactive".
/// - In an active answer, `scope`, `client_id`, `sub`, `iss`, `jti`, `token_type` and `username`
///   must be strings when present, `aud` a string or an array of strings, and `exp`, `iat`, `nbf`
///   JSON integers (RFC 7519 NumericDate allows fractions, but RFC 7662 §2.2 describes integer
///   timestamps and no server we know sends `1.5`; `1.0` is refused too, rather than rounded).
///   A wrong type is an error: a member that is there but unusable must not be ignored, since
///   the engine compares these with the JWT.
pub(super) fn parse(body: &[u8], now: i64, leeway_secs: i64) -> Result<Verdict, &'static str> {
    // Unique member names: `{"active": false, "active": true}` must not become a pass.
    let raw = crate::json::unique_object(body)
        .map_err(|_| "introspection answer is not a JSON object")?;

    match raw.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            // RFC 7662 §2.2: an inactive answer SHOULD carry nothing else; use `exp` if it does,
            // but do not fail an inactive answer over a malformed extra member.
            let exp = raw.get("exp").and_then(Value::as_i64);
            return Ok(Verdict::Inactive { exp });
        }
        Some(_) => return Err("introspection answer: `active` is not a JSON boolean"),
        None => return Err("introspection answer: `active` is missing"),
    }

    // RFC 7662 §2.2 members tollgate does not act on must still have their types; an answer
    // that gets them wrong is not trusted for the rest either.
    string_member(
        &raw,
        "username",
        "introspection answer: `username` is not a string",
    )?;

    let answer = IntrospectionAnswer {
        scope: string_member(
            &raw,
            "scope",
            "introspection answer: `scope` is not a string",
        )?,
        client_id: string_member(
            &raw,
            "client_id",
            "introspection answer: `client_id` is not a string",
        )?,
        sub: string_member(&raw, "sub", "introspection answer: `sub` is not a string")?,
        aud: audience(&raw)?,
        iss: string_member(&raw, "iss", "introspection answer: `iss` is not a string")?,
        exp: integer_member(&raw, "exp", "introspection answer: `exp` is not an integer")?,
        iat: integer_member(&raw, "iat", "introspection answer: `iat` is not an integer")?,
        nbf: integer_member(&raw, "nbf", "introspection answer: `nbf` is not an integer")?,
        jti: string_member(&raw, "jti", "introspection answer: `jti` is not a string")?,
        token_type: string_member(
            &raw,
            "token_type",
            "introspection answer: `token_type` is not a string",
        )?,
        not_access_token: not_access_token(&raw),
        raw: Map::new(),
    };

    // An AS may answer `active: true` from a stale view; the timestamps it sends are still
    // binding (RFC 7662 §2.2 `exp`, `nbf`), with the same leeway as local validation.
    if answer
        .exp
        .is_some_and(|exp| exp.saturating_add(leeway_secs) < now)
    {
        return Ok(Verdict::Expired);
    }
    if let Some(nbf) = answer.nbf
        && nbf.saturating_sub(leeway_secs) > now
    {
        return Ok(Verdict::NotYetValid { nbf });
    }
    Ok(Verdict::Active(Arc::new(IntrospectionAnswer {
        raw,
        ..answer
    })))
}

/// The member that marks an active answer as being about something else than an access token
/// usable as a bearer token, if any. The table of markers, and who sends them, is in the
/// documentation of [`Introspection`](super::Introspection).
fn not_access_token(raw: &Map<String, Value>) -> Option<&'static str> {
    let text = |name: &str| raw.get(name).map(|value| value.as_str());
    // RFC 7662 §2.2: `token_type` is the RFC 6749 §7.1 type, `Bearer` for a bearer token and
    // `DPoP` for a DPoP-bound one (RFC 9449 §6.2). Some servers put the RFC 7009 §2.1 hint
    // value there instead (`access_token`), or the RFC 8693 §3 token type URI. Anything else
    // present is not an access token: a refresh or ID token. A DPoP-bound token is an access
    // token, whose binding (`cnf.jkt`) the engine holds to its presentation: refused as a
    // bearer token (RFC 9449 §7.2), accepted with a proof of its key (`dpop::binding`). The
    // type is already known to be a string.
    if let Some(Some(token_type)) = text("token_type")
        && ![
            "bearer",
            "dpop",
            "access_token",
            "urn:ietf:params:oauth:token-type:access_token",
        ]
        .iter()
        .any(|accepted| token_type.eq_ignore_ascii_case(accepted))
    {
        return Some("token_type");
    }
    // Ory Hydra says what the token is for in `token_use`: `access_token` or `refresh_token`.
    if let Some(token_use) = text("token_use")
        && token_use != Some("access_token")
    {
        return Some("token_use");
    }
    // Keycloak copies its tokens' `typ` claim into the answer: `Bearer` for an access token,
    // `DPoP` for a DPoP-bound access token (its binding is the engine's to check); refresh,
    // offline, ID and logout tokens have their own. Other servers use `typ` for other things,
    // so only these values count.
    if let Some(Some(typ)) = text("typ")
        && ["refresh", "offline", "id", "serialized-id", "logout"]
            .iter()
            .any(|refused| typ.eq_ignore_ascii_case(refused))
    {
        return Some("typ");
    }
    None
}

fn string_member(
    raw: &Map<String, Value>,
    name: &str,
    wrong_type: &'static str,
) -> Result<Option<String>, &'static str> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(wrong_type),
    }
}

fn integer_member(
    raw: &Map<String, Value>,
    name: &str,
    wrong_type: &'static str,
) -> Result<Option<i64>, &'static str> {
    match raw.get(name) {
        None => Ok(None),
        // `as_i64` is `None` for floats (even `1.0`) and for integers beyond i64.
        Some(value) => value.as_i64().map(Some).ok_or(wrong_type),
    }
}

/// RFC 7662 §2.2 / RFC 7519 §4.1.3: `aud` is a string or an array of strings.
fn audience(raw: &Map<String, Value>) -> Result<Vec<String>, &'static str> {
    const WRONG: &str = "introspection answer: `aud` is not a string or an array of strings";
    match raw.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(WRONG))
            .collect(),
        Some(_) => Err(WRONG),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn parse_str(body: &str) -> Result<Verdict, &'static str> {
        parse(body.as_bytes(), NOW, 60)
    }

    #[test]
    fn active_answer_is_parsed_with_all_members() {
        let verdict = parse_str(
            r#"{"active":true,"scope":"read write","client_id":"c","sub":"u","aud":["a","b"],
                "iss":"https://as","exp":1700000100,"iat":1699999000,"nbf":1699999000,
                "jti":"j","token_type":"Bearer","username":"alice","extra":{"x":1}}"#,
        );
        let Ok(Verdict::Active(answer)) = verdict else {
            panic!("expected active, got {verdict:?}");
        };
        assert_eq!(answer.scope.as_deref(), Some("read write"));
        assert_eq!(answer.client_id.as_deref(), Some("c"));
        assert_eq!(answer.sub.as_deref(), Some("u"));
        assert_eq!(answer.aud, ["a", "b"]);
        assert_eq!(answer.iss.as_deref(), Some("https://as"));
        assert_eq!(answer.exp, Some(1_700_000_100));
        assert_eq!(answer.iat, Some(1_699_999_000));
        assert_eq!(answer.nbf, Some(1_699_999_000));
        assert_eq!(answer.jti.as_deref(), Some("j"));
        assert_eq!(answer.token_type.as_deref(), Some("Bearer"));
        assert_eq!(answer.not_access_token, None);
        assert_eq!(answer.raw["token_type"], "Bearer");
        assert_eq!(answer.raw["username"], "alice");
        assert_eq!(answer.raw.len(), 13);
        assert_eq!(answer.raw["extra"]["x"], 1);
    }

    #[test]
    fn minimal_active_answer_and_string_audience() {
        let Ok(Verdict::Active(answer)) = parse_str(r#"{"active":true,"aud":"api"}"#) else {
            panic!("expected active");
        };
        assert_eq!(answer.aud, ["api"]);
        assert!(answer.sub.is_none() && answer.exp.is_none());
    }

    #[test]
    fn inactive_answer_keeps_its_exp() {
        assert!(matches!(
            parse_str(r#"{"active":false}"#),
            Ok(Verdict::Inactive { exp: None })
        ));
        assert!(matches!(
            parse_str(r#"{"active":false,"exp":1700000500,"sub":7}"#),
            Ok(Verdict::Inactive {
                exp: Some(1_700_000_500)
            })
        ));
    }

    #[test]
    fn active_must_be_a_json_boolean() {
        for body in [
            r#"{"active":"true"}"#,
            r#"{"active":1}"#,
            r#"{"active":null}"#,
            r#"{"active":[true]}"#,
            r#"{"scope":"read"}"#,
            r#"{}"#,
        ] {
            assert!(parse_str(body).is_err(), "{body} must not parse");
        }
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        for body in [
            "",
            "garbage",
            "true",
            "[{\"active\":true}]",
            "\"active\"",
            "{\"active\":true",
            "{\"active\":true} trailing",
            "<html>active</html>",
        ] {
            assert!(parse_str(body).is_err(), "{body:?} must not parse");
        }
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(parse_str(r#"{"active":false,"active":true}"#).is_err());
    }

    #[test]
    fn wrongly_typed_members_are_refused() {
        for body in [
            r#"{"active":true,"scope":["read"]}"#,
            r#"{"active":true,"client_id":1}"#,
            r#"{"active":true,"sub":null}"#,
            r#"{"active":true,"iss":{}}"#,
            r#"{"active":true,"jti":false}"#,
            r#"{"active":true,"token_type":2}"#,
            r#"{"active":true,"username":[]}"#,
            r#"{"active":true,"aud":["a",1]}"#,
            r#"{"active":true,"aud":7}"#,
            r#"{"active":true,"exp":"1700000100"}"#,
            r#"{"active":true,"exp":1700000100.0}"#,
            r#"{"active":true,"iat":1.5}"#,
            r#"{"active":true,"nbf":18446744073709551615}"#,
        ] {
            assert!(parse_str(body).is_err(), "{body} must not parse");
        }
    }

    fn marker(body: &str) -> Option<&'static str> {
        match parse_str(body) {
            Ok(Verdict::Active(answer)) => answer.not_access_token,
            other => panic!("{body}: expected active, got {other:?}"),
        }
    }

    #[test]
    fn access_token_types_pass_in_every_spelling_servers_use() {
        for body in [
            r#"{"active":true}"#,
            r#"{"active":true,"token_type":"Bearer"}"#,
            r#"{"active":true,"token_type":"bearer"}"#,
            r#"{"active":true,"token_type":"access_token"}"#,
            r#"{"active":true,"token_type":"Access_Token"}"#,
            r#"{"active":true,"token_type":"urn:ietf:params:oauth:token-type:access_token"}"#,
            r#"{"active":true,"token_type":"Bearer","token_use":"access_token"}"#,
            r#"{"active":true,"token_type":"Bearer","typ":"Bearer"}"#,
            // `typ` values that are not Keycloak's token kinds are left alone.
            r#"{"active":true,"typ":"at+jwt"}"#,
            r#"{"active":true,"typ":7}"#,
            // Other confirmation methods are not DPoP.
            r#"{"active":true,"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}"#,
            // DPoP-bound access tokens (RFC 9449 §6.2; Keycloak's `typ`): access tokens whose
            // binding the engine checks against the presentation, not another kind of token.
            r#"{"active":true,"token_type":"DPoP","cnf":{"jkt":"abc"}}"#,
            r#"{"active":true,"token_type":"dpop"}"#,
            r#"{"active":true,"typ":"DPoP"}"#,
            r#"{"active":true,"token_type":"Bearer","cnf":{"jkt":"abc"}}"#,
        ] {
            assert_eq!(marker(body), None, "{body}");
        }
    }

    #[test]
    fn other_token_kinds_are_marked() {
        for (body, member) in [
            (
                r#"{"active":true,"token_type":"refresh_token"}"#,
                "token_type",
            ),
            (r#"{"active":true,"token_type":"Refresh"}"#, "token_type"),
            (r#"{"active":true,"token_type":"Offline"}"#, "token_type"),
            (r#"{"active":true,"token_type":"id_token"}"#, "token_type"),
            (r#"{"active":true,"token_type":"N_A"}"#, "token_type"),
            (r#"{"active":true,"token_type":""}"#, "token_type"),
            (r#"{"active":true,"token_type":"Bearer "}"#, "token_type"),
            (
                r#"{"active":true,"token_type":"Bearer","token_use":"refresh_token"}"#,
                "token_use",
            ),
            (r#"{"active":true,"token_use":"id_token"}"#, "token_use"),
            (r#"{"active":true,"token_use":null}"#, "token_use"),
            (r#"{"active":true,"typ":"Refresh"}"#, "typ"),
            (r#"{"active":true,"typ":"OFFLINE"}"#, "typ"),
            (r#"{"active":true,"typ":"ID"}"#, "typ"),
            (r#"{"active":true,"typ":"Logout"}"#, "typ"),
        ] {
            assert_eq!(marker(body), Some(member), "{body}");
        }
    }

    #[test]
    fn time_checks_apply_the_leeway() {
        // exp within the leeway: still active.
        assert!(matches!(
            parse_str(r#"{"active":true,"exp":1699999950}"#),
            Ok(Verdict::Active(_))
        ));
        assert!(matches!(
            parse_str(r#"{"active":true,"exp":1699999900}"#),
            Ok(Verdict::Expired)
        ));
        assert!(matches!(
            parse_str(r#"{"active":true,"nbf":1700000050}"#),
            Ok(Verdict::Active(_))
        ));
        assert!(matches!(
            parse_str(r#"{"active":true,"nbf":1700000100}"#),
            Ok(Verdict::NotYetValid { nbf: 1_700_000_100 })
        ));
        // Extreme values do not overflow.
        assert!(matches!(
            parse_str(r#"{"active":true,"exp":-9223372036854775808}"#),
            Ok(Verdict::Expired)
        ));
        assert!(matches!(
            parse_str(r#"{"active":true,"exp":9223372036854775807}"#),
            Ok(Verdict::Active(_))
        ));
    }
}
