//! The two bounds of docs/ARCHITECTURE.md, "Measured goals" that are not speed: resident memory under a stream of distinct
//! tokens, and JWKS fetches under a flood of unknown `kid`s.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::json;
use tollgate_mock::Algorithm;

use crate::{Options, Placement, apps, load, start_mock, sys};

/// Polls a validation once: with the keys loaded, a routine validation of a JWT whose `kid` is
/// known never waits.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a routine validation had to wait"),
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "EdDSA",
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Resident memory after `--tokens` (default 1,000,000) distinct valid tokens pass through one
/// tollgate with the documented cache bounds.
pub fn memory(options: &Options) {
    let count = options.tokens.unwrap_or(1_000_000);
    let (runtime, _threads, mock) = start_mock(None, options.alg);
    let mut builder = apps::gate(&mock);
    if let Some(capacity) = options.capacity {
        builder = builder.verified_cache_capacity(capacity);
    }
    let gate = runtime.block_on(apps::ready(builder));
    let kid = mock.signing_kid();
    let header = json!({ "alg": alg_name(options.alg), "typ": "at+jwt", "kid": kid });
    // Tokens are signed with `sign_raw`: the mock does not remember them, so the process's
    // memory is tollgate's (plus the fixed cost of the mock and the runtime).
    let mint = || mock.sign_raw(&header, &mock.token().claims(), &kid);
    for _ in 0..100 {
        now(gate.validate(&mint())).expect("valid token");
    }
    let (baseline, _) = sys::memory_kib();
    println!(
        "\nmemory: {count} distinct {} tokens through one tollgate (verified_cache_capacity {}, introspection configured), 2 threads",
        alg_name(options.alg),
        options
            .capacity
            .map_or("10000 (default)".to_owned(), |c| c.to_string())
    );
    println!("| tokens validated | VmRSS MiB | growth over baseline MiB |");
    println!("|---:|---:|---:|");
    println!("| 0 (baseline) | {:.1} | 0.0 |", mib(baseline));

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers = 2_u64;
    let count = count as u64;
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (gate, done, mint) = (&gate, Arc::clone(&done), &mint);
            scope.spawn(move || {
                let share = count / workers + u64::from(w < count % workers);
                for _ in 0..share {
                    let token = mint();
                    now(gate.validate(&token)).expect("valid token");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let step = (count / 10).max(1);
        let mut next = step;
        while next <= count {
            let n = done.load(Ordering::Relaxed);
            if n >= next {
                let (rss, _) = sys::memory_kib();
                println!(
                    "| {n} | {:.1} | {:.1} |",
                    mib(rss),
                    mib(rss.saturating_sub(baseline))
                );
                next += step;
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    let elapsed = started.elapsed();
    let (rss, peak) = sys::memory_kib();
    println!(
        "final: VmRSS {:.1} MiB ({:+.1} MiB over the baseline), peak VmHWM {:.1} MiB; {:.0} tokens/s minted and validated",
        mib(rss),
        mib(rss) - mib(baseline),
        mib(peak),
        count as f64 / elapsed.as_secs_f64()
    );
    drop(runtime);
}

/// `--tokens` (default 100,000) requests whose tokens carry unknown `kid`s, over HTTP to a
/// tollgate-protected server; JWKS fetches counted at the mock.
pub fn flood(options: &Options) {
    let count = options.tokens.unwrap_or(100_000);
    let placement = Placement::new(options);
    let (_mock_rt, _mock_threads, mock) = start_mock(placement.server, options.alg);
    let (server_rt, _server_threads) = sys::runtime("server", placement.server);
    let (load_rt, _load_threads) = sys::runtime("load", placement.load);
    let kid = mock.signing_kid();
    let alg = alg_name(options.alg);
    println!(
        "\nflood: {count} requests with unknown `kid`s ({alg}, validly signed by a published key under made-up `kid`s), {} connections",
        options.connections
    );
    println!("placement: {}", placement.describe());
    // Minted on two threads; each token has its own `kid`.
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = (0..2)
            .map(|half| {
                let (mock, kid) = (&mock, &kid);
                scope.spawn(move || {
                    (0..count)
                        .filter(|i| i % 2 == half)
                        .map(|i| {
                            let header =
                                json!({ "alg": alg, "typ": "at+jwt", "kid": format!("flood-{i}") });
                            mock.sign_raw(&header, &mock.token().claims(), kid)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("minting thread"))
            .collect()
    });
    println!(
        "| unknown-kid cooldown | requests | paced over | took s | 401 answers | JWKS fetches | allowed by the cooldown | discovery fetches | valid token after |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (cooldown, spread) in [
        (Duration::from_secs(15), Duration::ZERO),
        (Duration::from_secs(1), Duration::from_secs(6)),
    ] {
        let gate = server_rt.block_on(apps::ready(
            apps::gate(&mock).unknown_kid_cooldown(cooldown),
        ));
        let listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = axum::Router::new()
            .route(apps::PATH, axum::routing::get(|| async { "ok" }))
            .layer(gate.layer());
        server_rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let connections = options.connections.min(count);
        let mut requests: Vec<Vec<Arc<[u8]>>> = vec![Vec::new(); connections];
        for (i, token) in tokens.iter().enumerate() {
            requests[i % connections].push(load::request(addr, apps::PATH, Some(token)));
        }
        let per_connection = count.div_ceil(connections);
        let pace = spread / u32::try_from(per_connection).unwrap_or(u32::MAX);
        let (jwks_before, discovery_before) = (mock.jwks_fetches(), mock.discovery_fetches());
        let outcome = load_rt.block_on(load::drive(addr, requests, 401, load::Plan::Once { pace }));
        let took = outcome.window;
        let jwks = mock.jwks_fetches() - jwks_before;
        let discovery = mock.discovery_fetches() - discovery_before;
        // The first unknown `kid` may fetch at once; then at most one fetch per cooldown.
        let allowed = 1 + (took.as_secs_f64() / cooldown.as_secs_f64()).floor() as u64;
        let valid = mock.token().sign();
        let check = load_rt.block_on(load::drive(
            addr,
            vec![vec![load::request(addr, apps::PATH, Some(&valid))]],
            200,
            load::Plan::Once {
                pace: Duration::ZERO,
            },
        ));
        println!(
            "| {} s | {} | {} s | {:.2} | {} | {} | {} | {} | {} |",
            cooldown.as_secs(),
            outcome.completed,
            spread.as_secs(),
            took.as_secs_f64(),
            outcome.completed - outcome.unexpected,
            jwks,
            allowed,
            discovery,
            if check.unexpected + check.errors == 0 {
                "200"
            } else {
                "refused"
            },
        );
        assert!(
            outcome.errors == 0,
            "{} flood requests failed",
            outcome.errors
        );
    }
}
