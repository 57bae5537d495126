//! Helpers shared by the end-to-end tests: start `protected-api` on 127.0.0.1, and talk to it
//! as an HTTP client would.
#![allow(dead_code, missing_docs)]

use std::time::Duration;

use tollgate_examples::protected_api::{self, Config, Server};
use tollgate_mock::challenge;

/// A configuration that listens on a free loopback port.
pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..Config::default()
    }
}

/// Starts `protected-api` and waits until its signing keys are loaded.
pub async fn start(config: Config) -> Api {
    let server = protected_api::start(config)
        .await
        .expect("protected-api starts");
    assert!(
        server.ready(Duration::from_secs(10)).await,
        "the signing keys did not load"
    );
    Api::new(server)
}

/// A running `protected-api` and a client for it.
pub struct Api {
    pub server: Server,
    pub url: String,
}

impl Api {
    pub fn new(server: Server) -> Self {
        let url = server.url();
        Self { server, url }
    }

    /// The embedded mock authorization server.
    pub fn mock(&self) -> &tollgate_mock::MockAuthServer {
        self.server.embedded_mock().expect("an embedded mock")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(reqwest::Method::GET, path, token).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(reqwest::Method::POST, path, token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(reqwest::Method::DELETE, path, token).await
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> Answer {
        let mut request = client().request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        send(request).await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
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

    /// Any parameter of the challenge.
    pub fn param(&self, name: &str) -> Option<String> {
        challenge::param(self.challenge.as_deref()?, name)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
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

/// Revokes `token` at the mock's RFC 7009 endpoint, as a client of the AS would.
pub async fn revoke(mock: &tollgate_mock::MockAuthServer, token: &str) {
    let answer = send(
        client()
            .post(mock.revocation_endpoint())
            .basic_auth(mock.client_id(), Some(mock.client_secret()))
            .form(&[("token", token), ("token_type_hint", "access_token")]),
    )
    .await;
    assert_eq!(answer.status, 200, "revocation: {answer:?}");
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
