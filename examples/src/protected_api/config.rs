//! The command line and environment of `protected-api`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// The help text of `protected-api`.
pub const USAGE: &str = "\
Usage: protected-api [OPTIONS]

A small API protected by tollgate, for trying it against an authorization server.
Without --issuer it starts an embedded tollgate-mock and prints a ready-to-use curl line.

Options (each also read from the environment variable in brackets; a flag wins):
  --listen ADDR                        address to serve on (default 127.0.0.1:8080) [TOLLGATE_LISTEN]
  --issuer URL                         the authorization server's issuer identifier; keys are
                                       found through its metadata [TOLLGATE_ISSUER]
  --audience AUD                       an audience this API answers to; repeatable (the variable
                                       takes a comma-separated list). Required with --issuer;
                                       default https://api.tollgate.test otherwise [TOLLGATE_AUDIENCE]
  --introspection-client-id ID         this API's client id at the AS, for RFC 7662 introspection
                                       [TOLLGATE_INTROSPECTION_CLIENT_ID]
  --introspection-client-secret SECRET its secret (client_secret_basic); prefer the variable, a
                                       flag shows in the process list
                                       [TOLLGATE_INTROSPECTION_CLIENT_SECRET]
  --introspection-endpoint URL         the introspection endpoint, when the AS metadata does not
                                       name one [TOLLGATE_INTROSPECTION_ENDPOINT]
  --jwks-uri URL                       fetch the keys from here instead of discovering them
                                       (then set --introspection-endpoint too) [TOLLGATE_JWKS_URI]
  --freshness SECONDS                  how old an introspection answer may be on sensitive routes
                                       (default 0: ask on every request) [TOLLGATE_FRESHNESS]
  --allow-untyped-tokens               accept `typ: JWT` or no typ, and relax RFC 9068's required
                                       claims (Keycloak, Entra ID, Okta, Cognito, Auth0); weakens
                                       security [TOLLGATE_ALLOW_UNTYPED_TOKENS=true]
  --accept-scp-claim                   read scopes from an `scp` claim or a `scope` array
                                       [TOLLGATE_ACCEPT_SCP_CLAIM=true]
  -h, --help                           print this help

Routes:
  GET    /health             no token needed
  GET    /me                 any valid token; answers the principal as JSON
  GET    /photos             scope read (routine: validated locally)
  POST   /admin/users        scope admin (sensitive: introspected)
  DELETE /admin/users/{id}   scope admin (sensitive: introspected)
  POST   /payments           scope payments (sensitive: introspected)

Logs (stderr, RUST_LOG, default info): one line per request with method, path, status and
tollgate's decision; never a token.
";

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The configuration of `protected-api`, from its flags and environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen. `--listen`, `TOLLGATE_LISTEN`; defaults to 127.0.0.1:8080.
    pub listen: SocketAddr,
    /// The issuer to trust; `None` starts an embedded tollgate-mock. `--issuer`,
    /// `TOLLGATE_ISSUER`.
    pub issuer: Option<String>,
    /// The audiences this API answers to. `--audience` (repeatable), `TOLLGATE_AUDIENCE`
    /// (comma-separated). Empty means the embedded mock's default audience.
    pub audiences: Vec<String>,
    /// Client id for introspection. `--introspection-client-id`,
    /// `TOLLGATE_INTROSPECTION_CLIENT_ID`.
    pub introspection_client_id: Option<String>,
    /// Client secret for introspection. `--introspection-client-secret`,
    /// `TOLLGATE_INTROSPECTION_CLIENT_SECRET`. Never shown by `Debug`.
    pub introspection_client_secret: Option<String>,
    /// An explicit introspection endpoint. `--introspection-endpoint`,
    /// `TOLLGATE_INTROSPECTION_ENDPOINT`.
    pub introspection_endpoint: Option<String>,
    /// An explicit JWKS URI. `--jwks-uri`, `TOLLGATE_JWKS_URI`.
    pub jwks_uri: Option<String>,
    /// Freshness budget of the sensitive routes. `--freshness`, `TOLLGATE_FRESHNESS`;
    /// defaults to zero.
    pub freshness: Duration,
    /// Compatibility switch `--allow-untyped-tokens`, `TOLLGATE_ALLOW_UNTYPED_TOKENS`.
    pub allow_untyped_tokens: bool,
    /// Compatibility switch `--accept-scp-claim`, `TOLLGATE_ACCEPT_SCP_CLAIM`.
    pub accept_scp_claim: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            audiences: Vec::new(),
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_endpoint: None,
            jwks_uri: None,
            freshness: Duration::ZERO,
            allow_untyped_tokens: false,
            accept_scp_claim: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of Debug output.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("introspection_client_id", &self.introspection_client_id)
            .field(
                "introspection_client_secret",
                &self
                    .introspection_client_secret
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field("introspection_endpoint", &self.introspection_endpoint)
            .field("jwks_uri", &self.jwks_uri)
            .field("freshness", &self.freshness)
            .field("allow_untyped_tokens", &self.allow_untyped_tokens)
            .field("accept_scp_claim", &self.accept_scp_claim)
            .finish()
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve with this configuration.
    Run(Config),
    /// Print [`USAGE`] and exit.
    Help,
}

