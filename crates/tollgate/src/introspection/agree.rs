//! The agreement check: for a JWT, the introspection answer must describe the same token, and
//! an access token (RFC 7662 §2.2; the markers are listed on [`Introspection`](super::Introspection)).

use super::IntrospectionAnswer;
use crate::dpop::binding::Confirmation;
use crate::principal::TokenInfo;
use crate::rejection::InvalidToken;

/// Whether `answer` is about the JWT `info` describes: every member both carry must agree.
///
/// # Errors
/// [`InvalidToken::NotAccessToken`] when the answer marks another kind of token, and
/// [`InvalidToken::IntrospectionMismatch`] naming the first member that disagrees.
pub(crate) fn agree(info: &TokenInfo, answer: &IntrospectionAnswer) -> Result<(), InvalidToken> {
    // Whatever the JWT says of itself, the AS knows it as something else: a refresh token
    // signed like an access token, for one.
    if answer.not_access_token.is_some() {
        return Err(InvalidToken::NotAccessToken);
    }
    let same = |ours: &Option<String>, theirs: &Option<String>| match (ours, theirs) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    // RFC 7519 §4.1.7: `jti` identifies the token; an answer about another one is not ours.
    if !same(&info.standard.jti, &answer.jti) {
        return Err(InvalidToken::IntrospectionMismatch("jti"));
    }
    // A `token_type` claim in the JWT (not an RFC 9068 claim, but some servers add one) must
    // name the same type as the answer's; the type names are case-insensitive (RFC 6749 §5.1).
    if let (Some(ours), Some(theirs)) = (
        info.claims
            .get("token_type")
            .and_then(serde_json::Value::as_str),
        answer.token_type.as_deref(),
    ) && !ours.eq_ignore_ascii_case(theirs)
    {
        return Err(InvalidToken::IntrospectionMismatch("token_type"));
    }
    if !same(&info.standard.issuer, &answer.iss) {
        return Err(InvalidToken::IntrospectionMismatch("iss"));
    }
    if !same(&info.standard.subject, &answer.sub) {
        return Err(InvalidToken::IntrospectionMismatch("sub"));
    }
    if !same(&info.standard.client_id, &answer.client_id) {
        return Err(InvalidToken::IntrospectionMismatch("client_id"));
    }
    // Audiences compare as sets (RFC 7519 §4.1.3: order and repetition carry no meaning),
    // without allocating: there are one or two of them.
    let covers = |a: &[String], b: &[String]| a.iter().all(|x| b.contains(x));
    if !answer.aud.is_empty()
        && (!covers(&info.standard.audiences, &answer.aud)
            || !covers(&answer.aud, &info.standard.audiences))
    {
        return Err(InvalidToken::IntrospectionMismatch("aud"));
    }
    if answer
        .exp
        .is_some_and(|exp| info.standard.expires_at.is_some_and(|ours| ours != exp))
    {
        return Err(InvalidToken::IntrospectionMismatch("exp"));
    }
    // RFC 7662 §2.2 / RFC 9068 §2.2.3: space-delimited, so compared as sets.
    if let Some(scope) = &answer.scope {
        let mut theirs = scope.split(' ').filter(|s| !s.is_empty());
        let mut ours = info.standard.scopes.iter();
        if !theirs.all(|s| info.standard.scopes.contains(s))
            || !ours.all(|s| scope.split(' ').any(|t| t == s))
        {
            return Err(InvalidToken::IntrospectionMismatch("scope"));
        }
    }
    // RFC 9449 §6.2, RFC 8705 §3.2: an answer that states a binding must state the JWT's.
    // The JWT's own `cnf` is what the presentation is held to; an answer without one says
    // nothing against it (many servers leave `cnf` out of introspection answers).
    match Confirmation::from_introspection(&answer.raw) {
        Ok(theirs) if theirs == Confirmation::default() || Ok(theirs) == info.binding => {}
        _ => return Err(InvalidToken::IntrospectionMismatch("cnf")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::principal::{Scopes, StandardClaims, TokenFormat};
    use crate::rejection::Responder;

    /// A verified JWT as the engine holds it.
    fn jwt() -> TokenInfo {
        let claims = json!({ "token_type": "Bearer" });
        let standard = StandardClaims {
            issuer: Some("https://as.test".into()),
            subject: Some("alice".into()),
            client_id: Some("app".into()),
            scopes: Scopes::parse("read write"),
            audiences: vec!["api".into(), "other".into()],
            expires_at: Some(1_700_000_000),
            jti: Some("j1".into()),
            session: None,
            ..StandardClaims::default()
        };
        let responder = Arc::new(Responder::plain(None, None));
        let claims = claims.as_object().cloned().unwrap_or_default();
        TokenInfo::new(TokenFormat::Jwt, standard, claims, None, &responder)
    }

    /// The answer the AS gives about that token.
    fn answer() -> IntrospectionAnswer {
        IntrospectionAnswer {
            scope: Some("write read".into()),
            client_id: Some("app".into()),
            sub: Some("alice".into()),
            aud: vec!["other".into(), "api".into(), "api".into()],
            iss: Some("https://as.test".into()),
            exp: Some(1_700_000_000),
            jti: Some("j1".into()),
            token_type: Some("bearer".into()),
            ..IntrospectionAnswer::default()
        }
    }

    #[test]
    fn the_same_token_agrees_in_any_order_and_case_of_token_type() {
        assert_eq!(agree(&jwt(), &answer()), Ok(()));
    }

    #[test]
    fn members_the_answer_leaves_out_are_not_compared() {
        assert_eq!(agree(&jwt(), &IntrospectionAnswer::default()), Ok(()));
    }

    #[test]
    fn each_member_must_agree() {
        type Change = fn(&mut IntrospectionAnswer);
        let cases: [(&str, Change); 9] = [
            ("jti", |a| a.jti = Some("j2".into())),
            ("token_type", |a| a.token_type = Some("N_A".into())),
            ("iss", |a| a.iss = Some("https://as.test/".into())),
            ("sub", |a| a.sub = Some("mallory".into())),
            ("client_id", |a| a.client_id = Some("other-app".into())),
            // More audiences than the token, and fewer: both are another token.
            ("aud", |a| a.aud.push("third".into())),
            ("aud", |a| a.aud = vec!["api".into()]),
            ("exp", |a| a.exp = Some(1_700_000_001)),
            ("scope", |a| a.scope = Some("read".into())),
        ];
        for (member, change) in cases {
            let mut answer = answer();
            change(&mut answer);
            assert_eq!(
                agree(&jwt(), &answer),
                Err(InvalidToken::IntrospectionMismatch(member)),
                "{member}"
            );
        }
        let mut more_scopes = answer();
        more_scopes.scope = Some("read write admin".into());
        assert_eq!(
            agree(&jwt(), &more_scopes),
            Err(InvalidToken::IntrospectionMismatch("scope"))
        );
    }

    #[test]
    fn another_kind_of_token_is_refused_before_any_comparison() {
        let mut refresh = answer();
        refresh.jti = Some("other".into());
        refresh.not_access_token = Some("token_type");
        assert_eq!(agree(&jwt(), &refresh), Err(InvalidToken::NotAccessToken));
    }
}
