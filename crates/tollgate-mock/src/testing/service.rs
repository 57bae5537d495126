//! Services called in process, and an axum app served on loopback.

use std::fmt;

use axum::Router;
use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http::{Method, Request, Response, header};
use tower::{BoxError, Service, ServiceExt as _};

use super::Answer;

/// Serves `app` on `127.0.0.1` and a free port, in the current Tokio runtime, until the
/// runtime ends; returns its base URL (`http://127.0.0.1:<port>`, no trailing slash).
///
/// For what needs a real socket: redirects, slow or dropped connections, raw request targets,
/// a server that another server calls. Status, challenge and body are tested [in
/// process](InProcess) faster.
///
/// # Panics
/// If no loopback port can be bound.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding 127.0.0.1:0: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("the address of the bound listener: {e}"));
    tokio::spawn(async move {
        // Ends only when the listener fails; the test then sees its requests fail.
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A request of `method` for `target` (path and query, sent as is), with
/// `Authorization: Bearer token` when a token is given, and an empty body.
///
/// # Panics
/// If `target` is not a valid request target, or the token cannot be a header value.
pub fn request(method: Method, target: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(target);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("a request for {target:?}: {e}"))
}

/// Calls `service` once with `request`, in process, and reads the whole answer.
///
/// # Panics
/// If the service is not ready, fails, or its body cannot be read: a service behind tollgate
/// answers every refusal with a response, so each of these is a bug the test should show.
pub async fn oneshot<S, ReqBody, ResBody>(service: S, request: Request<ReqBody>) -> Answer
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: fmt::Debug,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let response = service
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("the service failed instead of answering: {e:?}"));
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("reading the response body: {e}"));
    Answer::from_parts(&parts, &body)
}

/// A service called in process as a client would call it over HTTP, one clone per request.
///
/// ```
/// use axum::{Router, routing::get};
/// use tollgate_mock::testing::InProcess;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let api = InProcess::new(Router::new().route("/", get(|| async { "hi" })));
/// assert_eq!(api.get("/", "a-token").await.body, "hi");
/// assert_eq!(api.call(http::Method::POST, "/", None).await.status, 405);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct InProcess<S> {
    service: S,
}

impl<S, ResBody> InProcess<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    /// Wraps `service` (an axum `Router`, or any service of `http` requests).
    pub fn new(service: S) -> Self {
        Self { service }
    }

    /// `GET target` with `Authorization: Bearer token`.
    pub async fn get(&self, target: &str, token: &str) -> Answer {
        self.call(Method::GET, target, Some(token)).await
    }

    /// `method target`, with `Authorization: Bearer token` when a token is given.
    pub async fn call(&self, method: Method, target: &str, token: Option<&str>) -> Answer {
        self.send(request(method, target, token)).await
    }

    /// Sends a request built by the test (other headers, several `Authorization` fields).
    pub async fn send(&self, request: Request<Body>) -> Answer {
        oneshot(self.service.clone(), request).await
    }
}
