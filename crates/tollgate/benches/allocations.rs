//! Heap allocations per request on the routine hit path (docs/ARCHITECTURE.md, "Measured
//! goals"): counted, not timed.
//!
//! Run with: `cargo bench -p tollgate --bench allocations`.
//!
//! The process's global allocator is `stats_alloc`'s counting wrapper around the system
//! allocator (safe code: the crate's static is installed with `#[global_allocator]`, so the
//! workspace's `unsafe_code = "forbid"` holds here too). Every figure is the number of
//! allocations and reallocations made while `REQUESTS` requests pass, divided by `REQUESTS`;
//! requests are built before counting starts, and nothing else runs meanwhile (the tokio
//! runtime that serves the in-process mock authorization server is not driven while counting),
//! so the count is the code's own.
//!
//! - `validate`: `Tollgate::validate` of a cached token (the engine alone), and
//!   `validate_with` on a sensitive route whose introspection answer is cached;
//! - `middleware`: the tower service of `gate.layer()` around an inner service that answers
//!   without allocating, for a request without extensions (as hyper hands it over) and for one
//!   that already carries an extension (as axum's router hands it to `Router::layer`'s
//!   services, after inserting the matched path);
//! - `axum`: one request through an axum router in process, without authentication and with
//!   `gate.layer()` on the router (`Router::layer`) or on the route (`route_layer`); the
//!   difference to the no-auth router is what tollgate adds there; a pass-through layer
//!   (`MapRequestLayer` that changes nothing) shows what axum itself spends on any layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode, header::AUTHORIZATION};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tollgate::{Introspection, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;
use tower::{Layer as _, Service as _, ServiceExt as _};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Requests per count.
const REQUESTS: usize = 10_000;

/// Polls once: everything counted here completes without waiting.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a request had to wait: the benchmark setup is wrong"),
    }
}

/// Allocations (and reallocations) per call of `each` over `inputs`, built beforehand.
fn per_request<T>(inputs: Vec<T>, mut each: impl FnMut(T)) -> f64 {
    let count = inputs.len();
    let region = Region::new(GLOBAL);
    for input in inputs {
        each(input);
    }
    let change = region.change();
    (change.allocations + change.reallocations) as f64 / count as f64
}

async fn items() -> &'static str {
    "items"
}

/// Marks a request the way axum's router does before `Router::layer`'s services see it.
#[derive(Clone)]
struct Routed;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _entered = runtime.enter();
    let mock = runtime.block_on(
        MockAuthServer::builder()
            .token_lifetime(Duration::from_secs(3600))
            .start(),
    );
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .build()
        .expect("valid configuration");
    assert!(runtime.block_on(gate.wait_for_keys(Duration::from_secs(10))));
    let token = mock.token().sign();
    now(gate.validate(&token)).expect("the token is valid");
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
    let request = |extension: bool| {
        let mut request = Request::get("/api/items")
            .header(AUTHORIZATION, authorization.clone())
            .body(Body::empty())
            .expect("request");
        if extension {
            request.extensions_mut().insert(Routed);
        }
        request
    };
    let requests = |extension: bool| (0..REQUESTS).map(|_| request(extension)).collect();

    println!("heap allocations per request (allocations + reallocations, {REQUESTS} requests):");
    println!("| path | allocations/request |");
    println!("|---|---:|");

    let validate = per_request(vec![(); REQUESTS], |()| {
        std::hint::black_box(now(gate.validate(&token)).expect("valid"));
    });
    println!("| `Tollgate::validate`, cached token | {validate:.2} |");

    // A sensitive route whose introspection answer is cached (asked once, before counting).
    let hybrid = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .build()
        .expect("valid configuration");
    assert!(runtime.block_on(hybrid.wait_for_keys(Duration::from_secs(10))));
    let sensitive = Requirement::sensitive(Duration::from_secs(600));
    runtime
        .block_on(hybrid.validate_with(&token, &sensitive))
        .expect("introspection accepts the token");
    let cached = per_request(vec![(); REQUESTS], |()| {
        std::hint::black_box(now(hybrid.validate_with(&token, &sensitive)).expect("valid"));
    });
    println!("| `Tollgate::validate_with`, sensitive route, cached answer | {cached:.2} |");

    let inner = tower::service_fn(|request: Request<Body>| {
        drop(request);
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    });
    let mut service = gate.layer().layer(inner);
    for (label, extension) in [
        ("request without extensions", false),
        ("request with one extension already", true),
    ] {
        let count = per_request(requests(extension), |request| {
            now(service.ready()).expect("ready");
            let response = now(service.call(request)).expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        });
        println!("| middleware (`gate.layer()`), {label} | {count:.2} |");
    }

    let plain = Router::new().route("/api/items", axum::routing::get(items));
    // What any layer costs in axum, for comparison: one that passes the request on unchanged.
    let passthrough = plain
        .clone()
        .layer(tower::util::MapRequestLayer::new(|r: Request<Body>| r));
    let layered = plain.clone().layer(gate.layer());
    let route_layered = Router::new().route(
        "/api/items",
        axum::routing::get(items).route_layer(gate.layer()),
    );
    let mut counts = Vec::new();
    for (label, app) in [
        ("axum router, no auth", &plain),
        ("axum router, a pass-through `Router::layer`", &passthrough),
        ("axum router, `Router::layer(gate.layer())`", &layered),
        ("axum router, `route_layer(gate.layer())`", &route_layered),
    ] {
        let count = per_request(requests(false), |request| {
            let response = now(app.clone().oneshot(request)).expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        });
        let delta = counts.first().map_or(String::new(), |base: &f64| {
            format!(" ({:+.2} vs no auth)", count - base)
        });
        counts.push(count);
        println!("| {label} | {count:.2}{delta} |");
    }
}
