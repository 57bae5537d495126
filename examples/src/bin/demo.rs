//! The tollgate demo: an in-process mock authorization server, an axum API protected by
//! tollgate, and a client that plays the story of hybrid validation over 127.0.0.1.
//!
//! Run with: `cargo run -p tollgate-examples --bin demo`
//!
//! Exits 0 only if every step behaved as expected.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
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
