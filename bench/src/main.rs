//! tollgate's load benchmark, memory check and unknown-`kid` flood check (BENCHMARKS.md).
//!
//! Run with: `bench/run.sh [load|memory|flood|all] [options]` (`--help` lists the options).
//!
//! Everything runs in this one process, on 127.0.0.1 only: the mock authorization server, one
//! server per configuration of the same axum application, and the load generator. On a
//! 2-core machine the server side (application servers and mock) is pinned to the first CPU
//! and the load generator to the second, each on a one-thread tokio runtime, so that the
//! rows compete for the same, fixed share of the machine.

mod allocs;
mod apps;
mod bare;
mod load;
mod memory;
mod sys;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apps::Kind;
use hdrhistogram::Histogram;
use tollgate_mock::{Algorithm, MockAuthServer};

/// Command-line options.
#[derive(Clone, Debug)]
pub struct Options {
    pub command: String,
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub connections: usize,
    pub tokens: Option<usize>,
    /// Distinct tokens the pool rows cycle through.
    pub pool: usize,
    pub alg: Algorithm,
    pub rows: Vec<Kind>,
    pub pin: bool,
    pub capacity: Option<u64>,
    /// Send the no-auth rows no `Authorization` header (by default they get the same request).
    pub bare_baseline: bool,
}

const HELP: &str = "\
usage: bench/run.sh [load|memory|flood|all] [options]

load (default): the same axum JSON app without auth, behind tollgate and behind each peer,
    driven in interleaved rounds; prints requests/s, latency and ratios.
memory: resident memory after N distinct valid tokens pass through one tollgate.
flood: N requests with unknown `kid`s, and the JWKS fetches they cause.

options:
  --duration SECS     measured time per row and round (load; default 5)
  --warmup SECS       warm-up per row and round (load; default 1)
  --rounds N          interleaved rounds (load; default 3)
  --connections N     keep-alive connections (load, flood; default 32)
  --tokens N          load: distinct tokens, one per connection in turn (default: connections);
                      memory: tokens validated (default 1000000); flood: requests (default 100000)
  --pool N            load: distinct tokens the pool rows (pool, miss, jsonwebtoken) cycle
                      through, each connection its share in turn (default 1000; the miss
                      row's verified-token cache holds 256)
  --alg ALG           RS256, ES256 or EdDSA (load default RS256; memory and flood ES256)
  --rows a,b,...      load rows: none, none-layer, none07, routine, routine-route, pool, miss, nocache,
                      sensitive, sensitive-layer, live, jsonwebtoken, jwt-authorizer,
                      tower-oauth2, oauth-rs (default: all)
  --capacity N        memory: verified_cache_capacity (default: tollgate's default, 10000)
  --no-pin            do not pin the server and the load generator to separate CPUs
  --bare-baseline     load: send the no-auth rows no Authorization header (by default every
                      row gets the same requests, token included, so only the middleware differs)
";

fn parse_options() -> Options {
    let mut options = Options {
        command: "load".into(),
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
        rounds: 3,
        connections: 32,
        tokens: None,
        pool: 1000,
        alg: Algorithm::RS256,
        rows: Kind::ALL.to_vec(),
        pin: true,
        capacity: None,
        bare_baseline: false,
    };
    let mut alg_given = false;
    let mut args = std::env::args().skip(1);
    let fail = |message: String| -> ! {
        eprintln!("{message}\n\n{HELP}");
        std::process::exit(2);
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| -> u64 {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| fail(format!("{name}: not a number: {v}")))
        };
        match arg.as_str() {
            "load" | "memory" | "flood" | "all" => options.command = arg,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--duration" => options.duration = Duration::from_secs(number(&arg, value(&arg))),
            "--warmup" => options.warmup = Duration::from_secs(number(&arg, value(&arg))),
            "--rounds" => options.rounds = number(&arg, value(&arg)).max(1) as usize,
            "--connections" => options.connections = number(&arg, value(&arg)).max(1) as usize,
            "--tokens" => options.tokens = Some(number(&arg, value(&arg)).max(1) as usize),
            "--pool" => options.pool = number(&arg, value(&arg)).max(1) as usize,
            "--capacity" => options.capacity = Some(number(&arg, value(&arg))),
            "--alg" => {
                alg_given = true;
                options.alg = match value(&arg).as_str() {
                    "RS256" => Algorithm::RS256,
                    "ES256" => Algorithm::ES256,
                    "EdDSA" => Algorithm::EdDSA,
                    other => fail(format!("unsupported --alg {other}")),
                };
            }
            "--rows" => {
                let list = value(&arg);
                options.rows = list
                    .split(',')
                    .map(|key| {
                        Kind::ALL
                            .into_iter()
                            .find(|k| k.key() == key)
                            .unwrap_or_else(|| fail(format!("unknown row {key}")))
                    })
                    .collect();
            }
            "--no-pin" => options.pin = false,
            "--bare-baseline" => options.bare_baseline = true,
            other => fail(format!("unknown argument {other}")),
        }
    }
    if !alg_given && options.command != "load" {
        options.alg = Algorithm::ES256;
    }
    options
}

fn main() {
    let options = parse_options();
    print_machine();
    match options.command.as_str() {
        "load" => run_load(&options),
        "memory" => memory::memory(&options),
        "flood" => memory::flood(&options),
        _ => {
            run_load(&options);
            memory::memory(&options);
            memory::flood(&options);
        }
    }
}

/// The machine, as BENCHMARKS.md reports it.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!(
        "machine: {} CPUs available ({model}); build: release",
        sys::cpus()
    );
}