/// A command line or environment that cannot be used: the message says which value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

impl Config {
    /// Reads the configuration from `args` (without the program name) and the environment
    /// through `env` (`|name| std::env::var(name).ok()` in the binary; tests pass their own).
    /// Flags win over variables; an empty variable counts as unset.
    ///
    /// Both `--flag value` and `--flag=value` work; the switches also take `=true`/`=false`.
    ///
    /// # Errors
    /// A [`UsageError`] naming the flag or variable at fault.
    pub fn parse<I, F>(args: I, env: F) -> Result<Command, UsageError>
    where
        I: IntoIterator<Item = String>,
        F: Fn(&str) -> Option<String>,
    {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut config = Config::default();

        // The environment first; flags then overwrite what they name.
        if let Some(v) = env("TOLLGATE_LISTEN") {
            config.listen = parse_addr(&v, "TOLLGATE_LISTEN")?;
        }
        config.issuer = env("TOLLGATE_ISSUER");
        if let Some(v) = env("TOLLGATE_AUDIENCE") {
            config.audiences = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        config.introspection_client_id = env("TOLLGATE_INTROSPECTION_CLIENT_ID");
        config.introspection_client_secret = env("TOLLGATE_INTROSPECTION_CLIENT_SECRET");
        config.introspection_endpoint = env("TOLLGATE_INTROSPECTION_ENDPOINT");
        config.jwks_uri = env("TOLLGATE_JWKS_URI");
        if let Some(v) = env("TOLLGATE_FRESHNESS") {
            config.freshness = parse_seconds(&v, "TOLLGATE_FRESHNESS")?;
        }
        if let Some(v) = env("TOLLGATE_ALLOW_UNTYPED_TOKENS") {
            config.allow_untyped_tokens = parse_bool(&v, "TOLLGATE_ALLOW_UNTYPED_TOKENS")?;
        }
        if let Some(v) = env("TOLLGATE_ACCEPT_SCP_CLAIM") {
            config.accept_scp_claim = parse_bool(&v, "TOLLGATE_ACCEPT_SCP_CLAIM")?;
        }

        let mut flag_audiences = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(Command::Help);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            // Switches take no value, except an inline `=true`/`=false`.
            match name.as_str() {
                "--allow-untyped-tokens" => {
                    config.allow_untyped_tokens = inline
                        .as_deref()
                        .map_or(Ok(true), |v| parse_bool(v, &name))?;
                    continue;
                }
                "--accept-scp-claim" => {
                    config.accept_scp_claim = inline
                        .as_deref()
                        .map_or(Ok(true), |v| parse_bool(v, &name))?;
                    continue;
                }
                _ => {}
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| usage(format!("{name} needs a value")))
            };
            match name.as_str() {
                "--listen" => config.listen = parse_addr(&value()?, &name)?,
                "--issuer" => config.issuer = Some(non_empty(value()?, &name)?),
                "--audience" => flag_audiences.push(non_empty(value()?, &name)?),
                "--introspection-client-id" => {
                    config.introspection_client_id = Some(non_empty(value()?, &name)?);
                }
                "--introspection-client-secret" => {
                    config.introspection_client_secret = Some(non_empty(value()?, &name)?);
                }
                "--introspection-endpoint" => {
                    config.introspection_endpoint = Some(non_empty(value()?, &name)?);
                }
                "--jwks-uri" => config.jwks_uri = Some(non_empty(value()?, &name)?),
                "--freshness" => config.freshness = parse_seconds(&value()?, &name)?,
                _ => return Err(usage(format!("unknown option {name} (see --help)"))),
            }
        }
        if !flag_audiences.is_empty() {
            config.audiences = flag_audiences;
        }
        config.check()?;
        Ok(Command::Run(config))
    }

    /// The combinations that cannot work.
    fn check(&self) -> Result<(), UsageError> {
        match (
            &self.introspection_client_id,
            &self.introspection_client_secret,
        ) {
            (Some(_), None) => {
                return Err(usage(
                    "--introspection-client-id needs --introspection-client-secret too",
                ));
            }
            (None, Some(_)) => {
                return Err(usage(
                    "--introspection-client-secret needs --introspection-client-id too",
                ));
            }
            _ => {}
        }
        if self.issuer.is_some() {
            if self.audiences.is_empty() {
                return Err(usage(
                    "--audience is required with --issuer (the `aud` your tokens carry for this API)",
                ));
            }
        } else if self.jwks_uri.is_some() || self.introspection_endpoint.is_some() {
            return Err(usage(
                "--jwks-uri and --introspection-endpoint need --issuer (the embedded mock knows its own)",
            ));
        }
        Ok(())
    }
}

