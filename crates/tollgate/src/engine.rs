//! The validation engine: the request's way through tollgate (DESIGN §2).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::claims::{self, ClaimRules};
use crate::hash::TokenHash;
use crate::introspection::{
    IntrospectionAnswer, IntrospectionError, Introspector, Lookup, TokenKind,
};
use crate::keys::{KeyLookupError, KeySet};
use crate::log::{debug, warn};
use crate::principal::{Principal, Scopes, TokenFormat, TokenInfo};
use crate::rejection::{InvalidToken, Rejection, Responder, Unavailable};
use crate::requirement::Requirement;
use crate::token;

/// The tollgate engine: configuration, signing keys, caches and the introspection client.
///
/// Built once with [`Tollgate::builder`], then cloned (cheaply) into layers, route annotations
/// and anywhere else tokens are checked. See the [crate documentation](crate) for the whole
/// picture.
#[derive(Clone)]
pub struct Tollgate {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Tollgate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Configuration that identifies the deployment; never a secret or a token.
        f.debug_struct("Tollgate")
            .field("issuer", &self.inner.rules.issuer)
            .field("audiences", &self.inner.rules.audiences)
            .field("algorithms", &self.inner.algorithms)
            .field("introspection", &self.inner.introspector.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) rules: ClaimRules,
    pub(crate) algorithms: Vec<jsonwebtoken::Algorithm>,
    pub(crate) keys: KeySet,
    pub(crate) verified: moka::sync::Cache<TokenHash, Arc<TokenInfo>>,
    pub(crate) introspector: Option<Introspector>,
    pub(crate) accept_opaque: bool,
    /// Whether compact JWEs go to introspection (as opaque tokens) rather than being refused.
    pub(crate) introspect_encrypted: bool,
    pub(crate) max_token_bytes: usize,
    /// Shared with every `TokenInfo` the engine makes, so that an extractor refusing later
    /// (claims that do not fit a handler's type) answers with the same realm and body hook.
    pub(crate) responder: Arc<Responder>,
    pub(crate) sensitive_freshness: Duration,
    pub(crate) typ_warned: AtomicBool,
    /// A sensitive route met a gate without introspection: said once, not per request.
    pub(crate) no_introspection_warned: AtomicBool,
}

/// What is left to do after the synchronous part of validation.
pub(crate) struct Pending {
    hashes: Hashes,
    next: Next,
}

/// The two fingerprints of a token, computed once per request.
#[derive(Clone, Copy)]
struct Hashes {
    /// Of the whole token: keys the verified-token cache.
    whole: TokenHash,
    /// Of what introspection answers are about: keys the introspection cache and the
    /// revocation memory (for a JWT its signed part, see [`TokenHash::of_jws`]).
    live: TokenHash,
}

enum Next {
    /// The `kid` is unknown: refetch the key set once, then verify again.
    RefetchKeys,
    /// Verified locally; the route wants a live answer too.
    Introspect(Arc<TokenInfo>),
    /// Not a JWT: introspection is the only check.
    Opaque,
}

/// The outcome of the synchronous part.
pub(crate) enum Step {
    Done(Result<Principal, Rejection>),
    Pending(Pending),
}