/// CPU placement: the server side on CPU 0, the load generator on CPU 1.
pub struct Placement {
    pub server: Option<usize>,
    pub load: Option<usize>,
}

impl Placement {
    pub fn new(options: &Options) -> Self {
        if options.pin && sys::cpus() >= 2 {
            Placement {
                server: Some(0),
                load: Some(1),
            }
        } else {
            Placement {
                server: None,
                load: None,
            }
        }
    }

    pub fn describe(&self) -> &'static str {
        if self.server.is_some() {
            "server side (apps + mock AS) pinned to CPU 0, load generator to CPU 1, one tokio worker each"
        } else {
            "not pinned; one tokio worker each for the server side (apps + mock AS) and the load generator"
        }
    }
}

/// Starts the mock authorization server on its own runtime.
pub fn start_mock(
    core: Option<usize>,
    alg: Algorithm,
) -> (tokio::runtime::Runtime, sys::Threads, MockAuthServer) {
    let (runtime, threads) = sys::runtime("mock-as", core);
    let mock = runtime.block_on(
        MockAuthServer::builder()
            .signing_algorithm(alg)
            .token_lifetime(Duration::from_secs(4 * 3600))
            .start(),
    );
    (runtime, threads, mock)
}

/// Sums over the rounds of one row.
struct RowTotals {
    completed: u64,
    unexpected: u64,
    errors: u64,
    window: Duration,
    latency: Histogram<u64>,
    per_round: Vec<f64>,
    server_cpu: Duration,
    mock_cpu: Duration,
    load_cpu: Duration,
    introspections: usize,
}

