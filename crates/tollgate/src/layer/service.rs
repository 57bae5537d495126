//! [`TollgateLayer`] and [`TollgateService`].

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::log::{debug, trace};

use super::future::ResponseFuture;
use crate::Tollgate;
use crate::body::ResponseBody;
use crate::engine::Step;
use crate::policy::PolicyTable;
use crate::requirement::Requirement;
use crate::token::bearer_token;

/// Applies [`TollgateService`] to a service. Made by [`Tollgate::layer`] or
/// [`Tollgate::layer_with_policy`].
#[derive(Clone)]
pub struct TollgateLayer {
    gate: Tollgate,
    policy: Arc<PolicyTable>,
}

impl TollgateLayer {
    pub(crate) fn new(gate: Tollgate, policy: PolicyTable) -> Self {
        Self {
            gate,
            policy: Arc::new(policy),
        }
    }
}

impl std::fmt::Debug for TollgateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TollgateLayer")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for TollgateLayer {
    type Service = TollgateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TollgateService {
            inner,
            gate: self.gate.clone(),
            policy: Arc::clone(&self.policy),
        }
    }
}

/// Authenticates every request with a bearer token; see the [module docs](crate::layer).
#[derive(Clone)]
pub struct TollgateService<S> {
    inner: S,
    gate: Tollgate,
    policy: Arc<PolicyTable>,
}

impl<S> std::fmt::Debug for TollgateService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TollgateService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for TollgateService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    ReqB: Send + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        // A path the table refuses (a dot segment, an encoded slash, ...) is answered before
        // any token is looked at; a table without rules reads no path.
        match self
            .policy
            .requirement_for(request.method(), request.uri().path())
        {
            Ok(requirement) => authorize(&self.gate, &mut self.inner, request, requirement),
            Err(rejection) => {
                debug!("request refused: {rejection}");
                ResponseFuture::rejected(self.gate.rejection_response(&rejection))
            }
        }
    }
}

/// The middleware's whole decision for one request.
fn authorize<S, ReqB, ResB>(
    gate: &Tollgate,
    inner: &mut S,
    mut request: Request<ReqB>,
    requirement: &Arc<Requirement>,
) -> ResponseFuture<S::Future, S, ReqB>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    ReqB: Send + 'static,
{
    if requirement.public {
        return ResponseFuture::calling(inner.call(request));
    }
    let (step, pending_token) = {
        let token = match bearer_token(request.headers(), request.uri().query()) {
            Ok(token) => token,
            Err(rejection) => {
                debug!("request refused: {rejection}");
                return ResponseFuture::rejected(gate.rejection_response(&rejection));
            }
        };
        let step = gate.begin(token, requirement);
        let owned = matches!(step, Step::Pending(_)).then(|| token.to_owned());
        (step, owned)
    };
    match step {
        Step::Done(Ok(principal)) => {
            trace!("request accepted for subject {:?}", principal.subject());
            gate.accept(&mut request, principal);
            ResponseFuture::calling(inner.call(request))
        }
        Step::Done(Err(rejection)) => {
            debug!("request refused: {rejection}");
            ResponseFuture::rejected(gate.rejection_response(&rejection))
        }
        Step::Pending(pending) => {
            let token = pending_token.unwrap_or_default();
            let check_gate = gate.clone();
            // Only a check that waits takes its own handle on the requirement.
            let requirement = Arc::clone(requirement);
            let check =
                Box::pin(async move { check_gate.finish(&token, pending, &requirement).await });
            // The inner service was made ready by `poll_ready`; that ready instance must serve
            // this request, so it goes into the future and a fresh clone stays behind.
            let clone = inner.clone();
            let ready = std::mem::replace(inner, clone);
            ResponseFuture::checking(check, ready, request, gate.clone())
        }
    }
}
