//! What validating one token costs, next to a bare `jsonwebtoken::decode` (docs/ARCHITECTURE.md, "Measured goals").
//!
//! Run with: `cargo bench -p tollgate --bench validation` (a filter such as `es256` narrows
//! the criterion part; `ratios` runs only the interleaved comparison).
//!
//! For each of RS256, ES256 and EdDSA, against keys published by an in-process tollgate-mock:
//!
//! - `bare_decode`: `jsonwebtoken::decode::<serde_json::Value>` with a `DecodingKey` made from
//!   the published JWK and a `Validation` as close to tollgate's as jsonwebtoken allows (the
//!   algorithm, `iss`, `aud`, `exp` and `nbf` with 60 s leeway, `exp`/`iss`/`aud`/`sub`
//!   required; it cannot check `typ`, `iat`, `jti` or `client_id`, which tollgate does);
//! - `miss`: tollgate's local validation of a token it has not seen, on a gate whose
//!   verified-token cache holds nothing (`verified_cache_capacity(0)`), cycling through a pool
//!   of distinct tokens; before measuring, a timed pass checks that every one is a real miss;
//! - `hit`: the same token again, answered by the verified-token cache;
//! - `hit_two_issuers`: the same on a gate that also trusts a second issuer (a second mock
//!   with keys of its own): what several trusted issuers cost a cache hit, which the `ratios`
//!   pass also reports as a ratio to `hit`;
//! - `dpop_hit`: a whole DPoP request (`Tollgate::validate_request`): the proof (its own
//!   ES256 signature, `htm`, `htu`, `iat`, `ath`), the same cache hit for a DPoP-bound token
//!   of that algorithm, the `cnf.jkt` binding and the replay cache; each request has a fresh
//!   proof, made before its batch is timed; the `ratios` pass reports it as a ratio to `hit`;
//! - `hit_hybrid`: the same on a gate with introspection configured (a routine route then also
//!   consults the revocation memory);
//! - `sensitive_cached`: `validate_with(token, &Requirement::sensitive(60 s))` whose
//!   introspection answer is already cached;
//! - `http_no_auth` and `http_routine`: one request through an axum router, in process (no
//!   socket), without and with `gate.layer()` (the token cached); both requests carry the same
//!   `Authorization` header, so the difference is what the middleware costs per request.
//!
//! Every tollgate call here completes without waiting (keys loaded, answers cached), so each is
//! polled once with a no-op waker instead of going through an executor: the figures are the
//! validation's own cost. A call that would wait is a setup error and panics.
//!
//! Criterion measures wall time, each function in its own time window. On a shared machine the
//! ratios are therefore also measured a second way, in the `ratios` pass at the end: short
//! batches of every variant, interleaved round after round, timed by the thread's CPU clock
//! (time spent waiting for the CPU does not count), each ratio taken within one round and the
//! median over rounds reported, so that background load cancels out.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use criterion::{BenchmarkId, Criterion};
use http::{HeaderValue, Request, StatusCode, header::AUTHORIZATION};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use tollgate::{Introspection, Requirement, Tollgate, TrustedIssuer};
use tollgate_mock::Algorithm;
use tollgate_mock::MockAuthServer;
use tower::ServiceExt as _;

/// Distinct tokens per algorithm for the cache-miss measurements (cycled; with a cache that
/// holds nothing a repeated token is still a miss, which the setup verifies).
const POOL: usize = 2048;

/// A validation faster than this did not verify a signature: it was a cache hit.
const MISS_FLOOR: Duration = Duration::from_micros(3);

/// Interleaved rounds of the `ratios` pass, and the target duration of one batch.
const ROUNDS: usize = 50;
const BATCH: Duration = Duration::from_millis(20);

const ALGORITHMS: [(Algorithm, &str); 3] = [
    (Algorithm::RS256, "RS256"),
    (Algorithm::ES256, "ES256"),
    (Algorithm::EdDSA, "EdDSA"),
];

/// Everything one algorithm's measurements need.
struct Fixture {
    name: &'static str,
    key: DecodingKey,
    validation: Validation,
    /// Distinct valid tokens, never registered at the mock (only validated locally).
    pool: Vec<String>,
    /// One token the mock issued (introspection knows it), already validated by every gate.
    token: String,
    /// `Bearer <token>`.
    authorization: HeaderValue,
    /// A token of the mock bound to the setup's DPoP key, already validated by `dpop`.
    dpop_token: String,
}