enum Local {
    Verified(Arc<TokenInfo>),
    UnknownKey,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Tollgate {
    /// Validates a token for a routine use: locally for a JWT, by introspection for an opaque
    /// token. For use outside HTTP (message consumers, WebSocket handshakes, gRPC metadata).
    ///
    /// # Errors
    /// The [`Rejection`] says why the token is not accepted, or why no decision can be made.
    pub async fn validate(&self, token: &str) -> Result<Principal, Rejection> {
        self.validate_with(token, &Requirement::routine()).await
    }

    /// Validates a token against a route's [`Requirement`] (scopes, live introspection, ...).
    ///
    /// # Errors
    /// The [`Rejection`] says why the token is not accepted, or why no decision can be made.
    pub async fn validate_with(
        &self,
        token: &str,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        match self.begin(token, requirement) {
            Step::Done(result) => result,
            Step::Pending(pending) => self.finish(token, pending, requirement).await,
        }
    }

    /// A layer that authenticates every request with routine requirements (any valid token).
    pub fn layer(&self) -> crate::TollgateLayer {
        crate::TollgateLayer::new(
            self.clone(),
            crate::PolicyTable::uniform(Requirement::routine()),
        )
    }

    /// A layer that authenticates every request with the requirement its
    /// [`PolicyTable`](crate::PolicyTable) row gives.
    pub fn layer_with_policy(&self, policy: crate::PolicyTable) -> crate::TollgateLayer {
        crate::TollgateLayer::new(self.clone(), policy)
    }

    /// A route annotation: the wrapped route requires `requirement`.
    ///
    /// With axum, apply it with `route_layer`, so that unknown paths stay 404. The annotation
    /// validates the token itself, so it works with or without [`Tollgate::layer`] around the
    /// router (behind one, the repeated local check is a verified-token cache hit), then
    /// applies its requirement: scopes, and for a sensitive route, live introspection. It is
    /// the layer of [`layer_with_policy`](Self::layer_with_policy) with a one-requirement table.
    ///
    /// # Panics
    ///
    /// If `requirement` is invalid (see [`Requirement`] for the rules): a bad scope name, or a
    /// contradiction such as a public route with scopes. Like axum's router on an invalid
    /// route, this stops the service at construction, never at a request.
    /// [`try_require`](Self::try_require) returns the error instead.
    ///
    /// # Example
    ///
    /// ```
    /// use axum::{Router, routing::{delete, get}};
    /// use http::{Request, StatusCode};
    /// use tollgate::{Introspection, Principal, Requirement, Tollgate};
    /// use tollgate_mock::MockAuthServer;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let auth_server = MockAuthServer::start().await;
    /// let gate = Tollgate::builder()
    ///     .issuer(auth_server.issuer())
    ///     .audience(auth_server.audience())
    ///     .introspection(Introspection::client_secret_basic(auth_server.client_id(), auth_server.client_secret()))
    ///     .build()
    ///     .unwrap();
    /// assert!(gate.ready(std::time::Duration::from_secs(10)).await);
    ///
    /// async fn photos(principal: Principal) -> String {
    ///     format!("photos of {}", principal.subject().unwrap_or("nobody"))
    /// }
    /// async fn ban_user() -> StatusCode {
    ///     StatusCode::NO_CONTENT
    /// }
    ///
    /// let app = Router::new()
    ///     .route("/photos", get(photos).route_layer(gate.require(Requirement::routine().all_scopes(["read"]))))
    ///     // Sensitive: the authorization server confirms the token on every request.
    ///     .route("/admin/users/{id}", delete(ban_user).route_layer(gate.sensitive()));
    ///
    /// let token = auth_server.token().scope("read").sign();
    /// let request = |method: &str, path: &str| {
    ///     Request::builder()
    ///         .method(method)
    ///         .uri(path)
    ///         .header("authorization", format!("Bearer {token}"))
    ///         .body(axum::body::Body::empty())
    ///         .unwrap()
    /// };
    /// assert_eq!(app.clone().oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::OK);
    /// assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::NO_CONTENT);
    ///
    /// // Revoked at the authorization server: the sensitive route sees it at once.
    /// auth_server.revoke(&token);
    /// assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// // ... and from then on every route refuses the token (revocation memory).
    /// assert_eq!(app.oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// # }
    /// ```
    #[track_caller]
    pub fn require(&self, requirement: Requirement) -> crate::TollgateLayer {
        self.try_require(requirement)
            .unwrap_or_else(|error| crate::requirement::refuse(&error))
    }

    /// [`require`](Self::require), returning an invalid requirement's error instead of
    /// panicking: for requirements that come from configuration files.
    ///
    /// # Errors
    /// A [`ConfigError`](crate::ConfigError) of kind
    /// [`Requirement`](crate::ConfigErrorKind::Requirement) naming the problem.
    pub fn try_require(
        &self,
        requirement: Requirement,
    ) -> Result<crate::TollgateLayer, crate::ConfigError> {
        Ok(crate::TollgateLayer::new(
            self.clone(),
            crate::PolicyTable::try_uniform(requirement)?,
        ))
    }

    /// A route annotation for a sensitive route: live introspection with the freshness budget
    /// set by [`TollgateBuilder::sensitive_freshness`](crate::TollgateBuilder::sensitive_freshness)
    /// (zero unless changed). Add scopes with [`require`](Self::require) and
    /// [`Requirement::sensitive`] instead when the route needs them.
    pub fn sensitive(&self) -> crate::TollgateLayer {
        self.require(self.default_sensitive())
    }

    /// Waits until the signing keys are loaded, at most `timeout`; true when they are, and at
    /// least one of them is usable (as [`Status::keys_loaded`](crate::Status::keys_loaded)).
    ///
    /// Optional: without it the service starts at once and answers 503 with `Retry-After`
    /// until the keys arrive.
    pub async fn ready(&self, timeout: Duration) -> bool {
        self.inner.keys.wait_ready(timeout).await
    }

    /// Everything that can be decided without waiting: the whole local validation, and the
    /// requirement checks of a routine route.
    pub(crate) fn begin(&self, token: &str, requirement: &Requirement) -> Step {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Step::Done(Err(Rejection::InvalidToken(InvalidToken::TooLarge)));
        }
        let jwt = token::is_jwt_shaped(token);
        // `live` keys what introspection said; see `TokenHash::of_jws` for why a JWT's is not
        // the hash of the whole token.
        let hashes = if jwt {
            let (whole, live) = TokenHash::of_jws(token);
            Hashes { whole, live }
        } else {
            let hash = TokenHash::of(token);
            Hashes {
                whole: hash,
                live: hash,
            }
        };
        // Revocation memory: once introspection called the verified token inactive, every
        // route refuses it until it expires. One atomic load while nothing is remembered.
        if inner
            .introspector
            .as_ref()
            .is_some_and(|i| i.known_inactive(&hashes.live))
        {
            return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Inactive)));
        }
        if !jwt {
            // A compact JWE cannot be validated locally and costs the AS a call that, for most
            // servers, ends in `unsupported_token_type`: refused here unless the user opted in.
            // Only tokens that are not JWT-shaped pay for this look.
            let encrypted = is_jwe_shaped(token);
            let accepted = if encrypted {
                inner.introspect_encrypted
            } else {
                inner.accept_opaque
            };
            if let Some(introspector) = inner.introspector.as_ref().filter(|_| accepted) {
                // Junk outside the AS's token shape is refused without asking it.
                if !introspector.admits_shape(token) {
                    return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Malformed)));
                }
                // A cached answer young enough for this route decides without waiting, and so
                // does a remembered "inactive" for a string the AS does not know.
                let max_age = requirement
                    .live
                    .unwrap_or_else(|| introspector.routine_ttl());
                match introspector.lookup(&hashes.live, max_age) {
                    Lookup::Active(answer) => {
                        return Step::Done(self.opaque_principal(&answer, requirement));
                    }
                    Lookup::Inactive => {
                        return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Inactive)));
                    }
                    Lookup::Miss => {}
                }
                return Step::Pending(Pending {
                    hashes,
                    next: Next::Opaque,
                });
            }
            return Step::Done(Err(Rejection::InvalidToken(if encrypted {
                InvalidToken::Encrypted
            } else {
                InvalidToken::OpaqueUnsupported
            })));
        }
        let now = now();
        match self.local(token, &hashes.whole, now) {
            Ok(Local::Verified(info)) => self.after_local(info, hashes, requirement, now),
            Ok(Local::UnknownKey) => Step::Pending(Pending {
                hashes,
                next: Next::RefetchKeys,
            }),
            Err(rejection) => Step::Done(Err(rejection)),
        }
    }

    /// The part that waits: a key refetch, an introspection call.
    pub(crate) async fn finish(
        &self,
        token: &str,
        pending: Pending,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let Pending { hashes, next } = pending;
        match next {
            Next::RefetchKeys => {
                // One shared refetch, at most once per cooldown (DESIGN §3).
                self.inner.keys.refetch_unknown_kid().await;
                let now = now();
                match self.local(token, &hashes.whole, now)? {
                    Local::Verified(info) => match self.after_local(info, hashes, requirement, now)
                    {
                        Step::Done(result) => result,
                        Step::Pending(Pending {
                            next: Next::Introspect(info),
                            ..
                        }) => {
                            self.introspect_jwt(token, hashes.live, info, requirement)
                                .await
                        }
                        Step::Pending(_) => Err(Rejection::InvalidToken(InvalidToken::UnknownKey)),
                    },
                    Local::UnknownKey => Err(Rejection::InvalidToken(InvalidToken::UnknownKey)),
                }
            }
            Next::Introspect(info) => {
                self.introspect_jwt(token, hashes.live, info, requirement)
                    .await
            }
            Next::Opaque => {
                self.introspect_opaque(token, hashes.live, requirement)
                    .await
            }
        }
    }

    /// Local validation with the verified-token cache in front of it.
    fn local(&self, token: &str, hash: &TokenHash, now: i64) -> Result<Local, Rejection> {
        let inner = &*self.inner;
        if let Some(info) = inner.verified.get(hash) {
            // A cached verification holds only while the key that made it is still published.
            if info
                .key
                .as_ref()
                .is_some_and(|k| inner.keys.key_is_current(k))
            {
                claims::check_times(&info, now, inner.rules.leeway)
                    .map_err(Rejection::InvalidToken)?;
                return Ok(Local::Verified(info));
            }
            inner.verified.invalidate(hash);
        }
        let info = match self.verify(token, now)? {
            Some(info) => Arc::new(info),
            None => return Ok(Local::UnknownKey),
        };
        inner.verified.insert(*hash, Arc::clone(&info));
        Ok(Local::Verified(info))
    }

    /// Signature and claims (DESIGN §4). `Ok(None)` when the `kid` is not in the key set.
    fn verify(&self, token: &str, now: i64) -> Result<Option<TokenInfo>, Rejection> {
        let inner = &*self.inner;
        let invalid = Rejection::InvalidToken;
        let jws = token::split_jws(token).map_err(invalid)?;
        let header = &jws.header;
        // RFC 7515 §4.1.11: tollgate implements no extension, so any `crit` is unknown.
        // RFC 7797 `b64` only exists together with `crit`; refuse it in any form.
        if header.extensions {
            return Err(invalid(InvalidToken::Critical));
        }
        // RFC 8725 §3.1: only allowlisted algorithms; `none` can never be on the list.
        let alg = token::parse_alg(&header.alg)
            .filter(|alg| inner.algorithms.contains(alg))
            .ok_or(invalid(InvalidToken::Algorithm))?;
        if let Err(e) = claims::check_typ(header.typ.as_deref(), &inner.rules) {
            if !inner.typ_warned.swap(true, Ordering::Relaxed) {
                warn!(
                    "refused an access token for its `typ` header (RFC 9068 requires at+jwt); if \
                     the authorization server does not follow RFC 9068, enable \
                     TollgateBuilder::allow_untyped_tokens"
                );
            }
            return Err(invalid(e));
        }
        let Some(keys) = inner.keys.snapshot() else {
            inner.keys.ensure_started();
            return Err(Rejection::Unavailable {
                reason: Unavailable::Keys,
                retry_after: inner.keys.retry_after(),
            });
        };
        let key = match keys.find(header.kid.as_deref(), alg) {
            Ok(key) => Arc::clone(key),
            Err(KeyLookupError::UnknownKey) => return Ok(None),
            Err(KeyLookupError::AlgorithmMismatch) => {
                return Err(invalid(InvalidToken::KeyMismatch));
            }
            Err(KeyLookupError::Ambiguous) => return Err(invalid(InvalidToken::UnknownKey)),
        };
        if !key.verify(jws.signing_input.as_bytes(), &jws.signature) {
            return Err(invalid(InvalidToken::Signature));
        }
        let payload = token::decode_segment(jws.payload_b64).map_err(invalid)?;
        let claims = token::parse_claims(&payload).map_err(invalid)?;
        let mut info = claims::check_claims(claims, &inner.rules, now, key).map_err(invalid)?;
        info.responder = Some(Arc::clone(&inner.responder));
        Ok(Some(info))
    }

    fn after_local(
        &self,
        info: Arc<TokenInfo>,
        hashes: Hashes,
        requirement: &Requirement,
        now: i64,
    ) -> Step {
        if let Err(rejection) = check_requirement(&info, requirement, now) {
            return Step::Done(Err(rejection));
        }
        if let Some(freshness) = requirement.live {
            // A cached answer within the route's budget decides without waiting.
            if let Some(answer) = self
                .inner
                .introspector
                .as_ref()
                .and_then(|i| i.cached(&hashes.live, freshness))
            {
                return Step::Done(
                    agree(&info, &answer)
                        .map(|()| Principal::new(info, true))
                        .map_err(Rejection::InvalidToken),
                );
            }
            return Step::Pending(Pending {
                hashes,
                next: Next::Introspect(info),
            });
        }
        Step::Done(Ok(Principal::new(info, false)))
    }

    async fn introspect_jwt(
        &self,
        token: &str,
        live: TokenHash,
        info: Arc<TokenInfo>,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let freshness = requirement.live.unwrap_or(self.inner.sensitive_freshness);
        let Some(introspector) = &self.inner.introspector else {
            // A configuration problem, not an outage: fail-open does not apply.
            if !self
                .inner
                .no_introspection_warned
                .swap(true, Ordering::Relaxed)
            {
                warn!("a sensitive route needs introspection, but none is configured");
            }
            return Err(Rejection::Unavailable {
                reason: Unavailable::NoIntrospection,
                retry_after: Duration::from_secs(60),
            });
        };
        match introspector
            .check(token, live, TokenKind::Jwt, freshness, info.expires_at)
            .await
        {
            Ok(answer) => {
                agree(&info, &answer).map_err(Rejection::InvalidToken)?;
                Ok(Principal::new(info, true))
            }
            Err(IntrospectionError::Inactive) => {
                Err(Rejection::InvalidToken(InvalidToken::Inactive))
            }
            // About the token: it cannot be confirmed, which is no revocation (not cached).
            Err(IntrospectionError::Unconfirmable(_)) => {
                Err(Rejection::InvalidToken(InvalidToken::Unconfirmable))
            }
            // Only an AS that cannot be reached opens a fail-open route. An AS that refuses
            // our credentials or answers nonsense would keep it open for good, and silently;
            // a missing endpoint is a configuration problem. Both stay closed.
            Err(IntrospectionError::Unreachable(_)) if requirement.fail_open => {
                debug!("introspection unreachable; route fails open");
                Ok(Principal::new(info, false))
            }
            Err(IntrospectionError::NoEndpoint) => Err(Rejection::Unavailable {
                reason: Unavailable::NoIntrospection,
                retry_after: Duration::from_secs(60),
            }),
            Err(
                IntrospectionError::Unreachable(_)
                | IntrospectionError::Broken(_)
                | IntrospectionError::Saturated(_),
            ) => Err(Rejection::Unavailable {
                reason: Unavailable::Introspection,
                retry_after: introspector.retry_after(),
            }),
        }
    }

    async fn introspect_opaque(
        &self,
        token: &str,
        hash: TokenHash,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let Some(introspector) = &self.inner.introspector else {
            return Err(Rejection::InvalidToken(InvalidToken::OpaqueUnsupported));
        };
        let max_age = requirement
            .live
            .unwrap_or_else(|| introspector.routine_ttl());
        let answer = match introspector
            .check(token, hash, TokenKind::Opaque, max_age, None)
            .await
        {
            Ok(answer) => answer,
            Err(IntrospectionError::Inactive) => {
                return Err(Rejection::InvalidToken(InvalidToken::Inactive));
            }
            Err(IntrospectionError::NoEndpoint) => {
                return Err(Rejection::InvalidToken(InvalidToken::OpaqueUnsupported));
            }
            Err(IntrospectionError::Unconfirmable(_)) => {
                return Err(Rejection::InvalidToken(InvalidToken::Unconfirmable));
            }
            // Fail-open cannot apply: without the AS nothing at all is known about the token.
            Err(
                IntrospectionError::Unreachable(_)
                | IntrospectionError::Broken(_)
                | IntrospectionError::Saturated(_),
            ) => {
                return Err(Rejection::Unavailable {
                    reason: Unavailable::Introspection,
                    retry_after: introspector.retry_after(),
                });
            }
        };
        self.opaque_principal(&answer, requirement)
    }

    /// The principal of an opaque token from its introspection answer, held to the route's
    /// requirement.
    fn opaque_principal(
        &self,
        answer: &IntrospectionAnswer,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let accept_without_audience = self
            .inner
            .introspector
            .as_ref()
            .is_some_and(Introspector::accepts_answers_without_audience);
        let info = self
            .opaque_info(answer, accept_without_audience)
            .map_err(Rejection::InvalidToken)?;
        check_requirement(&info, requirement, now())?;
        Ok(Principal::new(Arc::new(info), true))
    }

    /// The principal of an opaque token, from the introspection answer (RFC 7662 §2.2), which
    /// is all there is to know about it.
    ///
    /// - It must be about an access token (the markers are listed on
    ///   [`Introspection`](crate::Introspection)).
    /// - `aud` must name one of the configured audiences, as a JWT's must (RFC 9068 §4); an
    ///   answer without `aud` passes only with
    ///   [`accept_answers_without_audience`](crate::Introspection::accept_answers_without_audience).
    ///   Refresh tokens, and tokens meant for other resource servers, usually have none.
    /// - `iss`, when present, must be the configured issuer. It is not required: the answer
    ///   comes from the configured endpoint over an authenticated call.
    fn opaque_info(
        &self,
        answer: &IntrospectionAnswer,
        accept_without_audience: bool,
    ) -> Result<TokenInfo, InvalidToken> {
        let rules = &self.inner.rules;
        if answer.not_access_token.is_some() {
            return Err(InvalidToken::NotAccessToken);
        }
        if answer.iss.as_ref().is_some_and(|iss| *iss != rules.issuer) {
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
        Ok(TokenInfo {
            format: TokenFormat::Opaque,
            issuer: answer.iss.clone(),
            subject: answer.sub.clone(),
            client_id: answer.client_id.clone(),
            scopes: answer
                .scope
                .as_deref()
                .map(Scopes::parse)
                .unwrap_or_default(),
            audiences: answer.aud.clone(),
            issued_at: answer.iat,
            expires_at: answer.exp,
            not_before: answer.nbf,
            auth_time: None,
            acr: None,
            amr: Vec::new(),
            jti: answer.jti.clone(),
            claims: serde_json::Value::Object(answer.raw.clone()),
            key: None,
            responder: Some(Arc::clone(&self.inner.responder)),
        })
    }

    /// The freshness budget of [`Tollgate::sensitive`] annotations.
    pub fn sensitive_freshness(&self) -> Duration {
        self.inner.sensitive_freshness
    }

    /// Hands an accepted request its principal.
    pub(crate) fn accept<B>(&self, request: &mut http::Request<B>, principal: Principal) {
        request.extensions_mut().insert(principal);
    }

    /// The response for a rejection, with the configured realm and body hook.
    pub(crate) fn rejection_response(&self, rejection: &Rejection) -> http::Response<bytes::Bytes> {
        self.inner.responder.respond(rejection)
    }

    /// The requirement that route annotations made with [`Tollgate::sensitive`] use.
    pub(crate) fn default_sensitive(&self) -> Requirement {
        Requirement::sensitive(self.inner.sensitive_freshness)
    }
}

