//! The tollgate demo: an in-process mock authorization server, an axum API protected by
//! tollgate, and a client that plays the story of hybrid validation over 127.0.0.1.
//!
//! Run with: `cargo run -p tollgate-examples --bin demo`
//!
//! Exits 0 only if every step behaved as expected. The story goes to stdout; with `RUST_LOG`
//! set (`RUST_LOG=protected_api=debug`), the API's request log goes to stderr.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // No log unless asked for: the story is the output, and its outage step would otherwise
    // interleave tollgate's warnings with it.
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    let mut out = std::io::stdout();
    match tollgate_examples::demo::run(&mut out).await {
        Ok(report) if report.succeeded() => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "demo: {} of {} checks did not behave as expected (see above)",
                report.failures().len(),
                report.checks()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
