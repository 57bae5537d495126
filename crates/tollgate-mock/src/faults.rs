//! Fault injection: make one endpoint (or one path) slow, failing, malformed or redirecting.
//!
//! A fault is checked after the request was counted and recorded and before the endpoint's own
//! handling, so counters and request records still see every request. It stays in force until
//! replaced or cleared.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::json;

/// An endpoint of the mock server, the unit that faults apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Both metadata documents: RFC 8414 `oauth-authorization-server` and OpenID
    /// `openid-configuration`.
    Discovery,
    /// The JWKS (`jwks_uri`).
    Jwks,
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// The introspection endpoint (RFC 7662).
    Introspection,
    /// The revocation endpoint (RFC 7009).
    Revocation,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 5] = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Token,
        Endpoint::Introspection,
        Endpoint::Revocation,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What an endpoint does instead of (or on top of) answering normally.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Answer this status code with a small JSON error body
    /// (`{"error":"mock_fault","error_description":...}`). A code outside 200..=999 becomes 500.
    Status(u16),
    /// Answer this status code with an RFC 6749 §5.2 error body,
    /// `{"error": error, "error_description": ...}`: `400` with `invalid_request` or
    /// `unsupported_token_type` (RFC 7009 §2.2.1), as servers answer about a token they cannot
    /// introspect, or `401` with `invalid_client`. A code outside 200..=999 becomes 500.
    OAuthError {
        /// The HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
    },
    /// Answer 200, `Content-Type: application/json`, with a body that is not valid JSON.
    MalformedBody,
    /// Answer 200 with exactly this body and content type: huge bodies, deeply nested JSON, a
    /// wrong media type. A content type that is not a valid header value is sent as
    /// `application/octet-stream`.
    Body {
        /// The `Content-Type` header value.
        content_type: String,
        /// The body, sent as is.
        body: Bytes,
    },
    /// Answer normally, but send the body `chunk` bytes at a time (at least 1), waiting `every`
    /// between chunks. The headers go out at once, without `Content-Length`.
    SlowDrip {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause between two chunks.
        every: Duration,
    },
    /// Answer `302 Found` with this `Location`.
    Redirect(String),
    /// Answer exactly this status, these headers and this body, whatever was asked: an answer
    /// no faithful server gives (a 500 with an active-looking body, a 400 with an HTML page or
    /// without `error`, a JWKS with its own `Cache-Control`, a body streamed without
    /// `Content-Length`). See [`Canned`].
    Canned(Canned),
}

/// The answer of [`Fault::Canned`]: a status, headers and a body, set with a builder.
///
/// ```
/// use tollgate_mock::{Canned, Fault};
///
/// let html = Fault::Canned(
///     Canned::new(400)
///         .content_type("text/html")
///         .body("<html>Bad Request</html>"),
/// );
/// let jwks = Fault::Canned(
///     Canned::new(200)
///         .json(&serde_json::json!({ "keys": [] }))
///         .header("cache-control", "max-age=0"),
/// );
/// let streamed = Fault::Canned(Canned::new(200).body(vec![b' '; 100_000]).chunked(1024));
/// # let _ = (html, jwks, streamed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    chunk: Option<usize>,
}

impl Canned {
    /// An answer with this status, no header of its own and an empty body. A code outside
    /// 200..=999 becomes 500, as for [`Fault::Status`].
    pub fn new(status: u16) -> Canned {
        Canned {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            chunk: None,
        }
    }

    /// Sends `body` as is. Without [`content_type`](Self::content_type) or
    /// [`json`](Self::json) it goes without `Content-Type`, as some servers send their JWKS.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Canned {
        self.body = body.into();
        self
    }

    /// Sets the `Content-Type` (replacing an earlier one).
    ///
    /// # Panics
    ///
    /// If `content_type` is not a valid header value.
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Canned {
        self.headers
            .insert(header::CONTENT_TYPE, header_value(content_type));
        self
    }

    /// Sends `value` serialized, as `application/json`.
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Canned {
        let body = serde_json::to_vec(value).expect("JSON values serialize");
        self.content_type("application/json").body(body)
    }

    /// Adds a header line; the same name may be added more than once (two `Cache-Control`
    /// lines, say). A `Content-Length` added here is sent as given, even when it is wrong.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name or `value` not a valid header value.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Canned {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("tollgate-mock: invalid header name {name:?}"));
        self.headers.append(name, header_value(value));
        self
    }

    /// Streams the body `size` bytes at a time (at least 1), all at once, without
    /// `Content-Length` (HTTP/1.1 chunked transfer coding): a reader must bound what it reads
    /// as it goes, since no length announces the size. Defaults to a body sent whole, with its
    /// `Content-Length`.
    #[must_use]
    pub fn chunked(mut self, size: usize) -> Canned {
        self.chunk = Some(size.max(1));
        self
    }

    fn into_response(self) -> Response {
        let body = match self.chunk {
            Some(size) => Body::from_stream(pieces(self.body, size, Duration::ZERO)),
            None => Body::from(self.body),
        };
        let mut response = Response::new(body);
        *response.status_mut() = final_status(self.status);
        *response.headers_mut() = self.headers;
        response
    }
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value)
        .unwrap_or_else(|_| panic!("tollgate-mock: invalid header value {value:?}"))
}

/// The body sent for [`Fault::MalformedBody`].
pub(crate) const MALFORMED_BODY: &str = r#"{"active": true, "keys": [ {"kid": "#;

/// Answers `request` under `fault`; `next` is the endpoint's normal handling.
pub(crate) async fn apply(fault: Fault, request: Request, next: Next) -> Response {
    match fault {
        Fault::Latency(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::Status(code) => {
            let body = json!({
                "error": "mock_fault",
                "error_description": format!("tollgate-mock injected fault: status {code}"),
            });
            (final_status(code), axum::Json(body)).into_response()
        }
        Fault::OAuthError { status, error } => {
            let body = json!({
                "error": error,
                "error_description": "tollgate-mock injected fault",
            });
            (final_status(status), axum::Json(body)).into_response()
        }
        Fault::MalformedBody => {
            ([(header::CONTENT_TYPE, "application/json")], MALFORMED_BODY).into_response()
        }
        Fault::Body { content_type, body } => {
            let content_type = HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Fault::SlowDrip { chunk, every } => {
            let response = next.run(request).await;
            drip(response, chunk.max(1), every).await
        }
        Fault::Redirect(location) => match HeaderValue::from_str(&location) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Fault::Canned(canned) => canned.into_response(),
    }
}

/// `code` as a status to answer with; 1xx are not final answers (HTTP/1.1 would wait for
/// another), so they and invalid codes become 500.
fn final_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn drip(response: Response, chunk: usize, every: Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    // Our own handlers answer small buffered bodies; reading one cannot fail.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(pieces(bytes, chunk, every)))
}

/// `bytes` as a stream of pieces of `chunk` bytes, `every` apart.
fn pieces(
    bytes: Bytes,
    chunk: usize,
    every: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    futures_util::stream::unfold((bytes, true), move |(mut rest, first)| async move {
        if rest.is_empty() {
            return None;
        }
        if !first && !every.is_zero() {
            tokio::time::sleep(every).await;
        }
        let piece = rest.split_to(chunk.min(rest.len()));
        Some((Ok::<_, Infallible>(piece), (rest, false)))
    })
}
