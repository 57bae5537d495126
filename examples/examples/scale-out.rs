//! Run with: cargo run -p tollgate-examples --example scale-out
//!
//! Two instances of one API share a Redis that this program starts itself (Debian's
//! `redis-server` package: `apt-get install -y redis-server`). A token revoked through one
//! instance is refused by the other's routine route, which never asks the authorization
//! server; "alice changed her password" refuses her older tokens on both; and three
//! introspections of one token on a sensitive route with a 60-second budget cost one call.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tollgate::{Introspection, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;
use tollgate_redis::RedisStore;

/// A `redis-server` on a free loopback port, stopped (by its PID) when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start redis-server ({e}). This example needs it installed: \
                     `apt-get install -y redis-server` on Debian or Ubuntu"
                )
            })?;
        Ok(Self { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn instance(mock: &MockAuthServer, redis: &Redis) -> Tollgate {
    // Redis needs a moment to listen: connect until it answers, for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match RedisStore::builder().connect(&redis.url()).await {
            Ok(store) => break store,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("Redis does not answer: {e}"),
        }
    };
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .allow_insecure_endpoints(true) // the mock speaks plain HTTP on loopback
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .shared_store(Arc::new(store))
        .build()
        .expect("a valid configuration");
    assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
    gate
}

/// Polls until `gate` refuses `token` (at most 5 s): how long propagation took.
async fn until_refused(gate: &Tollgate, token: &str) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if gate.validate(token).await.is_err() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

#[tokio::main]
async fn main() {
    let redis = match Redis::start() {
        Ok(redis) => redis,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(1);
        }
    };
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis).await;
    let b = instance(&mock, &redis).await;
    println!("two instances share {}", redis.url());

    let token = mock.token().subject("bob").sign();
    assert!(b.validate(&token).await.is_ok());
    a.revoke_token(&token).await.expect("revoked");
    match until_refused(&b, &token).await {
        Some(delay) => println!("a token revoked on A is refused on B after {delay:?}"),
        None => println!("B did not learn of the revocation in 5 s"),
    }

    let old = mock.token().subject("alice").sign();
    assert!(a.validate(&old).await.is_ok() && b.validate(&old).await.is_ok());
    // Tokens are issued in whole seconds: T one second from now covers `old`.
    let changed_at = SystemTime::now() + Duration::from_secs(1);
    a.revoke_subject(&mock.issuer(), "alice", changed_at)
        .expect("a rule");
    let refused = until_refused(&b, &old).await.is_some();
    println!("alice changed her password: her older token is refused on B: {refused}");

    let budget = Requirement::sensitive(Duration::from_secs(60));
    let fresh = mock.token().subject("carol").sign();
    let before = mock.introspection_count();
    assert!(a.validate_with(&fresh, &budget).await.is_ok());
    // The answer is stored in the background; give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(b.validate_with(&fresh, &budget).await.is_ok());
    assert!(b.validate_with(&fresh, &budget).await.is_ok());
    println!(
        "three sensitive checks on two instances within the budget: {} introspection call(s)",
        mock.introspection_count() - before
    );
}