/// Scopes, token age and authentication context (DESIGN §6).
fn check_requirement(info: &TokenInfo, req: &Requirement, now: i64) -> Result<(), Rejection> {
    let scopes = &info.scopes;
    let missing_all = req.all_scopes.iter().any(|s| !scopes.contains(s));
    let missing_any =
        !req.any_scopes.is_empty() && !req.any_scopes.iter().any(|s| scopes.contains(s));
    if missing_all || missing_any {
        // RFC 6750 §3: `scope` lists the scopes needed; for any-of, each one would do.
        let required = if missing_all {
            &req.all_scopes
        } else {
            &req.any_scopes
        };
        return Err(Rejection::InsufficientScope {
            required: required.join(" "),
        });
    }
    if let Some(max_age) = req.max_token_age {
        let age_limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        match info.issued_at {
            Some(iat) if now.saturating_sub(iat) <= age_limit => {}
            _ => return Err(Rejection::InvalidToken(InvalidToken::TooOld)),
        }
    }
    let acr_ok = req.acr_values.is_empty()
        || info
            .acr
            .as_ref()
            .is_some_and(|acr| req.acr_values.contains(acr));
    let auth_ok = req.max_auth_age.is_none_or(|max| {
        let limit = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
        info.auth_time
            .is_some_and(|t| now.saturating_sub(t) <= limit)
    });
    if !acr_ok || !auth_ok {
        // RFC 9470 §3: say what would satisfy the route.
        return Err(Rejection::InsufficientUserAuthentication {
            acr_values: (!req.acr_values.is_empty()).then(|| req.acr_values.join(" ")),
            max_age: req.max_auth_age.map(|d| d.as_secs()),
        });
    }
    Ok(())
}

