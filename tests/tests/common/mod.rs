//! Helpers shared by the end-to-end tests: start `protected-api` on 127.0.0.1, and talk to it
//! as an HTTP client would. The client side (answers, sending, polling) is tollgate-mock's,
//! re-exported here.
#![allow(dead_code, unused_imports, missing_docs)]

use std::time::Duration;

use tollgate_examples::protected_api::{self, Config, Server};
pub use tollgate_mock::testing::{Answer, LogCapture, client, eventually, send};

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
