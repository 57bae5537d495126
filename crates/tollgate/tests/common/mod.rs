//! Shared helpers of tollgate's integration tests: a mock authorization server, a tollgate
//! configured for it, and an axum app served on 127.0.0.1.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tollgate::{Introspection, Tollgate, TollgateBuilder};
use tollgate_mock::{MockAuthServer, challenge};

/// A builder for `mock` with test-friendly timings.
pub fn builder(mock: &MockAuthServer) -> TollgateBuilder {
    Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .realm("tollgate-test")
        .unknown_kid_cooldown(Duration::from_secs(60))
        .fetch_timeout(Duration::from_secs(2))
}

/// The same, with introspection using the mock's registered client.
pub fn hybrid_builder(mock: &MockAuthServer) -> TollgateBuilder {
    builder(mock).introspection(
        Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
            .timeout(Duration::from_secs(1)),
    )
}

/// Builds the gate and waits until its keys are loaded.
pub async fn ready(builder: TollgateBuilder) -> Tollgate {
    let gate = builder.build().expect("valid configuration");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "keys did not load"
    );
    gate
}

/// Serves `app` on 127.0.0.1 on a free port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// What a test needs from a response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    /// The `error` parameter of the challenge.
    pub fn error(&self) -> Option<String> {
        challenge::param(self.challenge.as_deref()?, "error")
    }

    pub fn param(&self, name: &str) -> Option<String> {
        challenge::param(self.challenge.as_deref()?, name)
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    };
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        challenge,
        retry_after,
        body,
    }
}

/// GET `url` with `Authorization: Bearer token`.
pub async fn get(url: &str, token: &str) -> Answer {
    send(client().get(url).bearer_auth(token)).await
}

/// Polls `f` until it returns true, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
