//! The plain hyper service of `cargo run -p tollgate-examples --example hyper-policy-table`: no
//! router, one [`PolicyTable`] that says which requests need what, and one
//! [`TollgateLayer`](tollgate::TollgateLayer) that applies it to every request.
//!
//! The handler dispatches on prefixes of the path exactly as sent (`path.starts_with("/admin/")`),
//! as hand-written hyper services do. The example and the tests serve this very handler, so the
//! tests show that the table judges every spelling of a path at least as strictly as the handler
//! dispatches it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tollgate::{ConfigError, PolicyTable, Principal, Requirement, Tollgate};
use tower::ServiceBuilder;

/// The example's table: a public health check, a scope for photos, live introspection for
/// payments and for everything under `/admin`. First match wins; requests no rule matches need
/// any valid token (the default).
///
/// # Errors
/// None in practice: the patterns are fixed. The [`ConfigError`] would name a bad one.
pub fn policy() -> Result<PolicyTable, ConfigError> {
    PolicyTable::builder()
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
}

/// The whole application: it only runs when tollgate let the request through. It answers
/// which branch served the request and for whom, so a test can tell.
pub async fn handle<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
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

/// Serves [`handle`] behind `gate` and `policy` on a free port of 127.0.0.1, one task per
/// connection, until the runtime stops; returns the address.
///
/// # Errors
/// The listener could not be bound.
pub async fn serve(gate: &Tollgate, policy: PolicyTable) -> io::Result<SocketAddr> {
    let service = ServiceBuilder::new()
        .layer(gate.layer_with_policy(policy))
        .service_fn(handle);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
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
    Ok(addr)
}