fn run_load(options: &Options) {
    let placement = Placement::new(options);
    let (_mock_rt, mock_threads, mock) = start_mock(placement.server, options.alg);
    let (server_rt, server_threads) = sys::runtime("server", placement.server);
    let (load_rt, load_threads) = sys::runtime("load", placement.load);

    let token_count = options.tokens.unwrap_or(options.connections);
    // Issued through the mock, so introspection knows them; the same tokens for every row.
    let tokens: Vec<String> = (0..token_count).map(|_| mock.token().sign()).collect();
    let pool: Vec<String> = if options.rows.iter().any(|k| k.uses_pool()) {
        (0..options.pool).map(|_| mock.token().sign()).collect()
    } else {
        Vec::new()
    };
    let rows = options.rows.clone();
    let mut addrs: HashMap<Kind, SocketAddr> = HashMap::new();
    for &kind in &rows {
        let addr = server_rt.block_on(apps::start(kind, &mock));
        addrs.insert(kind, addr);
    }
    let requests = |kind: Kind| -> Vec<Vec<Arc<[u8]>>> {
        let addr = addrs[&kind];
        let token = |i: usize| {
            (!options.bare_baseline || !kind.is_baseline())
                .then(|| tokens[i % tokens.len()].as_str())
        };
        if kind.uses_pool() {
            // Connection c sends pool tokens c, c + connections, ... in turn.
            return (0..options.connections)
                .map(|c| {
                    pool.iter()
                        .skip(c)
                        .step_by(options.connections)
                        .map(|t| load::request(addr, apps::PATH, Some(t)))
                        .collect()
                })
                .collect();
        }
        (0..options.connections)
            .map(|c| vec![load::request(addr, apps::PATH, token(c))])
            .collect()
    };

    // Every server accepts every token before anything is measured.
    for &kind in &rows {
        let addr = addrs[&kind];
        let all: Vec<Vec<Arc<[u8]>>> = vec![
            tokens
                .iter()
                .chain(pool.iter().filter(|_| kind.uses_pool()))
                .map(|t| {
                    let token =
                        (!options.bare_baseline || !kind.is_baseline()).then_some(t.as_str());
                    load::request(addr, apps::PATH, token)
                })
                .collect(),
        ];
        let check = load_rt.block_on(load::drive(
            addr,
            all,
            200,
            load::Plan::Once {
                pace: Duration::ZERO,
            },
        ));
        assert!(
            check.errors == 0 && check.unexpected == 0,
            "{}: {} of {} check requests failed or were refused",
            kind.label(),
            check.errors + check.unexpected,
            tokens.len()
        );
    }

    let per_run = options.warmup + options.duration;
    let total = per_run * u32::try_from(rows.len() * options.rounds).unwrap_or(u32::MAX);
    println!(
        "load: {} rows x {} rounds x ({} s warm-up + {} s measured), {} connections, {} distinct {:?} tokens; about {} s",
        rows.len(),
        options.rounds,
        options.warmup.as_secs(),
        options.duration.as_secs(),
        options.connections,
        tokens.len(),
        options.alg,
        total.as_secs()
    );
    println!("placement: {}", placement.describe());

    let mut totals: HashMap<Kind, RowTotals> = HashMap::new();
    let started = Instant::now();
    // Nothing here may run for much longer than planned.
    let hard_limit = total * 2 + Duration::from_secs(60);
    for round in 0..options.rounds {
        for k in 0..rows.len() {
            let kind = rows[(round + k) % rows.len()];
            assert!(
                started.elapsed() < hard_limit,
                "the load benchmark overran its time bound"
            );
            let run = load_rt.spawn(load::drive(
                addrs[&kind],
                requests(kind),
                200,
                load::Plan::Timed {
                    warmup: options.warmup,
                    measure: options.duration,
                },
            ));
            let begin = Instant::now();
            std::thread::sleep(options.warmup);
            let sample = |_: ()| {
                (
                    server_threads.cpu(),
                    mock_threads.cpu(),
                    load_threads.cpu(),
                    mock.introspection_count(),
                )
            };
            let before = sample(());
            std::thread::sleep((begin + per_run).saturating_duration_since(Instant::now()));
            let after = sample(());
            let outcome = load_rt.block_on(run).expect("load run");
            let row = totals.entry(kind).or_insert_with(|| RowTotals {
                completed: 0,
                unexpected: 0,
                errors: 0,
                window: Duration::ZERO,
                latency: Histogram::new_from(&outcome.latency),
                per_round: Vec::new(),
                server_cpu: Duration::ZERO,
                mock_cpu: Duration::ZERO,
                load_cpu: Duration::ZERO,
                introspections: 0,
            });
            row.completed += outcome.completed;
            row.unexpected += outcome.unexpected;
            row.errors += outcome.errors;
            row.window += outcome.window;
            row.latency.add(&outcome.latency).expect("same bounds");
            row.per_round.push(outcome.per_second());
            row.server_cpu += after.0.saturating_sub(before.0);
            row.mock_cpu += after.1.saturating_sub(before.1);
            row.load_cpu += after.2.saturating_sub(before.2);
            row.introspections += after.3 - before.3;
            eprintln!(
                "  round {}/{}: {:<26} {:>9.0} req/s",
                round + 1,
                options.rounds,
                kind.label(),
                outcome.per_second()
            );
        }
    }
    // Allocations per request, in an untimed pass of its own (counting costs a little): every
    // thread of the process counts, the load generator's included, which is the same for every
    // row, so a row's difference to its no-auth row is what its middleware allocates.
    let mut allocations: HashMap<Kind, f64> = HashMap::new();
    for &kind in &rows {
        let lists: Vec<Vec<Arc<[u8]>>> = requests(kind)
            .into_iter()
            .map(|list| {
                let n = list.len().max(ALLOCATION_PASS);
                list.into_iter().cycle().take(n).collect()
            })
            .collect();
        let sent: usize = lists.iter().map(Vec::len).sum();
        // An uncounted pass first: the timed rounds may have outlived a sensitive row's cached
        // answers, and their renewal (an introspection call each) is not what is counted.
        let warm = load_rt.block_on(load::drive(
            addrs[&kind],
            lists.clone(),
            200,
            load::Plan::Once {
                pace: Duration::ZERO,
            },
        ));
        assert!(warm.errors == 0 && warm.unexpected == 0);
        let (outcome, count) = allocs::counted(|| {
            load_rt.block_on(load::drive(
                addrs[&kind],
                lists,
                200,
                load::Plan::Once {
                    pace: Duration::ZERO,
                },
            ))
        });
        assert!(
            outcome.errors == 0 && outcome.unexpected == 0,
            "{}: the allocation pass had failures",
            kind.label()
        );
        allocations.insert(kind, count as f64 / sent.max(1) as f64);
    }
    print_load_table(options, &rows, &totals, &allocations);
}

