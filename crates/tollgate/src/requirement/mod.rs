//! What a route needs beyond a valid token: the [`Requirement`] type, its validation where it
//! is attached, and (in `check.rs`) the check of a token against it.

mod check;

use std::time::Duration;

use crate::dpop::SenderConstraint;
use crate::error::{ConfigError, ConfigErrorKind};

/// What a route requires beyond a valid access token.
///
/// The same type serves axum route annotations ([`Tollgate::require`](crate::Tollgate::require))
/// and the rows of a [`PolicyTable`](crate::PolicyTable).
///
/// A requirement is checked wherever it is attached, with the same rules: by
/// [`Tollgate::require`](crate::Tollgate::require) and
/// [`PolicyTable::uniform`](crate::PolicyTable::uniform) (which panic, as axum's router does on
/// an invalid route, and have `try_` forms that return the error), and by
/// [`PolicyTableBuilder::build`](crate::PolicyTableBuilder::build). It is refused when
///
/// - a scope or `acr` value is not an RFC 6749 §3.3 `scope-token` (empty, a space, a `"` or
///   `\`, a control or non-ASCII character);
/// - [`any_scopes`](Self::any_scopes) or [`acr_values`](Self::acr_values) was given an empty
///   list: "one of nothing" would silently require nothing;
/// - [`public`](Self::public) is combined with anything that needs a token (scopes,
///   introspection, token or authentication age, `acr` values, a sender constraint,
///   fail-open);
/// - it accepts DPoP ([`sender_constraint`](Self::sender_constraint),
///   [`dpop_required`](Self::dpop_required)) and the engine it is attached to has no
///   [`Dpop`](crate::Dpop) settings (checked by the engine where it is attached);
/// - [`fail_open_when_unreachable`](Self::fail_open_when_unreachable) is set on a route that
///   is not sensitive, where it would mean nothing.
///
/// ```
/// use std::time::Duration;
/// use tollgate::Requirement;
///
/// // Any valid token.
/// let routine = Requirement::routine();
/// // Scope `payments`, and the authorization server must confirm the token is still active;
/// // an answer up to 10 seconds old is good enough.
/// let payments = Requirement::sensitive(Duration::from_secs(10)).all_scopes(["payments"]);
/// assert!(payments.is_sensitive() && !routine.is_sensitive());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Requirement {
    pub(crate) public: bool,
    pub(crate) all_scopes: Vec<String>,
    pub(crate) any_scopes: Vec<String>,
    pub(crate) live: Option<Duration>,
    pub(crate) fail_open: bool,
    pub(crate) max_token_age: Option<Duration>,
    pub(crate) acr_values: Vec<String>,
    pub(crate) max_auth_age: Option<Duration>,
    /// The route's own sender constraint, on top of the token issuer's; `None`: the issuer's.
    pub(crate) sender: Option<SenderConstraint>,
    /// `any_scopes` / `acr_values` were called, so that an empty list can be told from none.
    any_scopes_given: bool,
    acr_values_given: bool,
}

impl Requirement {
    /// Any valid token, checked locally. The default.
    pub fn routine() -> Self {
        Self::default()
    }

    /// No token needed at all (health checks, public documents). Only meaningful in a
    /// [`PolicyTable`](crate::PolicyTable): the request passes through untouched and carries no
    /// [`Principal`](crate::Principal).
    pub fn public() -> Self {
        Self {
            public: true,
            ..Self::default()
        }
    }

    /// A sensitive route: besides the local checks, the authorization server must confirm
    /// through introspection (RFC 7662) that the token is still active.
    ///
    /// `freshness` is how old a cached answer may be. `Duration::ZERO` asks on every request
    /// (concurrent requests with the same token still share one call). A revocation is seen
    /// here at most `freshness` late.
    pub fn sensitive(freshness: Duration) -> Self {
        Self {
            live: Some(freshness),
            ..Self::default()
        }
    }

