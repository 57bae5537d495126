//! Run with: `cargo run -p tollgate-examples --example hyper-policy-table`
//!
//! A plain hyper service, no router: one `PolicyTable` says which requests need what (a public
//! health check, a scope for photos, live introspection for admin and payments), and one
//! `TollgateLayer` applies it to every request. The handler finds the `Principal` in the request
//! extensions. Both live in `tollgate_examples::hyper_policy` (examples/src/hyper_policy.rs).
//!
//! The program starts a mock authorization server, serves on 127.0.0.1, sends a few requests
//! to itself, prints what happened, and exits.

use std::time::Duration;

use http::Method;
use tollgate::{Introspection, Tollgate};
use tollgate_examples::hyper_policy;
use tollgate_mock::MockAuthServer;

#[tokio::main]
async fn main() {
    let auth_server = MockAuthServer::start().await;
    let gate = Tollgate::builder()
        .issuer(auth_server.issuer())
        .audience(auth_server.audience())
        .introspection(Introspection::client_secret_basic(
            auth_server.client_id(),
            auth_server.client_secret(),
        ))
        .build()
        .expect("valid tollgate configuration");

    // The table and the handler are in `tollgate_examples::hyper_policy`, where the tests use
    // them too.
    let policy = hyper_policy::policy().expect("valid policy table");
    let addr = hyper_policy::serve(&gate, policy)
        .await
        .expect("bind 127.0.0.1");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "the signing keys did not load"
    );

    println!("hyper service with a policy table on http://{addr}\n");
    let reader = auth_server.token().subject("alice").scope("read").sign();
    let admin = auth_server
        .token()
        .subject("root")
        .scope("read admin payments")
        .sign();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let requests: [(Method, &str, Option<&str>); 7] = [
        (Method::GET, "/health", None),
        (Method::GET, "/photos/7", None),
        (Method::GET, "/photos/7", Some(&reader)),
        (Method::POST, "/payments", Some(&reader)),
        (Method::POST, "/payments", Some(&admin)),
        // Another spelling of an admin path: to the handler it is no admin path (404), but the
        // table still holds it to the admin rule. Spellings with `..`, `%2F` or `\` are refused
        // with 400; examples/tests/hyper_policy.rs sends them byte for byte (reqwest would
        // resolve `..` before sending).
        (Method::DELETE, "/%61dmin/users/7", Some(&reader)),
        (Method::DELETE, "/admin/users/7", Some(&admin)),
    ];
    for (method, path, token) in requests {
        let mut request = client.request(method.clone(), format!("http://{addr}{path}"));
        let who = match token {
            Some(token) => {
                request = request.bearer_auth(token);
                if token == reader {
                    "alice (read)"
                } else {
                    "root (read admin payments)"
                }
            }
            None => "no token",
        };
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        let detail = challenge.map_or(body, |c| format!("WWW-Authenticate: {c}"));
        println!(
            "{:<6} {path:<18} {who:<27} -> {status}  {detail}",
            method.as_str()
        );
    }
    // POST /payments asked the AS (zero freshness budget); DELETE /admin/... could reuse that
    // answer, since its rule accepts one up to 5 seconds old.
    println!(
        "\nintrospection calls the authorization server saw: {}",
        auth_server.introspection_count()
    );
}
