//! The response future of [`TollgateService`](super::TollgateService): a small state machine.
//!
//! ```text
//! Rejected ──────────────────────────────► (rejection response) ─┐
//! Checking ──accepted──► Calling ────────► (inner response) ─────┼─► Done ──► 500 if polled
//!          ──refused───────────────────► (rejection response) ───┘
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::ResponseBody;
use crate::Tollgate;
use crate::rejection::DPOP_NONCE;
use crate::request::Waiting;

/// The part of a check that waits for the network (a key refetch, an introspection call, a
/// shared replay store).
pub(crate) type Check = Waiting;

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
    #[project_replace = StateReplace]
    enum State<F, S, ReqB> {
        /// Waiting for the check, with the ready inner service and the request it will serve.
        Checking {
            check: Check,
            service: S,
            request: Request<ReqB>,
            gate: Tollgate,
        },
        /// The inner service is answering; `nonce` goes on its answer (RFC 9449 §8.2).
        Calling {
            #[pin]
            future: F,
            nonce: Option<HeaderValue>,
        },
        /// Refused without waiting; answered at the first poll.
        Rejected {
            response: Response<Bytes>,
        },
        /// Answered.
        Done,
    }
}

impl<F, S, ReqB> ResponseFuture<F, S, ReqB> {
    pub(crate) fn calling(future: F, nonce: Option<HeaderValue>) -> Self {
        Self {
            state: State::Calling { future, nonce },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected { response },
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
                service,
                request,
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
        let mut state = self.as_mut().project().state;
        let verdict = match state.as_mut().project() {
            StateProj::Calling { future, nonce } => {
                let response = ready!(future.poll(cx));
                let nonce = nonce.take();
                state.set(State::Done);
                return Poll::Ready(response.map(|mut response| {
                    if let Some(nonce) = nonce {
                        response.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    response.map(ResponseBody::inner)
                }));
            }
            StateProj::Checking { check, .. } => Some(ready!(check.as_mut().poll(cx))),
            StateProj::Rejected { .. } | StateProj::Done => None,
        };
        // Leaving the state: whatever it held moves out, and `Done` stays behind.
        match (state.as_mut().project_replace(State::Done), verdict) {
            (
                StateReplace::Checking {
                    mut service,
                    mut request,
                    gate,
                    ..
                },
                Some(Ok(accepted)),
            ) => {
                let nonce = gate.accept_with_nonce(&mut request, accepted);
                state.set(State::Calling {
                    future: service.call(request),
                    nonce,
                });
                self.poll(cx)
            }
            (StateReplace::Checking { gate, .. }, Some(Err(refusal))) => Poll::Ready(Ok(gate
                .render_refusal(&refusal)
                .map(ResponseBody::rejection))),
            (StateReplace::Rejected { response }, _) => {
                Poll::Ready(Ok(response.map(ResponseBody::rejection)))
            }
            // `Done`: polled after it completed, which the `Future` contract forbids. Answer
            // rather than panic.
            _ => Poll::Ready(Ok(internal_error())),
        }
    }
}

/// The answer to a poll after completion.
fn internal_error<B>() -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::rejection(Bytes::new()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests;
