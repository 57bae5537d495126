//! The HTTP side: methods, media types, the body bound, the transmitter's authorization, and
//! the answers of RFC 8935 §2.2 and §2.3.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use tollgate_mock::events::{Subject, push, push_with};
use tower::ServiceExt;

use super::*;

/// What the receiver answered: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(receiver: &SecurityEventReceiver, request: Request<Body>) -> Answer {
    let response = receiver.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn post() -> http::request::Builder {
    Request::post("/events").header("content-type", "application/secevent+jwt")
}

fn push_request(set: String) -> Request<Body> {
    post().body(Body::from(set)).unwrap()
}

/// A receiver whose SETs are verified now (the service reads the clock).
fn live(server: &MockAuthServer, sink: Collect) -> SecurityEventReceiver {
    receiver(server, sink)
}

#[tokio::test]
async fn an_accepted_set_is_202_with_an_empty_body_and_so_is_a_repeat() {
    let server = MockAuthServer::start().await;
    let receiver = live(&server, Collect::default());
    let set = server
        .security_event(EventType::AccountDisabled)
        .audience(AUD)
        .sign();
    for _ in 0..2 {
        let answer = call(&receiver, push_request(set.clone())).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        assert_eq!(answer.body, "");
    }
    assert_eq!(receiver.stats().repeats, 1);
}