fn non_empty(value: String, name: &str) -> Result<String, UsageError> {
    if value.trim().is_empty() {
        Err(usage(format!("{name}: the value is empty")))
    } else {
        Ok(value)
    }
}

fn parse_addr(value: &str, name: &str) -> Result<SocketAddr, UsageError> {
    value.trim().parse().map_err(|_| {
        usage(format!(
            "{name}: {value:?} is not an address like 127.0.0.1:8080"
        ))
    })
}

fn parse_seconds(value: &str, name: &str) -> Result<Duration, UsageError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| {
            usage(format!(
                "{name}: {value:?} is not a whole number of seconds"
            ))
        })
}

fn parse_bool(value: &str, name: &str) -> Result<bool, UsageError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(usage(format!("{name}: {value:?} is not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Command, UsageError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::parse(args.iter().map(|s| (*s).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn run(args: &[&str], env: &[(&str, &str)]) -> Config {
        match parse(args, env) {
            Ok(Command::Run(config)) => config,
            other => panic!("expected a configuration, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(run(&[], &[]), Config::default());
        assert_eq!(Config::default().listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn flags() {
        let config = run(
            &[
                "--listen=127.0.0.1:0",
                "--issuer",
                "https://as.example",
                "--audience",
                "a",
                "--audience=b",
                "--introspection-client-id",
                "api",
                "--introspection-client-secret",
                "s3cret",
                "--freshness",
                "5",
                "--allow-untyped-tokens",
                "--accept-scp-claim=true",
            ],
            &[],
        );
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.issuer.as_deref(), Some("https://as.example"));
        assert_eq!(config.audiences, ["a", "b"]);
        assert_eq!(config.freshness, Duration::from_secs(5));
        assert!(config.allow_untyped_tokens && config.accept_scp_claim);
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn environment_and_precedence() {
        let env = [
            ("TOLLGATE_ISSUER", "https://env.example"),
            ("TOLLGATE_AUDIENCE", "x, y"),
            ("TOLLGATE_FRESHNESS", "7"),
            ("TOLLGATE_ACCEPT_SCP_CLAIM", "yes"),
            ("TOLLGATE_LISTEN", ""),
        ];
        let config = run(&[], &env);
        assert_eq!(config.issuer.as_deref(), Some("https://env.example"));
        assert_eq!(config.audiences, ["x", "y"]);
        assert_eq!(config.freshness, Duration::from_secs(7));
        assert!(config.accept_scp_claim);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);

        let config = run(
            &[
                "--audience",
                "z",
                "--freshness",
                "0",
                "--issuer",
                "https://flag.example",
            ],
            &env,
        );
        assert_eq!(config.audiences, ["z"]);
        assert_eq!(config.freshness, Duration::ZERO);
        assert_eq!(config.issuer.as_deref(), Some("https://flag.example"));
    }

    #[test]
    fn mistakes_are_named() {
        let cases: [(&[&str], &str); 7] = [
            (&["--bogus"], "unknown option --bogus"),
            (&["--listen"], "--listen needs a value"),
            (&["--listen", "localhost"], "--listen"),
            (&["--freshness", "-1"], "--freshness"),
            (
                &["--issuer", "https://as.example"],
                "--audience is required",
            ),
            (
                &["--introspection-client-id", "api"],
                "--introspection-client-secret",
            ),
            (&["--jwks-uri", "https://as.example/jwks"], "need --issuer"),
        ];
        for (args, expected) in cases {
            let error = parse(args, &[]).unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        let error = parse(&[], &[("TOLLGATE_ALLOW_UNTYPED_TOKENS", "maybe")]).unwrap_err();
        assert!(error.to_string().contains("TOLLGATE_ALLOW_UNTYPED_TOKENS"));
        assert_eq!(
            parse(&["--freshness", "1", "--help"], &[]).unwrap(),
            Command::Help
        );
        assert_eq!(parse(&["-h"], &[]).unwrap(), Command::Help);
    }
}