/// The mock, the gates and one fixture per algorithm.
struct Setup {
    /// Runs the mock and the gates' background key loaders.
    runtime: tokio::runtime::Runtime,
    _mock: MockAuthServer,
    /// Verified-token cache of capacity 0: every validation verifies a signature.
    cold: Tollgate,
    /// Default settings (verified-token cache of 10 000 entries).
    warm: Tollgate,
    /// The same, trusting a second issuer besides the mock.
    two_issuers: Tollgate,
    _second: MockAuthServer,
    /// Default settings plus introspection at the mock.
    hybrid: Tollgate,
    sensitive: Requirement,
    /// Default settings plus DPoP, reached at `https://api.example`.
    dpop: Tollgate,
    dpop_key: tollgate_mock::dpop::DpopKey,
    /// Requests with fresh proofs for the next `dpop_hit` runs, made before they are timed.
    dpop_requests: std::cell::RefCell<Vec<Request<()>>>,
    routine: Requirement,
    /// The same small JSON route without authentication, and behind `warm.layer()`.
    plain_app: Router,
    guarded_app: Router,
    fixtures: Vec<Fixture>,
}

/// The route of the in-process HTTP variants.
async fn items() -> axum::Json<Value> {
    axum::Json(json!({ "items": [{ "id": 1, "name": "alpha" }, { "id": 2, "name": "beta" }] }))
}

/// One request through `app`, which must answer 200 without waiting.
fn http(app: &Router, authorization: &HeaderValue) {
    let request = Request::get("/api/items")
        .header(AUTHORIZATION, authorization.clone())
        .body(Body::empty())
        .expect("valid request");
    let response = now(app.clone().oneshot(request)).expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    black_box(response);
}

/// `GET https://api.example/api/items` with `Authorization: DPoP <token>` and a fresh proof.
fn dpop_request(key: &tollgate_mock::dpop::DpopKey, token: &str) -> Request<()> {
    let mut request = Request::get("/api/items").body(()).expect("valid request");
    *request.headers_mut() = key.request_headers("GET", "https://api.example/api/items", token);
    request
}

/// Polls a validation once. Everything measured here completes without waiting; a future that
/// would wait means the setup is wrong (keys not loaded, answer not cached), not a slow path.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a validation had to wait: the benchmark setup is wrong"),
    }
}

impl Setup {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let _entered = runtime.enter();
        let mock = runtime.block_on(
            MockAuthServer::builder()
                .token_lifetime(Duration::from_secs(3600))
                .start(),
        );
        // Every key exists before any gate loads the key set: no refetch during measurements.
        let kids: Vec<String> = ALGORITHMS
            .iter()
            .map(|&(alg, _)| match alg {
                Algorithm::RS256 => mock.signing_kid(),
                other => mock.add_key(other),
            })
            .collect();
        let jwks: JwkSet = serde_json::from_value(mock.jwks()).expect("the mock's JWKS parses");

        let builder = || {
            Tollgate::builder()
                .issuer(mock.issuer())
                .audience(mock.audience())
        };
        let cold = builder()
            .verified_cache_capacity(0)
            .build()
            .expect("valid configuration");
        let warm = builder().build().expect("valid configuration");
        let second = runtime.block_on(
            MockAuthServer::builder()
                .fresh_key()
                .issuer_path("/second")
                .start(),
        );
        let two_issuers = builder()
            .trust(TrustedIssuer::new(second.issuer()).audience(second.audience()))
            .build()
            .expect("valid configuration");
        let hybrid = builder()
            .introspection(Introspection::client_secret_basic(
                mock.client_id(),
                mock.client_secret(),
            ))
            .build()
            .expect("valid configuration");
        let dpop = builder()
            .public_url("https://api.example")
            .dpop(tollgate::Dpop::new().replay_capacity(1 << 20))
            .build()
            .expect("valid configuration");
        let dpop_key = tollgate_mock::dpop::DpopKey::generate();
        for gate in [&cold, &warm, &two_issuers, &hybrid, &dpop] {
            assert!(
                runtime.block_on(gate.wait_for_keys(Duration::from_secs(10))),
                "keys did not load"
            );
        }
        let sensitive = Requirement::sensitive(Duration::from_secs(60));