#[tokio::test]
async fn a_refused_set_is_400_with_err_and_description_in_english_json() {
    let server = MockAuthServer::start().await;
    let receiver = live(&server, Collect::default());
    let set = server
        .security_event(EventType::AccountDisabled)
        .audience("https://other.example")
        .sign();
    let answer = call(&receiver, push_request(set)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("content-language"), Some("en"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    assert_eq!(body["err"], "invalid_audience");
    assert!(
        body["description"]
            .as_str()
            .is_some_and(|d| d.contains("aud")),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(
        receiver
            .stats()
            .refused
            .with_code(ErrorCode::InvalidAudience),
        1
    );
}

#[tokio::test]
async fn only_post_is_accepted() {
    let server = MockAuthServer::start().await;
    let receiver = live(&server, Collect::default());
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::HEAD] {
        let request = Request::builder()
            .method(method.clone())
            .uri("/events")
            .header("content-type", "application/secevent+jwt")
            .body(Body::empty())
            .unwrap();
        let answer = call(&receiver, request).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.header("allow"), Some("POST"));
    }
}

#[tokio::test]
async fn only_the_set_media_type_is_accepted() {
    let server = MockAuthServer::start().await;
    let receiver = live(&server, Collect::default());
    let set = || {
        server
            .security_event(EventType::AccountDisabled)
            .audience(AUD)
            .sign()
    };
    for content_type in [
        None,
        Some("application/jwt"),
        Some("application/json"),
        Some("text/plain"),
    ] {
        let mut request = Request::post("/events");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let answer = call(&receiver, request.body(Body::from(set())).unwrap()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    for content_type in [
        "application/secevent+jwt; charset=utf-8",
        "Application/SecEvent+JWT",
    ] {
        let request = Request::post("/events")
            .header("content-type", content_type)
            .body(Body::from(set()))
            .unwrap();
        assert_eq!(
            call(&receiver, request).await.status,
            StatusCode::ACCEPTED,
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn a_body_beyond_the_bound_is_413_declared_or_not() {
    let server = MockAuthServer::start().await;
    let receiver = receiver_with(&server, Collect::default(), |b| b.max_body_bytes(2048));
    let big = "a".repeat(2049);
    // Declared too large: refused unread.
    let declared = post()
        .header("content-length", "2049")
        .body(Body::from(big.clone()))
        .unwrap();
    assert_eq!(
        call(&receiver, declared).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Streamed without a length: refused once the bound is passed.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from("a".repeat(1500))),
        Ok(Bytes::from("a".repeat(1500))),
    ];
    let streamed = post()
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_eq!(
        call(&receiver, streamed).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // At the bound, it is read (and judged as a SET).
    let at_bound = call(
        &receiver,
        post().body(Body::from("a".repeat(2048))).unwrap(),
    )
    .await;
    assert_eq!(at_bound.status, StatusCode::BAD_REQUEST);
    assert_eq!(at_bound.json()["err"], "invalid_request");
}

#[tokio::test]
async fn a_body_that_is_not_utf8_or_breaks_is_invalid_request() {
    let server = MockAuthServer::start().await;
    let receiver = live(&server, Collect::default());
    let answer = call(
        &receiver,
        post().body(Body::from(vec![0xff, 0xfe])).unwrap(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.json()["err"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(Bytes::from("eyJ")), Err(std::io::Error::other("reset"))];
    let broken = post()
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let answer = call(&receiver, broken).await;
    assert_eq!(answer.json()["err"], "invalid_request");
    // A trailing newline is not part of the SET.
    let set = server
        .security_event(EventType::AccountDisabled)
        .audience(AUD)
        .sign();
    let answer = call(&receiver, push_request(format!("{set}\r\n"))).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_agreed_authorization_is_required_before_the_body_is_read() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver_with(&server, sink.clone(), |b| {
        b.authorization("Bearer stream-secret")
    });
    let set = || {
        server
            .security_event(EventType::AccountDisabled)
            .audience(AUD)
            .sign()
    };
    for given in [
        None,
        Some("Bearer wrong"),
        Some("Bearer stream-secre"),
        Some("bearer stream-secret"),
    ] {
        let mut request = post();
        if let Some(given) = given {
            request = request.header("authorization", given);
        }
        let answer = call(&receiver, request.body(Body::from(set())).unwrap()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{given:?}");
        assert_eq!(answer.json()["err"], "authentication_failed", "{given:?}");
    }
    // Twice, even with the right value once: refused.
    let twice = post()
        .header("authorization", "Bearer stream-secret")
        .header("authorization", "Bearer other")
        .body(Body::from(set()))
        .unwrap();
    assert_eq!(
        call(&receiver, twice).await.json()["err"],
        "authentication_failed"
    );
    // Checked before the media type: an unauthenticated caller learns nothing more.
    let wrong_type = Request::post("/events")
        .header("content-type", "text/plain")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        call(&receiver, wrong_type).await.json()["err"],
        "authentication_failed"
    );
    assert!(sink.calls().is_empty());

    let right = post()
        .header("authorization", "Bearer stream-secret")
        .body(Body::from(set()))
        .unwrap();
    assert_eq!(call(&receiver, right).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn unavailable_keys_answer_503_with_retry_after() {
    let server = MockAuthServer::start().await;
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(server.issuer()))
        .build(NoKeysYet, Collect::default())
        .unwrap();
    let set = server
        .security_event(EventType::AccountDisabled)
        .audience(AUD)
        .sign();
    let answer = call(&receiver, push_request(set)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert!(answer.json().get("err").is_none(), "{}", answer.body);
}

/// Over HTTP, as a transmitter pushes: mounted in an axum router at a path of the
/// application's choice.
#[tokio::test]
async fn pushed_over_http_to_a_mounted_receiver() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = live(&server, sink.clone());
    let app = axum::Router::new().route_service("/ssf/events", receiver.clone());
    let base = tollgate_mock::testing::serve(app).await;
    let url = format!("{base}/ssf/events");

    let set = server
        .security_event(EventType::SessionRevoked)
        .subject(Subject::session(
            "s-1",
            Subject::iss_sub(server.issuer(), "alice"),
        ))
        .audience(AUD)
        .sign();
    let answer = push(&url, &set).await;
    assert_eq!((answer.status, answer.body.as_str()), (202, ""));
    assert_eq!(push(&url, &set).await.status, 202, "a repeat");
    assert_eq!(sink.calls().len(), 1);

    let unsigned = server
        .security_event(EventType::SessionRevoked)
        .audience(AUD)
        .unsigned()
        .sign();
    let answer = push(&url, &unsigned).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.err().as_deref(), Some("invalid_key"));
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.content_language.as_deref(), Some("en"));

    let answer = push_with(&url, &set, &[("content-type", "application/jwt")]).await;
    assert_eq!(answer.status, 415);
}
