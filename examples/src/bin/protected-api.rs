//! A small API protected by tollgate, for trying it against a real authorization server.
//!
//! Run with: `cargo run -p tollgate-examples --bin protected-api` (an embedded mock
//! authorization server, zero configuration), or
//! `cargo run -p tollgate-examples --bin protected-api -- --issuer URL --audience AUD ...`;
//! `--help` lists every flag and its environment variable.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use tollgate_examples::protected_api::{self, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // `--help` exits 0, a mistake exits 2, both as clap does.
    let config = Config::from_command_line();

    // Request lines at INFO; tollgate's own WARNs about the AS or its keys show too.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let server = match protected_api::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("protected-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = server.write_banner(&mut std::io::stdout()) {
        eprintln!("protected-api: cannot print the banner: {e}");
    }
    // The service starts while the AS is unreachable; say so instead of failing.
    if !server.ready(Duration::from_secs(10)).await {
        eprintln!(
            "protected-api: the signing keys are not loaded yet (is {} reachable?); requests \
             get 503 with Retry-After until they are",
            server.issuer()
        );
    }
    println!("\nserving until Ctrl-C");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("protected-api: cannot wait for Ctrl-C: {e}");
    }
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("protected-api: {e}");
            ExitCode::FAILURE
        }
    }
}
