//! An opaque token's principal data, from its introspection answer (RFC 7662 §2.2), which is all
//! there is to know about it.

use std::sync::Arc;

use super::IntrospectionAnswer;
use crate::claims::{self, ClaimRules};
use crate::principal::{Scopes, StandardClaims, TokenFormat, TokenInfo};
use crate::rejection::{InvalidToken, Responder};

/// The principal data of an opaque token whose answer is active.
///
/// - It must be about an access token (the markers are listed on
///   [`Introspection`](super::Introspection)).
/// - `aud` must name one of the configured audiences, as a JWT's must (RFC 9068 §4); an answer
///   without `aud` passes only with `accept_without_audience`
///   ([`Introspection::accept_answers_without_audience`](super::Introspection::accept_answers_without_audience)).
///   Refresh tokens, and tokens meant for other resource servers, usually have none.
/// - `iss`, when present, must be the configured issuer. It is not required: the answer comes
///   from the configured endpoint over an authenticated call.
///
/// # Errors
/// The [`InvalidToken`] reason the token is refused for.
pub(crate) fn opaque_token_info(
    answer: &IntrospectionAnswer,
    rules: &ClaimRules,
    accept_without_audience: bool,
    responder: &Arc<Responder>,
) -> Result<TokenInfo, InvalidToken> {
    if answer.not_access_token.is_some() {
        return Err(InvalidToken::NotAccessToken);
    }
    if answer
        .iss
        .as_ref()
        .is_some_and(|iss| !rules.issuer.matches(iss))
    {
        return Err(InvalidToken::Issuer);
    }
    let audience_ok = if answer.aud.is_empty() {
        accept_without_audience
    } else {
        answer.aud.iter().any(|a| rules.audiences.contains(a))
    };
    if !audience_ok {
        return Err(InvalidToken::Audience);
    }
    // The issuer's roles and permissions claims, read from the answer as from a JWT: servers
    // that introspect copy the token's claims into it (Keycloak, ZITADEL).
    let switches = &rules.switches;
    let roles = claims::strings_at(&answer.raw, &switches.roles, "roles")?;
    let permissions = claims::strings_at(&answer.raw, &switches.permissions, "permissions")?;
    let standard = StandardClaims {
        issuer: answer.iss.clone(),
        subject: answer.sub.clone(),
        client_id: answer.client_id.clone(),
        scopes: answer
            .scope
            .as_deref()
            .map(Scopes::parse)
            .unwrap_or_default(),
        roles,
        permissions,
        audiences: answer.aud.clone(),
        issued_at: answer.iat,
        expires_at: answer.exp,
        not_before: answer.nbf,
        // RFC 7662 §2.2 defines no authentication context members.
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        jti: answer.jti.clone(),
        session: answer
            .raw
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    };
    Ok(TokenInfo::new(
        TokenFormat::Opaque,
        standard,
        answer.raw.clone(),
        None,
        responder,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::{IssuerName, Tenants};

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: IssuerName::new("https://as.test", Tenants::Any),
            audiences: vec!["api".into()],
            leeway: 60,
            switches: claims::Switches::default(),
        }
    }

    fn info(
        answer: &IntrospectionAnswer,
        accept_without_audience: bool,
    ) -> Result<TokenInfo, InvalidToken> {
        let responder = Arc::new(Responder::plain(None, None));
        opaque_token_info(answer, &rules(), accept_without_audience, &responder)
    }

    #[test]
    fn an_answer_for_this_api_becomes_principal_data() {
        let mut raw = serde_json::Map::new();
        raw.insert("username".into(), "alice@example.com".into());
        let answer = IntrospectionAnswer {
            sub: Some("alice".into()),
            scope: Some("read  write read".into()),
            aud: vec!["other".into(), "api".into()],
            exp: Some(1_700_000_000),
            raw,
            ..IntrospectionAnswer::default()
        };
        let info = info(&answer, false).unwrap();
        assert_eq!(info.format, TokenFormat::Opaque);
        assert_eq!(info.standard.subject.as_deref(), Some("alice"));
        assert_eq!(info.standard.scopes.to_string(), "read write");
        assert_eq!(info.standard.expires_at, Some(1_700_000_000));
        assert!(info.key.is_none());
        assert_eq!(info.claims["username"], "alice@example.com");
    }

    #[test]
    fn audience_issuer_and_kind_decide() {
        let for_api = || IntrospectionAnswer {
            aud: vec!["api".into()],
            ..IntrospectionAnswer::default()
        };
        let refused = |answer: IntrospectionAnswer, without: bool| info(&answer, without).err();
        assert_eq!(refused(for_api(), false), None);
        // No audience: only with the switch. Another audience: never.
        assert_eq!(
            refused(IntrospectionAnswer::default(), false),
            Some(InvalidToken::Audience)
        );
        assert_eq!(refused(IntrospectionAnswer::default(), true), None);
        let elsewhere = IntrospectionAnswer {
            aud: vec!["other".into()],
            ..IntrospectionAnswer::default()
        };
        assert_eq!(refused(elsewhere, true), Some(InvalidToken::Audience));
        let foreign = IntrospectionAnswer {
            iss: Some("https://evil.test".into()),
            ..for_api()
        };
        assert_eq!(refused(foreign, false), Some(InvalidToken::Issuer));
        let refresh = IntrospectionAnswer {
            not_access_token: Some("token_type"),
            ..for_api()
        };
        assert_eq!(refused(refresh, false), Some(InvalidToken::NotAccessToken));
    }
}
