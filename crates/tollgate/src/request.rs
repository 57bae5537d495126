//! The engine's entry for a whole HTTP request: the credentials (`Bearer` or `DPoP`), the
//! DPoP proof, the token, its binding to the proof's key or the client certificate, the
//! replay cache, and the nonce (RFC 9449 §4.3, §7; RFC 8705 §3). The layer and the tower-http
//! adapter call [`Tollgate::decide`]; [`Tollgate::validate_request`] is the same for code
//! that answers itself.
//!
//! The order, for `Authorization: DPoP <token>` (the module docs of `dpop` give the why):
//!
//! 1. The route accepts DPoP; the proof (exactly one `DPoP` header) against the method and
//!    the public URL plus the request's path, `ath` against the token;
//! 2. the token, as for a bearer token (cache, signature, claims, introspection);
//! 3. the token's issuer accepts DPoP; its `cnf.jkt` is the proof key's thumbprint, its
//!    `cnf.x5t#S256` (if any) the client certificate's;
//! 4. the proof's first use (local, then the shared store when configured);
//! 5. the current nonce on the answer when the proof carried the previous one.
//!
//! For `Authorization: Bearer <token>`: the token, then, only when the token is bound or an
//! issuer refuses bearer tokens (two tests of values already at hand), the issuer's
//! constraint and the binding with no proof. A bearer request whose token is bound to
//! nothing takes no other step than before DPoP existed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Uri};

use crate::Tollgate;
use crate::dpop::ClientCertificate;
use crate::dpop::binding::BindingError;
use crate::dpop::error::ChallengeCode;
use crate::dpop::error::ProofError;
use crate::dpop::nonce::NonceStatus;
use crate::dpop::proof::{self, ProofRequest, VerifiedProof};
use crate::dpop::replay::{ReplayError, ReplayKey};
use crate::engine::{Step, now};
use crate::log::{debug, warn};
use crate::principal::Principal;
use crate::rejection::{InvalidToken, Rejection, Schemes, Unavailable};
use crate::requirement::Requirement;

/// The parts of a request the decision reads.
#[derive(Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a Extensions,
}

impl<'a> RequestView<'a> {
    pub(crate) fn of<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}

/// An accepted request: its principal, and the nonce to send along when the client should
/// move to the current one (RFC 9449 §8.2).
pub(crate) struct Accepted {
    pub(crate) principal: Principal,
    pub(crate) nonce: Option<HeaderValue>,
    /// The proof accepted with the request, recorded in its extensions.
    pub(crate) proof: Option<RecordedProof>,
}

/// The proof an earlier tollgate layer accepted for this request, in its extensions: a route
/// annotation behind [`Tollgate::layer`] checks the same request again, and must not take
/// its proof for a replay. Only tollgate inserts it (a client cannot set extensions), and it
/// counts only for the very proof it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordedProof(pub(crate) ReplayKey);

/// A refused request: why, and which challenges the answer carries.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) rejection: Rejection,
    pub(crate) schemes: Schemes,
}

pub(crate) type Outcome = Result<Accepted, Refusal>;

/// The part of a decision that waits for the network.
pub(crate) type Waiting = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The decision for one request.
pub(crate) enum Decision {
    Done(Outcome),
    Wait(Waiting),
}