        let fixtures: Vec<Fixture> = ALGORITHMS
            .iter()
            .zip(&kids)
            .map(|(&(alg, name), kid)| {
                let header = json!({ "alg": name, "typ": "at+jwt", "kid": kid });
                let pool: Vec<String> = (0..POOL)
                    .map(|_| mock.sign_raw(&header, &mock.token().claims(), kid))
                    .collect();
                let token = mock.token().kid(kid).sign();
                let key = DecodingKey::from_jwk(jwks.find(kid).expect("published key"))
                    .expect("usable JWK");
                let mut validation = Validation::new(alg);
                validation.leeway = 60;
                validation.validate_nbf = true;
                validation.set_issuer(&[mock.issuer()]);
                validation.set_audience(&[mock.audience()]);
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

                // Sanity: every path accepts the tokens before anything is measured. The first
                // sensitive call asks the mock; the answer is cached for the measurements.
                jsonwebtoken::decode::<Value>(&pool[0], &key, &validation)
                    .expect("bare decode accepts the token");
                now(cold.validate(&pool[0])).expect("tollgate accepts the token");
                now(warm.validate(&token)).expect("tollgate accepts the token");
                now(two_issuers.validate(&token)).expect("tollgate accepts the token");
                now(hybrid.validate(&token)).expect("tollgate accepts the token");
                let before = mock.introspection_count();
                runtime
                    .block_on(hybrid.validate_with(&token, &sensitive))
                    .expect("introspection accepts the token");
                now(hybrid.validate_with(&token, &sensitive))
                    .expect("the introspection answer is cached");
                assert_eq!(
                    mock.introspection_count(),
                    before + 1,
                    "one introspection call"
                );

                let authorization =
                    HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
                let dpop_token = mock.token().kid(kid).dpop_bound(&dpop_key).sign();
                let request = dpop_request(&dpop_key, &dpop_token);
                now(dpop.validate_request(&request, &Requirement::routine()))
                    .expect("tollgate accepts the DPoP request");
                Fixture {
                    name,
                    key,
                    validation,
                    pool,
                    token,
                    authorization,
                    dpop_token,
                }
            })
            .collect();
        let plain_app = Router::new().route("/api/items", axum::routing::get(items));
        let guarded_app = plain_app.clone().layer(warm.layer());
        for fixture in &fixtures {
            http(&plain_app, &fixture.authorization);
            http(&guarded_app, &fixture.authorization);
        }
        Self {
            plain_app,
            guarded_app,
            runtime,
            _mock: mock,
            cold,
            warm,
            two_issuers,
            _second: second,
            hybrid,
            sensitive,
            dpop,
            dpop_key,
            dpop_requests: std::cell::RefCell::new(Vec::new()),
            routine: Requirement::routine(),
            fixtures,
        }
    }

    /// Makes `n` requests with fresh proofs for the next `dpop_hit` runs (not timed).
    fn refill(&self, fixture: &Fixture, n: usize) {
        let mut requests = self.dpop_requests.borrow_mut();
        requests.clear();
        requests.extend((0..n).map(|_| dpop_request(&self.dpop_key, &fixture.dpop_token)));
    }

    /// Makes sure the sensitive variant's introspection answer is cached and fresh: it lives
    /// for the 60 s budget, and the whole benchmark takes longer than that.
    fn prime(&self, fixture: &Fixture) {
        self.runtime
            .block_on(self.hybrid.validate_with(&fixture.token, &self.sensitive))
            .expect("introspection accepts the token");
    }

    /// Times every validation of two passes over the pool on the capacity-0 gate, so that the
    /// second pass meets tokens seen before, and fails if any was answered without a signature
    /// check. Returns the fastest single validation.
    fn verify_misses(&self, fixture: &Fixture) -> Duration {
        let mut fastest = Duration::MAX;
        let mut hits = 0;
        for token in fixture.pool.iter().chain(&fixture.pool) {
            let start = Instant::now();
            let result = now(self.cold.validate(token));
            let took = start.elapsed();
            assert!(result.is_ok(), "a pool token was refused");
            fastest = fastest.min(took);
            hits += usize::from(took < MISS_FLOOR);
        }
        assert_eq!(
            hits, 0,
            "{}: {hits} validations on the capacity-0 gate were cache hits",
            fixture.name
        );
        fastest
    }
}

