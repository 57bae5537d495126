//! The receiver as a tower `Service`: the HTTP side of RFC 8935 §2.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use futures_util::future::BoxFuture;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};

use super::error::{ErrorCode, Refusal};
use super::receiver::SecurityEventReceiver;

/// The media type of a SET (RFC 8417 §2.3, RFC 8935 §2.1).
const SET_MEDIA_TYPE: &str = "application/secevent+jwt";

impl<B> tower_service::Service<Request<B>> for SecurityEventReceiver
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<ReceiverBody>;
    type Error = Infallible;
    // Boxed: every request waits for its body and a signature check, and SETs are rare
    // next to the requests the engine answers without waiting.
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let receiver = self.clone();
        Box::pin(async move { Ok(receiver.answer(request).await) })
    }
}

impl SecurityEventReceiver {
    async fn answer<B>(&self, request: Request<B>) -> Response<ReceiverBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
    {
        match self.accept(request).await {
            Ok(()) => accepted(),
            Err(refusal) => refused(&refusal),
        }
    }

    /// The request's checks, cheapest first, then the SET's.
    async fn accept<B>(&self, request: Request<B>) -> Result<(), Refusal>
    where
        B: Body + Send + 'static,
        B::Data: Send,
    {
        let inner = &self.inner;
        let refuse = |refusal: Refusal| {
            self.count_refusal(&refusal);
            Err(refusal)
        };
        // RFC 8935 §2.1: a SET is delivered with POST.
        if request.method() != Method::POST {
            return refuse(Refusal::http(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "security events are delivered with POST (RFC 8935 §2.1)",
            ));
        }
        // RFC 8935 §3, SSF 1.0 §6.1.1: the transmitter authenticates before anything is read.
        if let Some(expected) = &inner.authorization {
            let given = request.headers().get_all(http::header::AUTHORIZATION);
            let mut values = given.iter();
            let authenticated = match (values.next(), values.next()) {
                (Some(value), None) => aws_lc_rs::constant_time::verify_slices_are_equal(
                    value.as_bytes(),
                    expected.as_bytes(),
                )
                .is_ok(),
                _ => false,
            };
            if !authenticated {
                return refuse(Refusal::set(
                    ErrorCode::AuthenticationFailed,
                    "the request does not carry the Authorization value agreed for this stream",
                ));
            }
        }
        // RFC 8935 §2.1: `Content-Type: application/secevent+jwt`.
        if !is_set_media_type(request.headers().get(CONTENT_TYPE)) {
            return refuse(Refusal::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "a SET is sent as application/secevent+jwt (RFC 8935 §2.1)",
            ));
        }
        let limit = inner.max_body_bytes;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return refuse(too_large());
        }
        let body = match read_bounded(request.into_body(), limit).await {
            Ok(body) => body,
            Err(ReadError::TooLarge) => return refuse(too_large()),
            Err(ReadError::Body) => {
                return refuse(Refusal::invalid("the request body could not be read"));
            }
        };
        let Ok(text) = std::str::from_utf8(&body) else {
            return refuse(Refusal::invalid(
                "the body is not a compact JWS (three base64url segments)",
            ));
        };
        // A trailing newline (`curl --data @file`) is not part of the SET.
        self.receive(text.trim_matches(|c: char| c.is_ascii_whitespace()))
            .await
            .map(|_| ())
    }
}

fn too_large() -> Refusal {
    Refusal::http(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        "the request body is larger than this receiver reads",
    )
}

/// The type and subtype compare case-insensitively (RFC 9110 §8.3.1); parameters are
/// ignored.
fn is_set_media_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(SET_MEDIA_TYPE)
}

enum ReadError {
    TooLarge,
    Body,
}

/// Collects at most `limit` bytes of `body`; stops reading as soon as it is exceeded.
async fn read_bounded<B>(body: B, limit: usize) -> Result<Vec<u8>, ReadError>
where
    B: Body,
{
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return Err(ReadError::Body);
        };
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.remaining()) > limit {
                return Err(ReadError::TooLarge);
            }
            out.put(data);
        }
    }
    Ok(out)
}

/// RFC 8935 §2.2: 202 with an empty body.
fn accepted() -> Response<ReceiverBody> {
    let mut response = Response::new(ReceiverBody::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// RFC 8935 §2.3: a 400 carries `{"err": code, "description": text}` as `application/json`,
/// with `Content-Language` (English: the descriptions are fixed English texts). Other
/// refusals carry the description alone, in the same form.
fn refused(refusal: &Refusal) -> Response<ReceiverBody> {
    let body = match refusal.code() {
        Some(code) => {
            serde_json::json!({ "err": code.as_str(), "description": refusal.description() })
        }
        None => serde_json::json!({ "description": refusal.description() }),
    };
    let mut response = Response::new(ReceiverBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = refusal.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static("en"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if refusal.status() == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(after) = refusal.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
    }
    response
}

/// The body of the receiver's answers: empty, or one JSON object.
#[derive(Debug, Default)]
pub struct ReceiverBody {
    data: Option<Bytes>,
}

impl ReceiverBody {
    fn empty() -> Self {
        Self { data: None }
    }

    fn full(data: Bytes) -> Self {
        Self { data: Some(data) }
    }
}

impl Body for ReceiverBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}