/// For a JWT, the introspection answer must describe the same token, and an access token
/// (RFC 7662 §2.2; the markers are listed on [`Introspection`](crate::Introspection)).
fn agree(info: &TokenInfo, answer: &IntrospectionAnswer) -> Result<(), InvalidToken> {
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
    if !same(&info.jti, &answer.jti) {
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
    if !same(&info.issuer, &answer.iss) {
        return Err(InvalidToken::IntrospectionMismatch("iss"));
    }
    if !same(&info.subject, &answer.sub) {
        return Err(InvalidToken::IntrospectionMismatch("sub"));
    }
    if !same(&info.client_id, &answer.client_id) {
        return Err(InvalidToken::IntrospectionMismatch("client_id"));
    }
    // Audiences compare as sets (RFC 7519 §4.1.3: order and repetition carry no meaning),
    // without allocating: there are one or two of them.
    let covers = |a: &[String], b: &[String]| a.iter().all(|x| b.contains(x));
    if !answer.aud.is_empty()
        && (!covers(&info.audiences, &answer.aud) || !covers(&answer.aud, &info.audiences))
    {
        return Err(InvalidToken::IntrospectionMismatch("aud"));
    }
    if answer
        .exp
        .is_some_and(|exp| info.expires_at.is_some_and(|ours| ours != exp))
    {
        return Err(InvalidToken::IntrospectionMismatch("exp"));
    }
    // RFC 7662 §2.2 / RFC 9068 §2.2.3: space-delimited, so compared as sets.
    if let Some(scope) = &answer.scope {
        let mut theirs = scope.split(' ').filter(|s| !s.is_empty());
        let mut ours = info.scopes.iter();
        if !theirs.all(|s| info.scopes.contains(s))
            || !ours.all(|s| scope.split(' ').any(|t| t == s))
        {
            return Err(InvalidToken::IntrospectionMismatch("scope"));
        }
    }
    Ok(())
}

/// A compact JWE (RFC 7516 §7.1): five segments, four dots. RFC 7516 §9 tells a JWE from a JWS
/// by this count alone. Stops at the fifth dot, so a long token with many is not scanned
/// further than needed.
fn is_jwe_shaped(token: &str) -> bool {
    token.matches('.').take(5).count() == 4
}
