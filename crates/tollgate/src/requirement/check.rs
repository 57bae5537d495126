//! The check of a validated token against a route's [`Requirement`]: scopes (RFC 6750 §3.1),
//! token age, and authentication context and age (RFC 9470).
//!
//! Live introspection, the other half of a sensitive requirement, is the engine's to start; this
//! is everything that can be decided from the token alone.

use super::Requirement;
use crate::principal::TokenInfo;
use crate::rejection::{InvalidToken, Rejection};

impl Requirement {
    /// Whether the token `info` satisfies this requirement at `now` (Unix seconds).
    ///
    /// # Errors
    /// - [`Rejection::InsufficientScope`] (403) when a scope is missing, naming the scopes the
    ///   route asks for (RFC 6750 §3: for any-of, each one would do);
    /// - [`InvalidToken::TooOld`] (401) when `iat` is missing or older than `max_token_age`;
    /// - [`Rejection::InsufficientUserAuthentication`] (401) when `acr` or `auth_time` do not
    ///   satisfy the route, with what would (RFC 9470 §3).
    pub(crate) fn check(&self, info: &TokenInfo, now: i64) -> Result<(), Rejection> {
        let scopes = &info.standard.scopes;
        let missing_all = self.all_scopes.iter().any(|s| !scopes.contains(s));
        let missing_any =
            !self.any_scopes.is_empty() && !self.any_scopes.iter().any(|s| scopes.contains(s));
        if missing_all || missing_any {
            let required = if missing_all {
                &self.all_scopes
            } else {
                &self.any_scopes
            };
            return Err(Rejection::InsufficientScope {
                required: required.join(" "),
            });
        }
        if let Some(max_age) = self.max_token_age {
            let age_limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            match info.standard.issued_at {
                Some(iat) if now.saturating_sub(iat) <= age_limit => {}
                _ => return Err(Rejection::InvalidToken(InvalidToken::TooOld)),
            }
        }
        let acr_ok = self.acr_values.is_empty()
            || info
                .standard
                .acr
                .as_ref()
                .is_some_and(|acr| self.acr_values.contains(acr));
        let auth_ok = self.max_auth_age.is_none_or(|max| {
            let limit = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
            info.standard
                .auth_time
                .is_some_and(|t| now.saturating_sub(t) <= limit)
        });
        if !acr_ok || !auth_ok {
            return Err(Rejection::InsufficientUserAuthentication {
                acr_values: (!self.acr_values.is_empty()).then(|| self.acr_values.join(" ")),
                max_age: self.max_auth_age.map(|d| d.as_secs()),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::principal::{Scopes, StandardClaims, TokenFormat};
    use crate::rejection::Responder;

    const NOW: i64 = 1_700_000_000;

    fn token(scope: &str, f: impl FnOnce(&mut StandardClaims)) -> TokenInfo {
        let mut standard = StandardClaims {
            scopes: Scopes::parse(scope),
            issued_at: Some(NOW - 100),
            ..StandardClaims::default()
        };
        f(&mut standard);
        let responder = Arc::new(Responder::plain(None, None));
        TokenInfo::new(
            TokenFormat::Jwt,
            standard,
            serde_json::Map::new(),
            None,
            &responder,
        )
    }

    fn scope_refusal(requirement: &Requirement, info: &TokenInfo) -> Option<String> {
        match requirement.check(info, NOW) {
            Ok(()) => None,
            Err(Rejection::InsufficientScope { required }) => Some(required),
            Err(other) => panic!("not a scope refusal: {other:?}"),
        }
    }

    #[test]
    fn all_scopes_needs_each_and_names_them_all() {
        let requirement = Requirement::routine().all_scopes(["read", "write"]);
        assert_eq!(
            scope_refusal(&requirement, &token("write read extra", |_| ())),
            None
        );
        assert_eq!(
            scope_refusal(&requirement, &token("read", |_| ())).as_deref(),
            Some("read write")
        );
        assert_eq!(
            scope_refusal(&requirement, &token("", |_| ())).as_deref(),
            Some("read write")
        );
        // Scope names compare exactly (RFC 6749 §3.3).
        assert!(scope_refusal(&requirement, &token("READ WRITE", |_| ())).is_some());
    }

    #[test]
    fn any_scopes_needs_one_and_all_scopes_is_checked_first() {
        let any = Requirement::routine().any_scopes(["admin", "owner"]);
        assert_eq!(scope_refusal(&any, &token("owner", |_| ())), None);
        assert_eq!(
            scope_refusal(&any, &token("read", |_| ())).as_deref(),
            Some("admin owner")
        );
        let both = Requirement::routine()
            .all_scopes(["read"])
            .any_scopes(["admin", "owner"]);
        assert_eq!(scope_refusal(&both, &token("read admin", |_| ())), None);
        // A missing all-of scope is named first: the any-of list would not help alone.
        assert_eq!(
            scope_refusal(&both, &token("admin", |_| ())).as_deref(),
            Some("read")
        );
        assert_eq!(
            scope_refusal(&both, &token("read", |_| ())).as_deref(),
            Some("admin owner")
        );
        // No scope asked for: nothing to miss.
        assert_eq!(
            scope_refusal(&Requirement::routine(), &token("", |_| ())),
            None
        );
    }

    #[test]
    fn token_age_counts_from_iat_and_needs_one() {
        let requirement = Requirement::routine().max_token_age(Duration::from_secs(100));
        assert!(
            requirement.check(&token("", |_| ()), NOW).is_ok(),
            "exactly at the limit"
        );
        let old = token("", |t| t.issued_at = Some(NOW - 101));
        let without = token("", |t| t.issued_at = None);
        for info in [&old, &without] {
            assert_eq!(
                requirement.check(info, NOW),
                Err(Rejection::InvalidToken(InvalidToken::TooOld))
            );
        }
        // Without the bound, neither age nor absence matters.
        assert!(Requirement::routine().check(&old, NOW).is_ok());
    }

    #[test]
    fn acr_values_and_auth_age_ask_for_step_up() {
        let acr = Requirement::routine().acr_values(["urn:mfa", "urn:hw"]);
        assert!(
            acr.check(&token("", |t| t.acr = Some("urn:hw".into())), NOW)
                .is_ok()
        );
        let step_up = Err(Rejection::InsufficientUserAuthentication {
            acr_values: Some("urn:mfa urn:hw".into()),
            max_age: None,
        });
        assert_eq!(
            acr.check(&token("", |t| t.acr = Some("pwd".into())), NOW),
            step_up
        );
        assert_eq!(acr.check(&token("", |_| ()), NOW), step_up);

        let recent = Requirement::routine().max_auth_age(Duration::from_secs(60));
        assert!(
            recent
                .check(&token("", |t| t.auth_time = Some(NOW - 60)), NOW)
                .is_ok()
        );
        let again = Err(Rejection::InsufficientUserAuthentication {
            acr_values: None,
            max_age: Some(60),
        });
        assert_eq!(
            recent.check(&token("", |t| t.auth_time = Some(NOW - 61)), NOW),
            again
        );
        assert_eq!(recent.check(&token("", |_| ()), NOW), again);

        // Both: the challenge names both, whichever failed.
        let both = Requirement::routine()
            .acr_values(["urn:mfa"])
            .max_auth_age(Duration::from_secs(60));
        let fresh_but_weak = token("", |t| {
            t.auth_time = Some(NOW);
            t.acr = Some("pwd".into());
        });
        assert_eq!(
            both.check(&fresh_but_weak, NOW),
            Err(Rejection::InsufficientUserAuthentication {
                acr_values: Some("urn:mfa".into()),
                max_age: Some(60),
            })
        );
    }

    #[test]
    fn scopes_are_checked_before_authentication() {
        // 403 for the scope wins over 401 for the authentication: a step-up would not help.
        let requirement = Requirement::routine()
            .all_scopes(["admin"])
            .acr_values(["urn:mfa"]);
        assert_eq!(
            scope_refusal(&requirement, &token("read", |_| ())).as_deref(),
            Some("admin")
        );
    }
}
