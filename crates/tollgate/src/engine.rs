//! The engine: the orchestration of the request's way through tollgate (the table in the crate
//! documentation, and docs/ARCHITECTURE.md, "The pipeline"). Each step's rules live in the
//! step's own module; this file only decides which step comes next.
//!
//! Longer than 400 lines for a reason: the local path and the two introspection paths (JWT and
//! opaque) are one state machine, and reading it in one file is the point of the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dpop::gate::DpopState;
use crate::hash::TokenHash;
use crate::introspection::{self, Lookup, RevocationMemory, TokenKind};
use crate::issuer::{Issuer, Issuers, Verified};
use crate::jws;
use crate::log::{debug, trace, warn};
use crate::metadata::Published;
use crate::principal::{Principal, TokenInfo};
use crate::rejection::{InvalidToken, Rejection, Responder};
use crate::requirement::Requirement;
use crate::revoke::Revocations;
use crate::verified::{Verification, VerifiedCache};

/// The tollgate engine: configuration, signing keys, caches and the introspection client.
///
/// Built once with [`Tollgate::builder`], then cloned (cheaply) into layers, route annotations
/// and anywhere else tokens are checked. See the [crate documentation](crate) for the whole
/// picture. Its `Debug` output names the issuers, their audiences and algorithms, never a
/// secret.
#[derive(Clone)]
pub struct Tollgate {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Tollgate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Configuration that identifies the deployment; never a secret or a token.
        struct One<'a>(&'a Issuer);
        impl std::fmt::Debug for One<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let issuer = self.0;
                f.debug_struct("Issuer")
                    .field("issuer", &issuer.name())
                    .field("audiences", &issuer.claims.audiences)
                    .field("algorithms", &issuer.header.algorithms)
                    .field("introspection", &issuer.introspector.is_some())
                    .finish_non_exhaustive()
            }
        }
        f.debug_struct("Tollgate")
            .field(
                "issuers",
                &self.inner.issuers.iter().map(One).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The engine's state: the trusted issuers, and what they share.
pub(crate) struct Inner {
    /// Every trusted issuer, each with its rules, keys and introspection client.
    pub(crate) issuers: Issuers,
    /// The issuer opaque tokens go to (its place in `issuers`), if any: they carry no `iss`.
    pub(crate) opaque_issuer: Option<usize>,
    /// The revocation memory: verified tokens introspection called inactive, refused on every
    /// route until they expire. One for the engine, keyed by the hash of what introspection
    /// answered about (for a JWT its signed part, unique across issuers since it holds `iss`).
    /// The same memory as `revocations.tokens`, here for the one lookup every request makes.
    pub(crate) revoked: Arc<RevocationMemory>,
    /// The revocation memory, the revocation rules, and the shared store's link, if any.
    pub(crate) revocations: Arc<Revocations>,
    /// Verified JWTs by the hash of the whole token, whoever issued them.
    pub(crate) verified: VerifiedCache,
    pub(crate) limits: Limits,
    /// Shared with every `TokenInfo` the engine makes, so that an extractor refusing later
    /// (claims that do not fit a handler's type) answers with the same realm and body hook.
    pub(crate) responder: Arc<Responder>,
    pub(crate) sensitive_freshness: Duration,
    /// A sensitive route met a gate without introspection: said once, not per request.
    pub(crate) no_introspection_warned: AtomicBool,
    /// The DPoP proof rules, nonces, replay cache and public URL, when DPoP is accepted.
    pub(crate) dpop: Option<DpopState>,
    /// Some issuer refuses bearer tokens: a bearer request must look at its token's issuer.
    pub(crate) bearer_restricted: bool,
    /// The RFC 9728 document, when configured.
    pub(crate) metadata: Option<Arc<Published>>,
}

/// What the engine accepts before any token is parsed.
pub(crate) struct Limits {
    pub(crate) max_token_bytes: usize,
    /// Whether tokens that are not JWTs go to introspection.
    pub(crate) accept_opaque: bool,
    /// Whether compact JWEs go to introspection (as opaque tokens) rather than being refused.
    pub(crate) introspect_encrypted: bool,
}

/// The outcome of the part of validation that does not wait.
pub(crate) enum Step {
    /// Decided.
    Done(Result<Principal, Rejection>),
    /// A network wait is needed; [`Tollgate::finish`] does it.
    Pending(Pending),
}

/// A validation that waits: the token, its fingerprints, and exactly what the wait needs.
pub(crate) struct Pending {
    /// Owned, since the wait outlives the borrow of the request it came with. Only a pending
    /// validation pays for the copy.
    token: String,
    hashes: Hashes,
    wait: Wait,
}

/// The two fingerprints of a token, computed once per request.
#[derive(Clone, Copy)]
pub(crate) struct Hashes {
    /// Of the whole token: keys the verified-token cache.
    pub(crate) whole: TokenHash,
    /// Of what introspection answers are about: keys the introspection cache and the
    /// revocation memory (for a JWT its signed part, see [`TokenHash::of_signed_part`]).
    pub(crate) live: TokenHash,
}

/// What a validation waits for. Each variant carries what its step needs and nothing more, so
/// no step can meet a state it has no use for.
enum Wait {
    /// The `kid` is unknown to the key set of the issuer at this place: refetch it once, then
    /// verify again.
    Keys(usize),
    /// Verified locally; the route wants a live answer too.
    Introspection(Arc<TokenInfo>),
    /// Not a JWT: introspection is the only check.
    Opaque,
}

/// What local validation found without refusing the token.
pub(crate) enum Local {
    Verified(Arc<TokenInfo>),
    /// The `kid` is unknown to the key set of the issuer at this place.
    UnknownKey(usize),
}

/// What follows a successful local validation.
enum AfterLocal {
    Done(Result<Principal, Rejection>),
    /// The route is sensitive and no cached answer is young enough.
    Introspect(Arc<TokenInfo>),
}

/// Seconds since the Unix epoch; a clock before 1970 reads as 0 rather than panicking.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Tollgate {
    /// Validates a token for a routine use: locally for a JWT, by introspection for an opaque
    /// token. For use outside HTTP (message consumers, WebSocket handshakes, gRPC metadata);
    /// [`bearer::extract`](crate::bearer::extract) takes the token from HTTP headers as the
    /// layer does.
    ///
    /// The token is taken as a bearer token: a sender-constrained one (bound to a DPoP key or
    /// a client certificate) is refused, and so is a token whose issuer requires DPoP, since
    /// nothing here proves possession. [`validate_request`](Self::validate_request) checks a
    /// whole HTTP request, proofs and certificates included.
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
        let principal = match self.begin(token, requirement) {
            Step::Done(result) => result,
            Step::Pending(pending) => self.finish(pending, requirement).await,
        }?;
        if !principal.info().sender_bound && !self.inner.bearer_restricted {
            return Ok(principal);
        }
        self.bind_bearer(principal, None, requirement)
            .map(|accepted| accepted.principal)
            .map_err(|refusal| refusal.rejection)
    }

    /// Everything that can be decided without waiting: the whole local validation, and the
    /// requirement checks of a routine route.
    pub(crate) fn begin(&self, token: &str, requirement: &Requirement) -> Step {
        let inner = &*self.inner;
        if token.len() > inner.limits.max_token_bytes {
            return Step::Done(Err(Rejection::InvalidToken(InvalidToken::TooLarge)));
        }
        // One pass over the token, one cache lookup. Only JWTs are cached, so a hit needs no
        // look at the token's shape; the second fingerprint (`live`, which keys what
        // introspection said, see `TokenHash::of_signed_part`) is computed only on a miss,
        // since a hit carries it in its entry.
        // Background tasks of the shared store, when the engine was built outside a runtime.
        inner.revocations.ensure_started();
        let whole = TokenHash::of(token);
        let now = now();
        let hit = inner.verified.get(&whole);
        if hit.is_none() && !jws::is_jwt_shaped(token) {
            // Not a JWT: its one fingerprint is the hash of the whole string.
            let hashes = Hashes { whole, live: whole };
            if self.remembered_revoked(&hashes.live, now) {
                return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Inactive)));
            }
            return self.begin_opaque(token, hashes, requirement);
        }
        let hashes = Hashes {
            whole,
            live: hit
                .as_ref()
                .map_or_else(|| TokenHash::of_signed_part(token), |hit| hit.live),
        };
        // Revocation memory: once introspection called the verified token inactive, every
        // route refuses it until it expires. One atomic load while nothing is remembered.
        if self.remembered_revoked(&hashes.live, now) {
            return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Inactive)));
        }
        let local = match hit.map(|hit| self.check_cached(hit, &hashes.whole, now)) {
            Some(Some(checked)) => checked,
            // Not cached, or cached under a key that is gone.
            _ => self.verify(token, hashes, now),
        };
        match local {
            Ok(Local::Verified(info)) => match self.after_local(info, hashes, requirement, now) {
                AfterLocal::Done(result) => Step::Done(result),
                AfterLocal::Introspect(info) => pending(token, hashes, Wait::Introspection(info)),
            },
            Ok(Local::UnknownKey(index)) => pending(token, hashes, Wait::Keys(index)),
            Err(rejection) => Step::Done(Err(rejection)),
        }
    }

    /// Whether introspection called the token of `live` inactive (one atomic load while
    /// nothing is remembered).
    fn remembered_revoked(&self, live: &TokenHash, now: i64) -> bool {
        self.inner.revoked.contains_at(live, now)
    }

    /// A token that is not a JWT: introspection decides, from its cache when it can.
    fn begin_opaque(&self, token: &str, hashes: Hashes, requirement: &Requirement) -> Step {
        let inner = &*self.inner;
        // A compact JWE cannot be validated locally and costs the AS a call that, for most
        // servers, ends in `unsupported_token_type`: refused here unless the user opted in.
        // Only tokens that are not JWT-shaped pay for this look.
        let encrypted = jws::is_jwe_shaped(token);
        let accepted = if encrypted {
            inner.limits.introspect_encrypted
        } else {
            inner.limits.accept_opaque
        };
        let Some((index, introspector)) = self.opaque_introspector().filter(|_| accepted) else {
            return Step::Done(Err(Rejection::InvalidToken(if encrypted {
                InvalidToken::Encrypted
            } else {
                InvalidToken::OpaqueUnsupported
            })));
        };
        // Junk outside the AS's token shape is refused without asking it.
        if !introspector.admits_shape(token) {
            return Step::Done(Err(Rejection::InvalidToken(InvalidToken::Malformed)));
        }
        // A cached answer young enough for this route decides without waiting, and so does a
        // remembered "inactive" for a string the AS does not know.
        let max_age = requirement
            .live
            .unwrap_or_else(|| introspector.routine_ttl());
        match introspector.lookup(&hashes.live, max_age) {
            Lookup::Active(answer) => {
                Step::Done(self.opaque_principal(index, &answer, requirement))
            }
            Lookup::Inactive => Step::Done(Err(Rejection::InvalidToken(InvalidToken::Inactive))),
            Lookup::Miss => pending(token, hashes, Wait::Opaque),
        }
    }

    /// The part that waits: a key refetch, an introspection call.
    pub(crate) async fn finish(
        &self,
        pending: Pending,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let Pending {
            token,
            hashes,
            wait,
        } = pending;
        let info = match wait {
            Wait::Keys(index) => {
                // One shared refetch of that issuer's keys, at most once per cooldown
                // (docs/ARCHITECTURE.md, "Key sets").
                if let Some(issuer) = self.inner.issuers.get(index) {
                    issuer.keys.refetch_unknown_kid().await;
                }
                let now = now();
                let Local::Verified(info) = self.local(&token, hashes, now)? else {
                    return Err(Rejection::InvalidToken(InvalidToken::UnknownKey));
                };
                match self.after_local(info, hashes, requirement, now) {
                    AfterLocal::Done(result) => return result,
                    AfterLocal::Introspect(info) => info,
                }
            }
            Wait::Introspection(info) => info,
            Wait::Opaque => {
                return self
                    .introspect_opaque(&token, hashes.live, requirement)
                    .await;
            }
        };
        self.introspect_jwt(&token, hashes.live, info, requirement)
            .await
    }

    /// Local validation with the verified-token cache in front of it.
    pub(crate) fn local(&self, token: &str, hashes: Hashes, now: i64) -> Result<Local, Rejection> {
        match self
            .inner
            .verified
            .get(&hashes.whole)
            .and_then(|hit| self.check_cached(hit, &hashes.whole, now))
        {
            Some(checked) => checked,
            None => self.verify(token, hashes, now),
        }
    }

    /// A cached verification, checked: `None` when the key that made it is gone (the entry is
    /// then forgotten and the token verified again).
    fn check_cached(
        &self,
        hit: Verification,
        whole: &TokenHash,
        now: i64,
    ) -> Option<Result<Local, Rejection>> {
        let inner = &*self.inner;
        let info = hit.info;
        // A cached verification holds only while the key that made it is still published
        // by the issuer that vouched for the token.
        if let Some(issuer) = inner.issuers.get(info.issuer_index)
            && info
                .key
                .as_ref()
                .is_some_and(|k| issuer.keys.key_is_current_at(k, now))
        {
            return Some(
                match crate::claims::check_times(&info, now, issuer.claims.leeway) {
                    // Revocation rules: two atomic loads while none changed (`rules` docs).
                    Ok(()) if inner.revocations.covers(&info, now) => {
                        Err(Rejection::InvalidToken(InvalidToken::Inactive))
                    }
                    Ok(()) => Ok(Local::Verified(info)),
                    Err(reason) => {
                        // Expired (or not yet valid): refused either way; an expired entry would
                        // only take room until evicted.
                        if reason == InvalidToken::Expired {
                            inner.verified.invalidate(whole);
                        }
                        Err(Rejection::InvalidToken(reason))
                    }
                },
            );
        }
        inner.verified.invalidate(whole);
        None
    }

    /// Parses and verifies a token the cache does not answer for, and caches the verification.
    fn verify(&self, token: &str, hashes: Hashes, now: i64) -> Result<Local, Rejection> {
        let inner = &*self.inner;
        let jws = jws::parse(token).map_err(Rejection::InvalidToken)?;
        // RFC 8725 §3.8: the unverified `iss` only chooses whose keys to try; the token is
        // verified with that issuer's keys and no other's. Naming no trusted issuer, it costs
        // no key fetch and no introspection call.
        let Some((index, issuer)) = inner
            .issuers
            .select(jws.issuer())
            .and_then(|index| Some((index, inner.issuers.get(index)?)))
        else {
            trace!("a token names no trusted issuer");
            return Err(Rejection::InvalidToken(InvalidToken::Issuer));
        };
        let info = match issuer.verify(jws, now, &inner.responder, index)? {
            Verified::Token(info) => info,
            Verified::UnknownKey => return Ok(Local::UnknownKey(index)),
        };
        // A rule expires once no token it covers can still be valid, which holds only for
        // tokens that live no longer than the longest lifetime the rules assume (`rules`).
        if let (Some(iat), Some(exp)) = (info.standard.issued_at, info.standard.expires_at)
            && exp.saturating_sub(iat) > inner.revocations.lifetimes.longest_secs()
        {
            trace!("a token lives longer than the longest accepted lifetime");
            return Err(Rejection::InvalidToken(InvalidToken::InvalidClaim("exp")));
        }
        inner.verified.insert(
            hashes.whole,
            Verification {
                info: Arc::clone(&info),
                live: hashes.live,
            },
        );
        if inner.revocations.covers(&info, now) {
            return Err(Rejection::InvalidToken(InvalidToken::Inactive));
        }
        Ok(Local::Verified(info))
    }

    /// The issuer whose introspection vouches for `info`'s token, if it has one.
    fn introspector_of(&self, info: &TokenInfo) -> Option<&introspection::Introspector> {
        self.inner
            .issuers
            .get(info.issuer_index)
            .and_then(|issuer| issuer.introspector.as_ref())
    }

    /// Where opaque tokens go: the designated issuer's place and introspection client.
    fn opaque_introspector(&self) -> Option<(usize, &introspection::Introspector)> {
        let index = self.inner.opaque_issuer?;
        let introspector = self.inner.issuers.get(index)?.introspector.as_ref()?;
        Some((index, introspector))
    }

    /// The requirement, then a cached live answer if the route is sensitive.
    fn after_local(
        &self,
        info: Arc<TokenInfo>,
        hashes: Hashes,
        requirement: &Requirement,
        now: i64,
    ) -> AfterLocal {
        if let Err(rejection) = requirement.check(&info, now) {
            return AfterLocal::Done(Err(rejection));
        }
        let Some(freshness) = requirement.live else {
            return AfterLocal::Done(Ok(Principal::new(info, false)));
        };
        // A cached answer within the route's budget decides without waiting.
        match self
            .introspector_of(&info)
            .and_then(|i| i.cached(&hashes.live, freshness))
        {
            Some(answer) => AfterLocal::Done(
                introspection::agree(&info, &answer)
                    .map(|()| Principal::new(info, true))
                    .map_err(Rejection::InvalidToken),
            ),
            None => AfterLocal::Introspect(info),
        }
    }

    async fn introspect_jwt(
        &self,
        token: &str,
        live: TokenHash,
        info: Arc<TokenInfo>,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let freshness = requirement.live.unwrap_or(self.inner.sensitive_freshness);
        let Some(introspector) = self.introspector_of(&info) else {
            // A configuration problem, not an outage: fail-open does not apply.
            if !self
                .inner
                .no_introspection_warned
                .swap(true, Ordering::Relaxed)
            {
                warn!("a sensitive route needs introspection, but none is configured");
            }
            return Err(introspection::not_configured());
        };
        match introspector
            .check(
                token,
                live,
                TokenKind::Jwt,
                freshness,
                info.standard.expires_at,
            )
            .await
        {
            Ok(answer) => {
                introspection::agree(&info, &answer).map_err(Rejection::InvalidToken)?;
                Ok(Principal::new(info, true))
            }
            // Only an AS that cannot be reached opens a fail-open route. An AS that refuses
            // our credentials or answers nonsense would keep it open for good, and silently;
            // a missing endpoint is a configuration problem. Both stay closed.
            Err(error) if error.is_unreachable() && requirement.fail_open => {
                debug!("introspection unreachable; route fails open");
                Ok(Principal::new(info, false))
            }
            Err(error) => Err(error.rejection(TokenKind::Jwt)),
        }
    }

    async fn introspect_opaque(
        &self,
        token: &str,
        hash: TokenHash,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let Some((index, introspector)) = self.opaque_introspector() else {
            return Err(Rejection::InvalidToken(InvalidToken::OpaqueUnsupported));
        };
        let max_age = requirement
            .live
            .unwrap_or_else(|| introspector.routine_ttl());
        // Fail-open cannot apply: without the AS nothing at all is known about the token.
        let answer = introspector
            .check(token, hash, TokenKind::Opaque, max_age, None)
            .await
            .map_err(|error| error.rejection(TokenKind::Opaque))?;
        self.opaque_principal(index, &answer, requirement)
    }

    /// The principal of an opaque token from its introspection answer at the issuer at
    /// `index`, held to the route's requirement.
    fn opaque_principal(
        &self,
        index: usize,
        answer: &introspection::IntrospectionAnswer,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let Some(issuer) = self.inner.issuers.get(index) else {
            return Err(Rejection::InvalidToken(InvalidToken::OpaqueUnsupported));
        };
        let accept_without_audience = issuer
            .introspector
            .as_ref()
            .is_some_and(introspection::Introspector::accepts_answers_without_audience);
        let info = introspection::opaque_token_info(
            answer,
            &issuer.claims,
            accept_without_audience,
            &self.inner.responder,
        )
        .map_err(Rejection::InvalidToken)?
        .issued_by(index);
        let now = now();
        if self.inner.revocations.covers(&info, now) {
            return Err(Rejection::InvalidToken(InvalidToken::Inactive));
        }
        requirement.check(&info, now)?;
        Ok(Principal::new(Arc::new(info), true))
    }
}

/// A validation that must wait, with its own copy of the token.
fn pending(token: &str, hashes: Hashes, wait: Wait) -> Step {
    Step::Pending(Pending {
        token: token.to_owned(),
        hashes,
        wait,
    })
}
