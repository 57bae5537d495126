//! `tollgate-mock`: run the mock authorization server on its own.
//!
//! Run with: `cargo run -p tollgate-mock --features cli -- --port 9000 --alg ES256` (the `cli`
//! feature brings the command-line parser, clap, which the library does without).
//!
//! Prints the issuer URL and one example access token, then serves until Ctrl-C.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use tollgate_mock::{Algorithm, MockAuthServer};

/// The algorithms the mock can sign with: those whose public key a JWKS can publish (no HMAC).
const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// A mock OAuth 2.0 authorization server (discovery, JWKS, token, introspection, revocation)
#[derive(Parser, Debug)]
#[command(name = "tollgate-mock")]
struct Options {
    /// Port to listen on; 0 picks a free one
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Address to listen on; anything but loopback exposes the mock to the network
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Audience of issued tokens
    #[arg(long, value_name = "AUD", default_value = "https://api.tollgate.test")]
    audience: String,
    /// Registered client id
    #[arg(long, value_name = "ID", default_value = "tollgate-rs")]
    client_id: String,
    /// Its secret (the mock prints it: it guards nothing real)
    #[arg(long, value_name = "SECRET", default_value = "tollgate-secret")]
    client_secret: String,
    /// Signing algorithm
    #[arg(
        long,
        value_name = "ALG",
        default_value = "RS256",
        value_parser = PossibleValuesParser::new(ALGORITHMS).try_map(|alg| alg.parse::<Algorithm>())
    )]
    alg: Algorithm,
    /// Cache-Control of the JWKS
    #[arg(long, value_name = "VALUE", default_value = "max-age=300")]
    jwks_cache_control: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    // `--help` exits 0, a mistake exits 2, both as clap does.
    let options = Options::parse();
    let builder = MockAuthServer::builder()
        .port(options.port)
        .host(options.host)
        .audience(options.audience)
        .client(options.client_id, options.client_secret)
        .signing_algorithm(options.alg)
        .jwks_cache_control(options.jwks_cache_control);
    let server = builder.start().await;

    println!("issuer:         {}", server.issuer());
    println!("jwks_uri:       {}", server.jwks_uri());
    println!("token:          {}", server.token_endpoint());
    println!("introspection:  {}", server.introspection_endpoint());
    println!("revocation:     {}", server.revocation_endpoint());
    println!(
        "client:         {} (secret: {})",
        server.client_id(),
        server.client_secret()
    );
    println!("audience:       {}", server.audience());
    println!();
    let example = server.token();
    let claims = example.claims();
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    println!("example access token (sub alice, scope read, valid {lifetime} s):");
    println!("{}", example.sign());
    println!();
    println!("serving until Ctrl-C");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("tollgate-mock: cannot wait for Ctrl-C: {e}");
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