/// The measured variants, in table order.
const VARIANTS: [&str; 9] = [
    "bare_decode",
    "miss",
    "hit",
    "hit_two_issuers",
    "hit_hybrid",
    "sensitive_cached",
    "http_no_auth",
    "http_routine",
    "dpop_hit",
];

/// The place of `dpop_hit` in [`VARIANTS`].
const DPOP_HIT: usize = 8;

/// Runs variant `which` once; `i` picks the pool token for the miss and bare variants.
fn run(setup: &Setup, fixture: &Fixture, which: usize, i: usize) {
    let pooled = &fixture.pool[i % fixture.pool.len()];
    match which {
        0 => {
            let data = jsonwebtoken::decode::<Value>(pooled, &fixture.key, &fixture.validation);
            black_box(data.expect("valid token"));
        }
        1 => {
            black_box(now(setup.cold.validate(pooled)).expect("valid token"));
        }
        2 => {
            black_box(now(setup.warm.validate(&fixture.token)).expect("valid token"));
        }
        3 => {
            black_box(now(setup.two_issuers.validate(&fixture.token)).expect("valid token"));
        }
        4 => {
            black_box(now(setup.hybrid.validate(&fixture.token)).expect("valid token"));
        }
        5 => {
            let principal = now(setup.hybrid.validate_with(&fixture.token, &setup.sensitive));
            black_box(principal.expect("valid token"));
        }
        6 => http(&setup.plain_app, &fixture.authorization),
        7 => http(&setup.guarded_app, &fixture.authorization),
        _ => {
            let request = setup
                .dpop_requests
                .borrow_mut()
                .pop()
                .expect("requests were made before the batch");
            let principal = now(setup.dpop.validate_request(&request, &setup.routine));
            black_box(principal.expect("valid DPoP request"));
        }
    }
}

fn criterion_benches(c: &mut Criterion, setup: &Setup) {
    for fixture in &setup.fixtures {
        let mut group = c.benchmark_group(fixture.name);
        for (which, variant) in VARIANTS.iter().enumerate() {
            group.bench_function(BenchmarkId::from_parameter(variant), |b| {
                setup.prime(fixture);
                let mut i = 0;
                if which == DPOP_HIT {
                    // A fresh proof per request, made outside the timed part.
                    b.iter_batched(
                        || setup.refill(fixture, 1),
                        |()| run(setup, fixture, which, 0),
                        criterion::BatchSize::SmallInput,
                    );
                    return;
                }
                b.iter(|| {
                    run(setup, fixture, which, i);
                    i += 1;
                });
            });
        }
        group.finish();
    }
}