/// The credentials of a request.
enum Presented<'a> {
    Bearer(&'a str),
    Dpop(&'a str),
}

impl Tollgate {
    /// Validates a whole request against `requirement`: the `Authorization` header (`Bearer`
    /// or, with [`Dpop`](crate::Dpop) settings, `DPoP` with its proof), the method and path
    /// a proof must name, and the [`ClientCertificate`] in the request's extensions for a
    /// certificate-bound token. What the layer does, for code that answers itself; render a
    /// refusal with [`render`](Self::render).
    ///
    /// A proof accepted here is recorded in the replay cache: validating the same request
    /// twice refuses it the second time.
    ///
    /// # Errors
    /// The [`Rejection`] says why the request is not accepted, or why no decision can be made.
    pub async fn validate_request<B>(
        &self,
        request: &Request<B>,
        requirement: &Requirement,
    ) -> Result<Principal, Rejection> {
        let requirement = Arc::new(requirement.clone());
        let outcome = match self.decide(&RequestView::of(request), &requirement) {
            Decision::Done(outcome) => outcome,
            Decision::Wait(waiting) => waiting.await,
        };
        outcome
            .map(|accepted| accepted.principal)
            .map_err(|refusal| refusal.rejection)
    }

    /// The answer to a refusal, with the challenges its schemes call for.
    pub(crate) fn render_refusal(&self, refusal: &Refusal) -> http::Response<bytes::Bytes> {
        debug!("request refused: {}", refusal.rejection);
        self.inner
            .responder
            .respond_in(&refusal.rejection, refusal.schemes)
    }

    /// Decides what can be decided without waiting; see the module documentation.
    pub(crate) fn decide(
        &self,
        view: &RequestView<'_>,
        requirement: &Arc<Requirement>,
    ) -> Decision {
        match self.credentials(view) {
            Ok(Presented::Bearer(token)) => self.decide_bearer(token, view, requirement),
            Ok(Presented::Dpop(token)) => self.decide_dpop(token, view, requirement),
            Err(rejection) => {
                Decision::Done(Err(self.refusal(rejection, requirement, None, false)))
            }
        }
    }

    /// The token and its scheme. Without DPoP settings, the `DPoP` scheme is another scheme:
    /// no token, as before.
    fn credentials<'a>(&self, view: &RequestView<'a>) -> Result<Presented<'a>, Rejection> {
        match crate::bearer::extract(view.headers, view.uri.query()) {
            Ok(token) => Ok(Presented::Bearer(token)),
            // Only a request without a bearer token looks for the other scheme.
            Err(Rejection::MissingToken) if self.inner.dpop.is_some() => {
                crate::bearer::extract_dpop(view.headers, view.uri.query()).map(Presented::Dpop)
            }
            Err(rejection) => Err(rejection),
        }
    }

    fn decide_bearer(
        &self,
        token: &str,
        view: &RequestView<'_>,
        requirement: &Arc<Requirement>,
    ) -> Decision {
        if requirement.sender.is_some_and(|c| !c.allows_bearer()) {
            return Decision::Done(Err(self.refusal(
                Rejection::InvalidToken(InvalidToken::DpopRequired),
                requirement,
                None,
                false,
            )));
        }
        match self.begin(token, requirement) {
            Step::Done(Ok(principal)) => {
                // The one test a bearer request pays: a token bound to nothing, and no issuer
                // that refuses bearer tokens.
                if !principal.info().sender_bound && !self.inner.bearer_restricted {
                    return Decision::Done(Ok(Accepted {
                        principal,
                        nonce: None,
                        proof: None,
                    }));
                }
                let certificate = view.extensions.get::<ClientCertificate>();
                Decision::Done(self.bind_bearer(principal, certificate, requirement))
            }
            Step::Done(Err(rejection)) => {
                Decision::Done(Err(self.refusal(rejection, requirement, None, false)))
            }
            Step::Pending(pending) => {
                let gate = self.clone();
                let requirement = Arc::clone(requirement);
                // Only a request that waits copies the certificate (a reference count).
                let certificate = view.extensions.get::<ClientCertificate>().cloned();
                Decision::Wait(Box::pin(async move {
                    match gate.finish(pending, &requirement).await {
                        Ok(principal) => {
                            gate.bind_bearer(principal, certificate.as_ref(), &requirement)
                        }
                        Err(rejection) => Err(gate.refusal(rejection, &requirement, None, false)),
                    }
                }))
            }
        }
    }

    /// A bearer token's issuer constraint and binding: no proof, maybe a certificate.
    pub(crate) fn bind_bearer(
        &self,
        principal: Principal,
        certificate: Option<&ClientCertificate>,
        requirement: &Requirement,
    ) -> Outcome {
        let info = principal.info();
        let issuer = Some(info.issuer_index);
        let refuse =
            |why| Err(self.refusal(Rejection::InvalidToken(why), requirement, issuer, false));
        if self
            .inner
            .issuers
            .get(info.issuer_index)
            .is_some_and(|i| !i.sender.allows_bearer())
        {
            return refuse(InvalidToken::DpopRequired);
        }
        let checked = info
            .binding
            .and_then(|binding| binding.check(None, certificate));
        if let Err(error) = checked {
            return refuse(binding_refusal(error));
        }
        Ok(Accepted {
            principal,
            nonce: None,
            proof: None,
        })
    }

    fn decide_dpop(
        &self,
        token: &str,
        view: &RequestView<'_>,
        requirement: &Arc<Requirement>,
    ) -> Decision {
        let refuse =
            |rejection| Decision::Done(Err(self.refusal(rejection, requirement, None, true)));
        let Some(dpop) = self.inner.dpop.as_ref() else {
            return refuse(Rejection::MissingToken);
        };
        if requirement.sender.is_some_and(|c| !c.allows_dpop()) {
            return refuse(Rejection::InvalidToken(InvalidToken::DpopNotAccepted));
        }
        let now = now();
        // RFC 9449 §4.3 step 9: the URI the client addressed, from configuration.
        let Some(target) = dpop.target(view.uri.path()) else {
            return refuse(proof_refusal(ProofError::HtuMismatch));
        };
        let request = ProofRequest {
            method: view.method,
            uri: &target,
            access_token: Some(token),
        };
        let proof = match proof::verify(
            view.headers,
            &request,
            &dpop.rules,
            dpop.nonces.as_deref(),
            now,
        ) {
            Ok(proof) => proof,
            Err(error) => return refuse(proof_refusal(error)),
        };
        let recorded =
            view.extensions.get::<RecordedProof>() == Some(&RecordedProof(proof.replay.key));
        match self.begin(token, requirement) {
            Step::Done(Ok(principal)) => {
                let certificate = view.extensions.get::<ClientCertificate>();
                let bound =
                    self.bind_dpop(principal, &proof, certificate, requirement, now, recorded);
                if bound.is_ok() && dpop.replay.is_shared() && !recorded {
                    let gate = self.clone();
                    let requirement = Arc::clone(requirement);
                    return Decision::Wait(Box::pin(async move {
                        gate.record_shared(bound?, &proof, &requirement, now).await
                    }));
                }
                Decision::Done(bound)
            }
            Step::Done(Err(rejection)) => refuse(rejection),
            Step::Pending(pending) => {
                let gate = self.clone();
                let requirement = Arc::clone(requirement);
                let certificate = view.extensions.get::<ClientCertificate>().cloned();
                Decision::Wait(Box::pin(async move {
                    let principal = gate
                        .finish(pending, &requirement)
                        .await
                        .map_err(|rejection| gate.refusal(rejection, &requirement, None, true))?;
                    // The proof's window is counted from when it was checked.
                    let accepted = gate.bind_dpop(
                        principal,
                        &proof,
                        certificate.as_ref(),
                        &requirement,
                        now,
                        recorded,
                    )?;
                    if recorded {
                        return Ok(accepted);
                    }
                    gate.record_shared(accepted, &proof, &requirement, now)
                        .await
                }))
            }
        }
    }

    /// The token's issuer accepts DPoP, the token is bound to the proof's key (and its
    /// certificate, if bound to one), the proof is new here; the nonce to send along.
    fn bind_dpop(
        &self,
        principal: Principal,
        proof: &VerifiedProof,
        certificate: Option<&ClientCertificate>,
        requirement: &Requirement,
        now: i64,
        recorded: bool,
    ) -> Outcome {
        let info = principal.info();
        let issuer = Some(info.issuer_index);
        let refuse = |rejection| Err(self.refusal(rejection, requirement, issuer, true));
        if self
            .inner
            .issuers
            .get(info.issuer_index)
            .is_some_and(|i| !i.sender.allows_dpop())
        {
            return refuse(Rejection::InvalidToken(InvalidToken::DpopNotAccepted));
        }
        let checked = info
            .binding
            .and_then(|binding| binding.check(Some(&proof.thumbprint), certificate));
        if let Err(error) = checked {
            return refuse(Rejection::InvalidToken(binding_refusal(error)));
        }
        let Some(dpop) = self.inner.dpop.as_ref() else {
            return refuse(Rejection::MissingToken);
        };
        // RFC 9449 §11.1: only now, with the binding checked, does the proof take room. A
        // proof an outer tollgate layer accepted for this very request is not a replay.
        if !recorded && let Err(error) = dpop.replay.first_use(&proof.replay, now) {
            return refuse(self.replay_refusal(error));
        }
        // RFC 9449 §8.2: a proof with the previous nonce passes; the answer hands out the
        // current one so the client moves on before it runs out.
        let nonce = match (proof.nonce, &dpop.nonces) {
            (Some(NonceStatus::Previous), Some(nonces)) => {
                HeaderValue::from_str(&nonces.issue(now)).ok()
            }
            _ => None,
        };
        Ok(Accepted {
            principal,
            nonce,
            proof: Some(RecordedProof(proof.replay.key)),
        })
    }

    /// With a shared replay cache, the store's word after the local cache's.
    async fn record_shared(
        &self,
        accepted: Accepted,
        proof: &VerifiedProof,
        requirement: &Requirement,
        now: i64,
    ) -> Outcome {
        let Some(dpop) = self.inner.dpop.as_ref() else {
            return Ok(accepted);
        };
        match dpop.replay.first_use_shared(&proof.replay, now).await {
            Ok(()) => Ok(accepted),
            Err(error) => {
                let issuer = Some(accepted.principal.info().issuer_index);
                Err(self.refusal(self.replay_refusal(error), requirement, issuer, true))
            }
        }
    }

    fn replay_refusal(&self, error: ReplayError) -> Rejection {
        match error {
            ReplayError::Replayed => Rejection::InvalidDpopProof(error.description()),
            ReplayError::Full {
                retry_after,
                newly_full,
            } => {
                if let Some(dpop) = &self.inner.dpop {
                    dpop.unrecorded.fetch_add(1, Ordering::Relaxed);
                }
                if newly_full
                    && let Some(dpop) = &self.inner.dpop
                    && !dpop.full_warned.swap(true, Ordering::Relaxed)
                {
                    warn!(
                        "the DPoP replay cache is full of live proofs; DPoP requests get 503 \
                         until proofs expire (raise Dpop::replay_capacity)"
                    );
                }
                Rejection::Unavailable {
                    reason: Unavailable::DpopReplay,
                    retry_after,
                }
            }
        }
    }

    /// A refusal with the challenges it calls for: the schemes the route and the token's
    /// issuer (when known, else any issuer) accept, and the scheme the request used.
    pub(crate) fn refusal(
        &self,
        rejection: Rejection,
        requirement: &Requirement,
        issuer: Option<usize>,
        presented_dpop: bool,
    ) -> Refusal {
        let inner = &*self.inner;
        let offered = inner.responder.offered;
        let (mut bearer, mut dpop) = match issuer.and_then(|i| inner.issuers.get(i)) {
            Some(issuer) => (issuer.sender.allows_bearer(), issuer.sender.allows_dpop()),
            None => (offered.bearer, offered.dpop),
        };
        if let Some(route) = requirement.sender {
            bearer &= route.allows_bearer();
            dpop &= route.allows_dpop();
            if !bearer && !dpop {
                // The route and the issuer have nothing in common: say what the route takes.
                bearer = route.allows_bearer();
                dpop = route.allows_dpop();
            }
        }
        Refusal {
            rejection,
            schemes: Schemes {
                bearer,
                dpop: dpop && inner.dpop.is_some(),
                presented_dpop,
            },
        }
    }
}