/// Requests per connection in the allocation pass (at least).
const ALLOCATION_PASS: usize = 64;

fn print_load_table(
    options: &Options,
    rows: &[Kind],
    totals: &HashMap<Kind, RowTotals>,
    allocations: &HashMap<Kind, f64>,
) {
    let rate = |kind: Kind| {
        totals
            .get(&kind)
            .map(|t| t.completed as f64 / t.window.as_secs_f64())
    };
    println!(
        "\n{} connections, {:?} tokens, {} rounds of {} s; latency in µs; CPU in µs per request",
        options.connections,
        options.alg,
        options.rounds,
        options.duration.as_secs()
    );
    println!(
        "| configuration | req/s | vs no auth | rounds min..max | p50 | p99 | server CPU/req | vs no auth by CPU | server busy | AS CPU/req | load gen busy | introspections/req | allocations/req (vs no auth) | p99 vs no auth | non-200 + errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &kind in rows {
        let Some(t) = totals.get(&kind) else { continue };
        let rps = t.completed as f64 / t.window.as_secs_f64();
        let ratio = rate(kind.baseline()).map_or("n/a".to_owned(), |base| {
            let marker = if kind.baseline() == Kind::NoAuth07 {
                " (0.7)"
            } else {
                ""
            };
            format!("{:.3}{marker}", rps / base)
        });
        let (lo, hi) = t
            .per_round
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        let per_req = |d: Duration| d.as_secs_f64() * 1e6 / t.completed.max(1) as f64;
        // The throughput ratio a saturated server would show: baseline CPU per request over
        // this row's. Steadier than requests/s when other processes take CPU time.
        let by_cpu = totals
            .get(&kind.baseline())
            .map_or("n/a".to_owned(), |base| {
                let base = base.server_cpu.as_secs_f64() / base.completed.max(1) as f64;
                format!(
                    "{:.3}",
                    base / (t.server_cpu.as_secs_f64() / t.completed.max(1) as f64)
                )
            });
        let busy = |d: Duration| 100.0 * d.as_secs_f64() / t.window.as_secs_f64();
        let introspections = if kind.introspects() {
            format!("{:.3}", t.introspections as f64 / t.completed.max(1) as f64)
        } else {
            format!("{}", t.introspections)
        };
        let allocs = allocations.get(&kind).map_or("n/a".to_owned(), |a| {
            allocations
                .get(&kind.baseline())
                .map_or(format!("{a:.1}"), |base| format!("{a:.1} ({:+.1})", a - base))
        });
        let p99 = |t: &RowTotals| t.latency.value_at_quantile(0.99) as f64;
        let p99_ratio = totals
            .get(&kind.baseline())
            .map_or("n/a".to_owned(), |base| format!("{:.2}", p99(t) / p99(base)));
        println!(
            "| {} | {:.0} | {} | {:.0}..{:.0} | {:.0} | {:.0} | {:.1} | {} | {:.0} % | {:.1} | {:.0} % | {} | {} | {} | {} |",
            kind.label(),
            rps,
            ratio,
            lo,
            hi,
            t.latency.value_at_quantile(0.50) as f64 / 1e3,
            t.latency.value_at_quantile(0.99) as f64 / 1e3,
            per_req(t.server_cpu),
            by_cpu,
            busy(t.server_cpu),
            per_req(t.mock_cpu),
            busy(t.load_cpu),
            introspections,
            allocs,
            p99_ratio,
            t.unexpected + t.errors,
        );
    }
    println!(
        "\nvs no auth: requests/s relative to the no-auth server on the same axum version ((0.7): axum 0.7).\n\
         server CPU/req: CPU time of the server runtime's thread per request; vs no auth by CPU: the\n\
         no-auth row's CPU/req over this row's, the throughput ratio of a saturated server; server busy: that time over\n\
         the measured wall time (100 % = the server's CPU is saturated). AS CPU/req: the mock authorization\n\
         server's thread, which shares CPU 0 with the servers. introspections/req: calls counted at the mock\n\
         (a plain count for rows that should make none). allocations/req: heap allocations per request\n\
         in an untimed pass, every thread counted (the load generator's too, alike for every row), and\n\
         in parentheses the difference to the no-auth row: what the middleware allocates. p99 vs no\n\
         auth: this row's 99th-percentile latency over the no-auth row's. Pool rows cycle through\n\
         --pool distinct tokens; the pool > cache row's verified-token cache holds 256 of them."
    );
}