/// CPU time of the calling thread: unlike wall time it does not count the time the thread
/// waited while other processes had the CPU.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Nanoseconds per call of a batch of `n` calls of variant `which`: (thread CPU, wall).
fn batch(
    setup: &Setup,
    fixture: &Fixture,
    which: usize,
    n: usize,
    offset: &mut usize,
) -> (f64, f64) {
    if which == DPOP_HIT {
        setup.refill(fixture, n);
    }
    let cpu = thread_cpu();
    let wall = Instant::now();
    for _ in 0..n {
        run(setup, fixture, which, *offset);
        *offset += 1;
    }
    let wall = wall.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu);
    #[allow(clippy::cast_precision_loss, reason = "a count of calls per batch")]
    let calls = n as f64;
    (
        cpu.as_secs_f64() * 1e9 / calls,
        wall.as_secs_f64() * 1e9 / calls,
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

/// The interleaved comparison: every variant in short batches, rotated round after round;
/// each ratio to the bare decode is taken within a round, on thread CPU time, and the median
/// over rounds reported.
fn ratios(setup: &Setup) {
    println!(
        "\nratios: {ROUNDS} interleaved rounds of ~{} ms batches per variant; per call: median thread CPU time \
         (and wall time); ratio: median (min..max) over rounds of the per-round ratio of CPU times",
        BATCH.as_millis()
    );
    println!(
        "{:<6} {:<17} {:>9} {:>9} {:>27}",
        "alg", "variant", "CPU ns", "wall ns", "ratio to bare decode"
    );
    for fixture in &setup.fixtures {
        let fastest_miss = setup.verify_misses(fixture);
        setup.prime(fixture);
        // Size each variant's batch to about BATCH.
        let mut offset = 0;
        let sizes: Vec<usize> = (0..VARIANTS.len())
            .map(|which| {
                let (per_call, _) = batch(setup, fixture, which, 500, &mut offset);
                let n = BATCH.as_secs_f64() * 1e9 / per_call.max(1.0);
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a positive count"
                )]
                let n = n.max(1.0) as usize;
                n
            })
            .collect();
        let mut cpu: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); VARIANTS.len()];
        let mut wall: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); VARIANTS.len()];
        for round in 0..ROUNDS {
            for k in 0..VARIANTS.len() {
                let which = (round + k) % VARIANTS.len();
                let (c, w) = batch(setup, fixture, which, sizes[which], &mut offset);
                cpu[which].push(c);
                wall[which].push(w);
            }
        }
        for (which, variant) in VARIANTS.iter().enumerate() {
            let mut ratios: Vec<f64> = cpu[which]
                .iter()
                .zip(&cpu[0])
                .map(|(ns, bare)| ns / bare)
                .collect();
            let (min, max) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
            let ratio = median(&mut ratios);
            println!(
                "{:<6} {:<17} {:>9.0} {:>9.0} {:>10.3}x ({:.3}..{:.3})",
                fixture.name,
                variant,
                median(&mut cpu[which].clone()),
                median(&mut wall[which].clone()),
                ratio,
                min,
                max
            );
        }
        // Within each round, as the ratios to the bare decode are.
        let mut second: Vec<f64> = cpu[3]
            .iter()
            .zip(&cpu[2])
            .map(|(two, one)| two / one)
            .collect();
        println!(
            "{:<6} a second trusted issuer on a cache hit (hit_two_issuers / hit): {:.3}x",
            fixture.name,
            median(&mut second)
        );
        let mut dpop: Vec<f64> = cpu[DPOP_HIT]
            .iter()
            .zip(&cpu[2])
            .map(|(dpop, bearer)| dpop / bearer)
            .collect();
        println!(
            "{:<6} a DPoP request beside a bearer cache hit (dpop_hit / hit): {:.3}x",
            fixture.name,
            median(&mut dpop)
        );
        let middleware = median(&mut cpu[7].clone()) - median(&mut cpu[6].clone());
        println!(
            "{:<6} the middleware in process (http_routine - http_no_auth): {middleware:.0} ns per request",
            fixture.name
        );
        println!(
            "{:<6} miss check: {} validations on the capacity-0 gate timed one by one, none under {} µs \
             (the fastest took {:.1} µs)",
            fixture.name,
            2 * fixture.pool.len(),
            MISS_FLOOR.as_micros(),
            fastest_miss.as_secs_f64() * 1e6
        );
    }
}

/// The benchmark filter, if one was given (criterion's positional argument).
fn filter() -> Option<String> {
    let mut args = std::env::args().skip(1);
    let mut found = None;
    while let Some(arg) = args.next() {
        if !arg.starts_with('-') {
            found = Some(arg);
            break;
        }
        // Criterion options that take a value: skip it.
        if matches!(
            arg.as_str(),
            "-c" | "--color"
                | "--colour"
                | "-s"
                | "--save-baseline"
                | "-b"
                | "--baseline"
                | "--baseline-lenient"
                | "--load-baseline"
                | "--sample-size"
                | "--warm-up-time"
                | "--measurement-time"
                | "--nresamples"
                | "--noise-threshold"
                | "--confidence-level"
                | "--significance-level"
                | "--profile-time"
                | "--output-format"
                | "--format"
                | "--plotting-backend"
        ) {
            args.next();
        }
    }
    found
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list" || a == "--test");
    let filter = filter();
    let setup = Setup::new();

    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &setup);
    criterion.final_summary();

    let wants_ratios = filter.as_deref().is_none_or(|f| "ratios".contains(f));
    if !listing && wants_ratios {
        ratios(&setup);
    }
}
