//! `tollgate-mock`: run the mock authorization server on its own.
//!
//! Run with: `cargo run -p tollgate-mock -- --port 9000 --alg ES256`
//!
//! Prints the issuer URL and one example access token, then serves until Ctrl-C.

use std::net::IpAddr;
use std::process::ExitCode;

use tollgate_mock::{Algorithm, MockAuthServer, MockAuthServerBuilder};

const USAGE: &str = "\
Usage: tollgate-mock [OPTIONS]

A mock OAuth 2.0 authorization server (discovery, JWKS, token, introspection, revocation).

Options:
  --port <PORT>                 port to listen on (default 9000; 0 picks a free one)
  --host <IP>                   address to listen on (default 127.0.0.1; anything else exposes
                                the mock to the network)
  --audience <AUD>              audience of issued tokens (default https://api.tollgate.test)
  --client-id <ID>              registered client id (default tollgate-rs)
  --client-secret <SECRET>      its secret (default tollgate-secret)
  --alg <RS256|ES256|EdDSA>     signing algorithm (default RS256; also RS384/512, PS256/384/512, ES384)
  --jwks-cache-control <VALUE>  Cache-Control of the JWKS (default max-age=300)
  -h, --help                    print this help
";

/// What the command line asked for.
struct Options {
    builder: MockAuthServerBuilder,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        builder: MockAuthServer::builder().port(9000),
        client_id: None,
        client_secret: None,
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        // Both `--flag value` and `--flag=value`.
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        let b = options.builder;
        options.builder = match name.as_str() {
            "--port" => b.port(value()?.parse().map_err(|_| "--port: not a port number")?),
            "--host" => b.host(
                value()?
                    .parse::<IpAddr>()
                    .map_err(|_| "--host: not an IP address")?,
            ),
            "--audience" => b.audience(value()?),
            "--jwks-cache-control" => b.jwks_cache_control(value()?),
            "--alg" => {
                let alg: Algorithm = value()?.parse().map_err(|_| "--alg: unknown algorithm")?;
                if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                    return Err("--alg: HMAC keys cannot be published in a JWKS".into());
                }
                b.signing_algorithm(alg)
            }
            "--client-id" => {
                options.client_id = Some(value()?);
                b
            }
            "--client-secret" => {
                options.client_secret = Some(value()?);
                b
            }
            _ => return Err(format!("unknown option {name}")),
        };
    }
    Ok(Some(options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("tollgate-mock: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = options.builder;
    if options.client_id.is_some() || options.client_secret.is_some() {
        builder = builder.client(
            options.client_id.unwrap_or_else(|| "tollgate-rs".into()),
            options
                .client_secret
                .unwrap_or_else(|| "tollgate-secret".into()),
        );
    }
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
