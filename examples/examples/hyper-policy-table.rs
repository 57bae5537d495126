//! Run with: `cargo run -p tollgate-examples --example hyper-policy-table`
//!
//! A plain hyper service, no router: one `PolicyTable` says which requests need what (a public
//! health check, a scope for photos, live introspection for admin and payments), and one
//! `TollgateLayer` applies it to every request. The handler finds the `Principal` in the request
//! extensions.
//!
//! The program starts a mock authorization server, serves on 127.0.0.1, sends a few requests
//! to itself, prints what happened, and exits.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tollgate::{Introspection, PolicyTable, Principal, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;
use tower::ServiceBuilder;

/// The whole application: it only runs when tollgate let the request through.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Absent on public routes, present everywhere else.
    let who = request.extensions().get::<Principal>().map(|p| {
        format!(
            "{} ({})",
            p.subject().unwrap_or("?"),
            if p.introspected() {
                "introspected"
            } else {
                "local"
            }
        )
    });
    let (status, text) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/health") => (StatusCode::OK, "ok".to_owned()),
        (&Method::GET, path) if path.starts_with("/photos/") => (
            StatusCode::OK,
            format!("photo for {}", who.unwrap_or_default()),
        ),
        (&Method::POST, "/payments") => (
            StatusCode::CREATED,
            format!("payment by {}", who.unwrap_or_default()),
        ),
        (_, path) if path.starts_with("/admin/") => (
            StatusCode::OK,
            format!("admin action by {}", who.unwrap_or_default()),
        ),
        _ => (StatusCode::NOT_FOUND, "not found".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    Ok(response)
}

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

    // First match wins; requests no rule matches need any valid token (the default).
    // Paths are normalized before matching, so `/%61dmin/x` or `//admin/x` meet the admin rule.
    let policy = PolicyTable::builder()
        .rule("GET", "/health", Requirement::public())
        .rule(
            "GET",
            "/photos/{id}",
            Requirement::routine().all_scopes(["read"]),
        )
        .rule(
            "POST",
            "/payments",
            Requirement::sensitive(Duration::ZERO).all_scopes(["payments"]),
        )
        .rule(
            "*",
            "/admin/{*rest}",
            Requirement::sensitive(Duration::from_secs(5)).all_scopes(["admin"]),
        )
        .build()
        .expect("valid policy table");

    let service = ServiceBuilder::new()
        .layer(gate.layer_with_policy(policy))
        .service_fn(handle);

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr: SocketAddr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    assert!(
        gate.ready(Duration::from_secs(10)).await,
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
