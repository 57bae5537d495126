//! How long a revocation takes to reach another instance through Redis, and what a load
//! costs: two `RedisStore`s on a `redis-server` started on 127.0.0.1 for the run.
//!
//! Run with: `cargo bench -p tollgate-redis --bench propagation` (needs Debian's
//! `redis-server`). Prints percentiles; asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use tollgate::store::{Digest, Fact, Namespace, Notice, SharedStore};
use tollgate_redis::RedisStore;

/// Facts timed one by one, after a warm-up.
const ROUNDS: u32 = 2_000;
const WARM_UP: u32 = 200;
/// Facts in the namespace for the load timing.
const LOADED: u32 = 10_000;

fn main() {
    if !support::redis_available() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let redis = support::RedisServer::start();
    let ns = Namespace::new("https://as.example", ["https://api.example"]);
    let one = RedisStore::connect(&redis.url()).await.expect("connects");
    let two = RedisStore::connect(&redis.url()).await.expect("connects");
    let mut notices = two.subscribe(&ns);
    support::wait_for(&mut notices, Notice::Reconnected).await;
    let until = unix_now() + 3600;

    let mut publish = Vec::new();
    let mut propagation = Vec::new();
    for round in 0..ROUNDS + WARM_UP {
        let fact = Fact::Revoked {
            token: Digest::of(&round.to_be_bytes()),
            until,
        };
        let start = Instant::now();
        one.publish(&ns, &fact).await.expect("publishes");
        let published = start.elapsed();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), notices.next()).await {
                Ok(Some(Notice::Fact(heard))) if heard == fact => break,
                Ok(Some(_)) => {}
                other => panic!("no notice: {other:?}"),
            }
        }
        if round >= WARM_UP {
            publish.push(published);
            propagation.push(start.elapsed());
        }
    }
    report(
        "publish (script: SET PX, ZADD, PUBLISH), one round trip",
        publish,
    );
    report(
        "publish on one instance -> Notice::Fact on another",
        propagation,
    );

    for round in 0..LOADED {
        let fact = Fact::Revoked {
            token: Digest::of(&(round + 1_000_000).to_be_bytes()),
            until,
        };
        one.publish(&ns, &fact).await.expect("publishes");
    }
    let mut loads = Vec::new();
    let mut count = 0;
    for _ in 0..20 {
        let start = Instant::now();
        count = two.load(&ns).await.expect("loads").len();
        loads.push(start.elapsed());
    }
    report(
        &format!("load of {count} facts (ZRANGE + MGET by 500)"),
        loads,
    );
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{what}: p50 {:?}, p99 {:?}, max {:?} (n = {})",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    );
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}
