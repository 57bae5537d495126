//! [`TollgateService`]: the decision for one request, made without waiting where it can.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use crate::Tollgate;
use crate::log::{debug, trace};
use crate::policy::PolicyTable;
use crate::request::{Decision, RequestView};
use crate::requirement::Requirement;

/// Authenticates every request with a bearer token; see the [module docs](crate::layer).
#[derive(Clone)]
pub struct TollgateService<S> {
    inner: S,
    gate: Tollgate,
    policy: Arc<PolicyTable>,
}

impl<S> TollgateService<S> {
    pub(crate) fn new(inner: S, gate: Tollgate, policy: Arc<PolicyTable>) -> Self {
        Self {
            inner,
            gate,
            policy,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
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
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
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
                ResponseFuture::rejected(self.gate.render(&rejection))
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
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
{
    if requirement.public {
        return ResponseFuture::calling(inner.call(request), None);
    }
    match gate.decide(&RequestView::of(&request), requirement) {
        Decision::Done(Ok(accepted)) => {
            trace!(
                "request accepted for subject {:?}",
                accepted.principal.subject()
            );
            let nonce = gate.accept_with_nonce(&mut request, accepted);
            ResponseFuture::calling(inner.call(request), nonce)
        }
        Decision::Done(Err(refusal)) => ResponseFuture::rejected(gate.render_refusal(&refusal)),
        Decision::Wait(check) => {
            // The inner service was made ready by `poll_ready`; that ready instance must serve
            // this request, so it goes into the future and a fresh clone stays behind.
            let clone = inner.clone();
            let ready = std::mem::replace(inner, clone);
            ResponseFuture::checking(check, ready, request, gate.clone())
        }
    }
}
