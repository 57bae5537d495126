//! Going down, coming back, shutting down; counters, in-flight gauges, request records and
//! unknown paths.

mod common;

use std::time::Duration;

use common::get_json;
use tollgate_mock::testing::{client, eventually};
use tollgate_mock::{Endpoint, Fault, MockAuthServer};

#[tokio::test]
async fn go_down_refuses_and_come_back_serves_on_the_same_port() {
    let server = MockAuthServer::start().await;
    let addr = server.addr();
    let pooled = client();
    get_json(&server.jwks_uri()).await;
    // An idle keep-alive connection in `pooled`'s pool.
    pooled
        .get(server.jwks_uri())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    server.go_down().await;
    let error = client().get(server.jwks_uri()).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    server.go_down().await; // idempotent

    server.come_back().await;
    assert_eq!(server.addr(), addr);
    get_json(&server.jwks_uri()).await;
    server.come_back().await; // idempotent
    // State survived.
    assert_eq!(server.jwks_fetches(), 3);
    let token = server.token().sign();
    assert_eq!(common::introspect(&server, &token).await["active"], true);
}

#[tokio::test]
async fn go_down_drops_requests_in_flight() {
    let server = MockAuthServer::start().await;
    server.set_fault(Endpoint::Jwks, Fault::Latency(Duration::from_secs(3600)));
    let url = server.jwks_uri();
    let pending = tokio::spawn(async move { client().get(url).send().await });
    let probe = server.clone();
    let arrived = eventually(Duration::from_secs(30), async || probe.jwks_fetches() == 1).await;
    assert!(arrived, "the JWKS request never reached the server");
    server.go_down().await;
    let result = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .expect("dropped, not hanging");
    assert!(result.unwrap().is_err());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let server = MockAuthServer::start().await;
    let addr = server.addr();
    let clone = server.clone();
    drop(server);
    get_json(&clone.jwks_uri()).await;
    drop(clone);
    let stopped = eventually(Duration::from_secs(30), async || {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(
        stopped,
        "the server still accepts connections without a handle"
    );
}

#[tokio::test]
async fn shutdown_stops_every_handle() {
    let server = MockAuthServer::start().await;
    let other = server.clone();
    server.shutdown().await;
    assert!(
        client()
            .get(other.jwks_uri())
            .send()
            .await
            .unwrap_err()
            .is_connect()
    );
}

#[tokio::test]
async fn counters_see_every_path() {
    let server = MockAuthServer::start().await;
    let base = server.base_url();
    let response = client()
        .get(format!("{base}/evil/jwks.json?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    client()
        .post(format!("{base}/evil/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(server.requests_to("/evil/jwks.json"), 2);
    assert_eq!(server.requests_to("/x5u"), 0);

    get_json(&server.jwks_uri()).await;
    get_json(&server.openid_configuration_url()).await;
    common::post_basic(
        &server,
        &server.token_endpoint(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    common::post_basic(&server, &server.revocation_endpoint(), &[("token", "t")]).await;
    common::introspect(&server, "t").await;
    assert_eq!(server.requests_to("/jwks"), 1);
    assert_eq!(
        (
            server.jwks_fetches(),
            server.discovery_fetches(),
            server.token_requests()
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (server.revocation_requests(), server.introspection_count()),
        (1, 1)
    );
    assert_eq!(server.introspection_count_for("t"), 1);
    assert_eq!(server.introspection_count_for("u"), 0);

    server.reset_counts();
    assert_eq!(server.requests_to("/evil/jwks.json"), 0);
    assert_eq!(server.requests_to("/jwks"), 0);
    assert_eq!(
        (
            server.jwks_fetches(),
            server.discovery_fetches(),
            server.token_requests()
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (server.revocation_requests(), server.introspection_count()),
        (0, 0)
    );
    assert_eq!(server.introspection_count_for("t"), 0);
}

#[tokio::test]
async fn counts_are_exact_under_concurrency() {
    let server = MockAuthServer::start().await;
    let token = server.token().sign();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let server = server.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            common::introspect(&server, &token).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap()["active"], true);
    }
    assert_eq!(server.introspection_count_for(&token), 20);
}

#[tokio::test]
async fn start_is_quick_enough_for_many_servers() {
    // Not a timing assertion: many servers in one test must simply work.
    let mut servers = Vec::new();
    for _ in 0..20 {
        servers.push(MockAuthServer::start().await);
    }
    let kids: std::collections::HashSet<String> = servers.iter().map(|s| s.signing_kid()).collect();
    assert_eq!(kids.len(), 20, "each server has its own kid");
    let fresh = MockAuthServer::builder().fresh_key().start().await;
    assert_ne!(
        fresh.jwks()["keys"][0]["n"],
        servers[0].jwks()["keys"][0]["n"]
    );
}

#[tokio::test]
async fn go_down_closes_idle_keep_alive_connections() {
    let server = MockAuthServer::start().await;
    let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!("GET /jwks HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr());
    let mut sent = 0;
    while sent < request.len() {
        stream.writable().await.unwrap();
        match stream.try_write(&request.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    // Read the whole answer; the connection then stays open (HTTP/1.1 keep-alive).
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !received.windows(8).any(|w| w == b"\"keys\":[") || !received.ends_with(b"]}") {
        stream.readable().await.unwrap();
        match stream.try_read(&mut buf) {
            Ok(0) => panic!("closed before the answer was complete"),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(received.starts_with(b"HTTP/1.1 200"));

    server.go_down().await;
    // The server's end is gone: end of stream (or a reset), never another byte.
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            stream.readable().await.unwrap();
            match stream.try_read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => return false,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return true,
            }
        }
    })
    .await
    .expect("the connection was closed");
    assert!(closed);
}

#[tokio::test]
async fn requests_are_recorded_as_they_arrived() {
    let server = MockAuthServer::start().await;
    let token = server.opaque_token().issue();
    common::post_basic(
        &server,
        &server.introspection_endpoint(),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    let seen = server.last_request(Endpoint::Introspection).unwrap();
    assert_eq!(seen.method, http::Method::POST);
    assert_eq!(
        (seen.path.as_str(), seen.query.as_deref()),
        ("/introspect", None)
    );
    // Secrets are kept: a test checks how the client authenticated.
    let basic = format!("{}:{}", server.client_id(), server.client_secret());
    let basic = format!("Basic {}", base64_standard(basic.as_bytes()));
    assert_eq!(seen.header("Authorization"), Some(basic.as_str()));
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = [
        ("token".to_owned(), token.clone()),
        ("token_type_hint".to_owned(), "access_token".to_owned()),
    ];
    assert_eq!(seen.form(), form);
    assert_eq!(
        seen.body_text(),
        format!("token={token}&token_type_hint=access_token")
    );
    // ... but Debug output does not show them.
    let debug = format!("{seen:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(!debug.contains(&server.client_secret()) && !debug.contains(&token));

    // Faulted requests are recorded too; each endpoint has its own record.
    server.set_fault(Endpoint::Jwks, Fault::Status(503));
    client()
        .get(format!("{}?attempt=1", server.jwks_uri()))
        .send()
        .await
        .unwrap();
    let seen = server.last_request(Endpoint::Jwks).unwrap();
    assert_eq!(
        (&seen.method, seen.query.as_deref()),
        (&http::Method::GET, Some("attempt=1"))
    );
    assert!(seen.body.is_empty() && seen.form().is_empty());
    assert_eq!(server.requests(Endpoint::Introspection).len(), 1);
    assert!(server.requests(Endpoint::Token).is_empty());

    // Bounded: the last 100, oldest first.
    for attempt in 2..=120 {
        client()
            .get(format!("{}?attempt={attempt}", server.jwks_uri()))
            .send()
            .await
            .unwrap();
    }
    let seen = server.requests(Endpoint::Jwks);
    let attempts: Vec<_> = seen.iter().map(|r| r.query.clone().unwrap()).collect();
    let expected: Vec<_> = (21..=120).map(|n| format!("attempt={n}")).collect();
    assert_eq!(attempts, expected);
    assert_eq!(server.jwks_fetches(), 120);

    server.reset_counts();
    assert!(server.requests(Endpoint::Jwks).is_empty());
    assert!(server.last_request(Endpoint::Introspection).is_none());
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_follows_each_request_until_its_answer() {
    let server = MockAuthServer::start().await;
    assert_eq!(server.max_in_flight(Endpoint::Introspection), 0);
    // Held in a latency fault: in flight until the connection goes.
    server.set_fault(
        Endpoint::Introspection,
        Fault::Latency(Duration::from_secs(3600)),
    );
    let pending: Vec<_> = (0..3)
        .map(|_| {
            let url = server.introspection_endpoint();
            tokio::spawn(async move { client().post(url).form(&[("token", "t")]).send().await })
        })
        .collect();
    let probe = server.clone();
    let all_in = eventually(Duration::from_secs(30), async || {
        probe.in_flight(Endpoint::Introspection) == 3
    })
    .await;
    assert!(
        all_in,
        "{} in flight",
        server.in_flight(Endpoint::Introspection)
    );
    assert_eq!(server.max_in_flight(Endpoint::Introspection), 3);
    assert_eq!(server.in_flight(Endpoint::Jwks), 0);

    // Dropped connections end their requests; the maximum stays.
    server.go_down().await;
    for request in pending {
        assert!(request.await.unwrap().is_err(), "dropped, not answered");
    }
    assert_eq!(server.in_flight(Endpoint::Introspection), 0);
    assert_eq!(server.max_in_flight(Endpoint::Introspection), 3);
    server.reset_counts();
    assert_eq!(server.max_in_flight(Endpoint::Introspection), 0);

    // One at a time, answered: in flight while it lasted, and no more.
    server.come_back().await;
    server.clear_faults();
    for _ in 0..3 {
        common::introspect(&server, "t").await;
    }
    assert_eq!(server.max_in_flight(Endpoint::Introspection), 1);
    assert_eq!(server.in_flight(Endpoint::Introspection), 0);
}