/// The refusal of a proof: `invalid_dpop_proof`, or `use_dpop_nonce` for nonce trouble.
fn proof_refusal(error: ProofError) -> Rejection {
    match error.code() {
        ChallengeCode::UseDpopNonce => Rejection::UseDpopNonce,
        ChallengeCode::InvalidDpopProof => Rejection::InvalidDpopProof(error.description()),
    }
}

fn binding_refusal(error: BindingError) -> InvalidToken {
    match error {
        BindingError::MalformedCnf
        | BindingError::UnsupportedMethod
        | BindingError::DpopWithoutKey => InvalidToken::Confirmation,
        BindingError::BoundTokenAsBearer => InvalidToken::DpopBoundAsBearer,
        BindingError::NotDpopBound => InvalidToken::NotDpopBound,
        BindingError::KeyMismatch => InvalidToken::DpopKeyMismatch,
        BindingError::CertificateMissing => InvalidToken::CertificateRequired,
        BindingError::CertificateMismatch => InvalidToken::CertificateMismatch,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tollgate_mock::MockAuthServer;
    use tollgate_mock::dpop::DpopKey;

    use super::*;
    use crate::Dpop;

    /// RFC 9449 §8.2: a proof with the previous nonce passes, and the answer hands out the
    /// current one; with the current nonce, nothing is handed out.
    #[tokio::test]
    async fn a_previous_nonce_passes_and_the_current_one_goes_on_the_answer() {
        let mock = MockAuthServer::start().await;
        let gate = Tollgate::builder()
            .issuer(mock.issuer())
            .audience(mock.audience())
            .public_url("https://api.example")
            .dpop(Dpop::new().nonce_secret([5u8; 32]))
            .build()
            .unwrap();
        assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
        let nonces = gate
            .inner
            .dpop
            .as_ref()
            .and_then(|d| d.nonces.clone())
            .unwrap();
        let key = DpopKey::generate();
        let token = mock.token().dpop_bound(&key).sign();
        let url = "https://api.example/items";
        let requirement = Arc::new(Requirement::routine());
        let decide = |nonce: String| {
            let mut request = Request::get("/items").body(()).unwrap();
            *request.headers_mut() = key.request_headers_with_nonce("GET", url, &token, &nonce);
            match gate.decide(&RequestView::of(&request), &requirement) {
                Decision::Done(Ok(accepted)) => accepted.nonce,
                Decision::Done(Err(refusal)) => panic!("refused: {:?}", refusal.rejection),
                Decision::Wait(_) => panic!("a cached JWT and a local replay cache never wait"),
            }
        };
        // A run that straddles the start of a slot says nothing: run again (slots last 300 s,
        // so the second run cannot straddle one too).
        let slot = |t: i64| t.div_euclid(300);
        let now = loop {
            let now = crate::engine::now();
            // The slot before the current one (the default period is 300 s).
            let handed_out = decide(nonces.issue(now - 300));
            let current = nonces.issue(now);
            let with_current = decide(current.clone());
            if slot(crate::engine::now()) != slot(now) {
                continue;
            }
            let handed_out = handed_out.expect("the current nonce goes on the answer");
            assert_eq!(handed_out.to_str().unwrap(), current);
            assert_eq!(with_current, None);
            break now;
        };
        // Two slots back: too old, and the refusal asks for a new nonce.
        let mut request = Request::get("/items").body(()).unwrap();
        *request.headers_mut() =
            key.request_headers_with_nonce("GET", url, &token, &nonces.issue(now - 600));
        let Decision::Done(Err(refusal)) = gate.decide(&RequestView::of(&request), &requirement)
        else {
            panic!("an old nonce is refused without waiting");
        };
        assert_eq!(refusal.rejection, Rejection::UseDpopNonce);
        let response = gate.render_refusal(&refusal);
        assert!(response.headers().contains_key("dpop-nonce"));
    }
}
