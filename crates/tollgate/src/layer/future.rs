//! The response future of [`TollgateService`](super::TollgateService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::log::debug;

use crate::Tollgate;
use crate::body::{ResponseBody, rejection_response};
use crate::principal::Principal;
use crate::rejection::Rejection;

type Check = Pin<Box<dyn Future<Output = Result<Principal, Rejection>> + Send>>;

pin_project! {
    /// Response future of tollgate's middleware.
    ///
    /// A decision made without waiting (the common case: a locally verified token, or a
    /// rejection) costs no allocation; only a check that must wait for the network (a key
    /// refetch, an introspection call) is boxed.
    pub struct ResponseFuture<F, S, ReqB> {
        #[pin]
        state: State<F, S, ReqB>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, ReqB> {
        Checking {
            check: Check,
            call: Option<(S, Request<ReqB>)>,
            gate: Tollgate,
        },
        Calling {
            #[pin]
            future: F,
        },
        Rejected {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<F, S, ReqB> ResponseFuture<F, S, ReqB> {
    pub(crate) fn calling(future: F) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn checking(
        check: Check,
        service: S,
        request: Request<ReqB>,
        gate: Tollgate,
    ) -> Self {
        Self {
            state: State::Checking {
                check,
                call: Some((service, request)),
                gate,
            },
        }
    }
}

impl<F, S, ReqB, ResB, E> Future for ResponseFuture<F, S, ReqB>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    S: Service<Request<ReqB>, Future = F>,
{
    type Output = Result<Response<ResponseBody<ResB>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            match this.state.as_mut().project() {
                StateProj::Checking { check, call, gate } => {
                    let verdict = ready!(check.as_mut().poll(cx));
                    let Some((mut service, mut request)) = call.take() else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    match verdict {
                        Ok(principal) => {
                            gate.accept(&mut request, principal);
                            let future = service.call(request);
                            this.state.set(State::Calling { future });
                        }
                        Err(rejection) => {
                            debug!("request refused: {rejection}");
                            return Poll::Ready(Ok(rejection_response(
                                gate.rejection_response(&rejection),
                            )));
                        }
                    }
                }
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response.take().unwrap_or_else(internal_response);
                    return Poll::Ready(Ok(rejection_response(response)));
                }
            }
        }
    }
}

/// Only reachable if the future is polled after it completed, which the `Future` contract
/// forbids; answer rather than panic.
fn internal_response() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn internal_error<B>() -> Response<ResponseBody<B>> {
    rejection_response(internal_response())
}
