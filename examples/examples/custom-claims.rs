//! Run with: `cargo run -p tollgate-examples --example custom-claims`
//!
//! Typed custom claims in an axum handler: `Claims<T>` deserializes the validated token's
//! claims into your own type, next to the standard `Principal`. A token whose claims do not fit
//! `T` is refused with 401 `invalid_token`, before the handler runs.
//!
//! The program starts a mock authorization server, serves on 127.0.0.1, sends a few requests
//! to itself, prints what happened, and exits.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tollgate::{Claims, Principal, Tollgate};
use tollgate_mock::MockAuthServer;

/// The claims this API relies on, beyond RFC 9068's. Standard claims can be read here too.
#[derive(Debug, Deserialize)]
struct OrderClaims {
    /// The customer organisation the token acts for (a custom claim).
    tenant: String,
    /// Roles within that organisation (a custom claim); absent means none.
    #[serde(default)]
    roles: Vec<String>,
    /// The standard `sub`.
    sub: String,
}

async fn orders(principal: Principal, Claims(claims): Claims<OrderClaims>) -> String {
    let can_refund = claims.roles.iter().any(|r| r == "refunds");
    format!(
        "orders of {} for {} (client {}, may refund: {can_refund})",
        claims.tenant,
        claims.sub,
        principal.client_id().unwrap_or("?"),
    )
}

#[tokio::main]
async fn main() {
    let auth_server = MockAuthServer::start().await;
    let gate = Tollgate::builder()
        .issuer(auth_server.issuer())
        .audience(auth_server.audience())
        .build()
        .expect("valid tollgate configuration");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "the signing keys did not load"
    );

    let app = Router::new()
        .route("/orders", get(orders))
        .layer(gate.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let url = format!(
        "http://{}/orders",
        listener.local_addr().expect("bound address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let tokens = [
        (
            "tenant acme, roles [refunds]",
            auth_server
                .token()
                .subject("alice")
                .claim("tenant", "acme")
                .claim("roles", json!(["refunds"]))
                .sign(),
        ),
        (
            "tenant globex, no roles",
            auth_server
                .token()
                .subject("bob")
                .claim("tenant", "globex")
                .sign(),
        ),
        (
            "no tenant claim",
            auth_server.token().subject("mallory").sign(),
        ),
    ];
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    for (what, token) in tokens {
        let response = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers");
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        println!("{what:<30} -> {status}  {}", challenge.unwrap_or(body));
    }
}