    /// Requires every one of `scopes` (added to any already required).
    pub fn all_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.all_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Requires at least one of `scopes` (added to any already listed). The list must not end
    /// up empty.
    pub fn any_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.any_scopes.extend(scopes.into_iter().map(Into::into));
        self.any_scopes_given = true;
        self
    }

    /// Refuses tokens issued (`iat`) longer ago than `max_age`, even if not yet expired.
    pub fn max_token_age(mut self, max_age: Duration) -> Self {
        self.max_token_age = Some(max_age);
        self
    }

    /// Requires the token's `acr` to be one of `values` (RFC 9470); otherwise the answer is
    /// 401 `insufficient_user_authentication` with `acr_values`, so the client can step up.
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values.extend(values.into_iter().map(Into::into));
        self.acr_values_given = true;
        self
    }

    /// Requires the user to have authenticated (`auth_time`) at most `max_age` ago (RFC 9470);
    /// otherwise 401 `insufficient_user_authentication` with `max_age`.
    pub fn max_auth_age(mut self, max_age: Duration) -> Self {
        self.max_auth_age = Some(max_age);
        self
    }

    /// How tokens may be presented on this route ([`SenderConstraint`]), on top of what the
    /// token's issuer allows ([`TrustedIssuer::sender_constraint`](crate::TrustedIssuer::sender_constraint)):
    /// a request must satisfy both. A route that accepts DPoP needs an engine with
    /// [`Dpop`](crate::Dpop) settings; attaching it to one without is refused. Defaults to
    /// whatever the issuer allows.
    pub fn sender_constraint(mut self, constraint: SenderConstraint) -> Self {
        self.sender = Some(constraint);
        self
    }

    /// Only DPoP-bound tokens with their proof (RFC 9449): bearer tokens are refused with 401
    /// and the `DPoP` challenge. Short for
    /// [`sender_constraint(SenderConstraint::DpopRequired)`](Self::sender_constraint).
    pub fn dpop_required(self) -> Self {
        self.sender_constraint(SenderConstraint::DpopRequired)
    }

    /// The route's own sender constraint, if it sets one.
    pub fn sender(&self) -> Option<SenderConstraint> {
        self.sender
    }

    /// On a sensitive route, let requests through on local validation alone when the
    /// authorization server cannot be reached, instead of answering 503. Refused on a route
    /// that is not sensitive.
    ///
    /// "Cannot be reached" means a refused or reset connection, a timeout, or an HTTP 5xx
    /// answer: an outage, which ends by itself. Everything else stays closed (503), because it
    /// would keep the route open for good and silently: the AS rejecting tollgate's
    /// credentials (401/403, `invalid_client`), a malformed answer, a redirect, no
    /// introspection configured or no endpoint known, tollgate's own limits. Those are logged
    /// at ERROR (or WARN) with a hint at the fix. Opaque tokens never fail open: without the AS
    /// nothing is known about them.
    ///
    /// Defaults to false (closed: 503 while the authorization server cannot be reached).
    ///
    /// **Weakens security**: while the authorization server is unreachable, a revoked token is
    /// accepted here. A token that introspection already called inactive is still refused.
    pub fn fail_open_when_unreachable(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// Whether the route needs live introspection.
    pub fn is_sensitive(&self) -> bool {
        self.live.is_some()
    }

    /// The freshness budget of a sensitive route.
    pub fn freshness(&self) -> Option<Duration> {
        self.live
    }

    /// Whether no token is needed.
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// Checks the requirement (the rules are listed on [`Requirement`]). Every place a
    /// requirement is attached calls this.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let refuse = |message: String| Err(ConfigError::new(ConfigErrorKind::Requirement, message));
        let names = self
            .all_scopes
            .iter()
            .chain(&self.any_scopes)
            .chain(&self.acr_values);
        for name in names {
            // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). The same set is
            // safe inside a quoted `WWW-Authenticate` parameter (RFC 6750 §3, RFC 9470 §3).
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return refuse(format!(
                    "{name:?} is not a valid scope or acr value (RFC 6749 §3.3 scope-token)"
                ));
            }
        }
        if self.any_scopes_given && self.any_scopes.is_empty() {
            return refuse(
                "any_scopes was given no scope: one of nothing would require nothing".into(),
            );
        }
        if self.acr_values_given && self.acr_values.is_empty() {
            return refuse(
                "acr_values was given no value: one of nothing would require nothing".into(),
            );
        }
        if self.public
            && (self.live.is_some()
                || !self.all_scopes.is_empty()
                || !self.any_scopes.is_empty()
                || !self.acr_values.is_empty()
                || self.max_auth_age.is_some()
                || self.max_token_age.is_some()
                || self.sender.is_some()
                || self.fail_open)
        {
            return refuse(
                "a public requirement cannot also require scopes, introspection, a token or \
                 authentication age, acr values, a sender constraint or fail-open: a public \
                 route takes no token"
                    .into(),
            );
        }
        if self.fail_open && self.live.is_none() {
            return refuse(
                "fail_open_when_unreachable applies to sensitive requirements only: this route \
                 does not introspect"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Stops router construction on an invalid requirement, as axum does on an invalid route: the
/// mistake shows at start, with its reason, never as a route that silently asks less.
#[track_caller]
#[allow(
    clippy::panic,
    reason = "configuration time, documented under `# Panics`"
)]
pub(crate) fn refuse(error: &ConfigError) -> ! {
    panic!("{error}")
}

#[cfg(test)]
mod tests;
