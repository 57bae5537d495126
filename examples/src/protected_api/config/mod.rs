//! The command line and environment of `protected-api`, read by clap.
//!
//! [`Config`] is the clap parser itself. Its options come in groups ([`Trust`],
//! [`IntrospectionConfig`], [`Compatibility`]), each flattened into it and shown under its own
//! heading in `--help`: a new option is one field in the group it belongs to (or a new group).
//! The compatibility group, the profile and its narrow switches, is in `switches.rs`.

mod sender;
mod switches;

pub use sender::SenderConfig;
pub use switches::Compatibility;

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue};
use clap::{Args, CommandFactory, FromArgMatches, Parser};

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What `--help` shows after the options.
const AFTER_HELP: &str = "\
Routes:
  GET    /health             no token needed
  GET    /me                 any valid token; answers the principal as JSON
  GET    /photos             scope read (routine: validated locally)
  POST   /admin/users        scope admin (sensitive: introspected)
  DELETE /admin/users/{id}   scope admin (sensitive: introspected)
  POST   /payments           scope payments (sensitive: introspected)
  GET    /account/security   acr urn:tollgate:mfa within 300 s (step-up, RFC 9470)
  GET    /.well-known/oauth-protected-resource   RFC 9728 metadata, no token needed

Logs (stderr, RUST_LOG, default info): one line per request with method, path, status and
tollgate's decision; never a token. RUST_LOG=protected_api=debug adds the request headers,
with Authorization redacted.";

/// A small API protected by tollgate, for trying it against an authorization server
///
/// Without --issuer it starts an embedded tollgate-mock and prints a ready-to-use curl line.
/// Every option can also be set by the environment variable shown with it; a flag wins.
//
// The doc comments here are also the `--help` text, which clap does not wrap (that would
// take its `wrap_help` feature and a terminal-size dependency): hence `verbatim_doc_comment`
// and short lines.
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(
    name = "protected-api",
    after_help = AFTER_HELP,
    next_line_help = true,
    verbatim_doc_comment
)]
pub struct Config {
    /// The address to serve on
    #[arg(
        long,
        env = "TOLLGATE_LISTEN",
        value_name = "ADDR",
        default_value = DEFAULT_LISTEN
    )]
    pub listen: SocketAddr,

    /// Whose tokens to accept, and for which audiences.
    #[command(flatten)]
    pub trust: Trust,

    /// How the sensitive routes ask the authorization server about a token.
    #[command(flatten)]
    pub introspection: IntrospectionConfig,

    /// The server's profile, and the narrow switches for servers that do not follow RFC 9068.
    #[command(flatten)]
    pub compatibility: Compatibility,

    /// DPoP and the public URL.
    #[command(flatten)]
    pub sender: SenderConfig,
    /// Several instances: a shared store, and pushed security events.
    #[command(flatten)]
    pub scale_out: ScaleOut,
}

/// Running as one of several instances: revocations and introspection answers shared through
/// Redis, and an RFC 8935 receiver for pushed security events.
#[derive(Args, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Several instances")]
pub struct ScaleOut {
    /// Share revocations and introspection answers with the other instances through Redis
    ///
    /// `redis://[user:password@]host:port/db`, or `rediss://` for TLS. Two processes given
    /// the same Redis (and the same --issuer and --audience) refuse a token either has
    /// learnt is revoked, and make one introspection call per token per --freshness.
    #[arg(
        verbatim_doc_comment,
        long = "redis",
        env = "TOLLGATE_REDIS_URL",
        value_name = "URL",
        hide_env_values = true,
        value_parser = non_blank
    )]
    pub redis: Option<String>,

    /// Mount the RFC 8935 receiver of Security Event Tokens at this path
    ///
    /// For example `/security-events`. SETs must be signed by the issuer's keys and name
    /// this server's URL with the path (`http://ADDR/security-events`) in their `aud`.
    #[arg(
        verbatim_doc_comment,
        long = "security-events",
        env = "TOLLGATE_SECURITY_EVENTS",
        value_name = "PATH",
        value_parser = route_path
    )]
    pub security_events: Option<String>,
}

impl fmt::Debug for ScaleOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A Redis URL may carry a password.
        f.debug_struct("ScaleOut")
            .field("redis", &self.redis.as_ref().map(|_| "<set>"))
            .field("security_events", &self.security_events)
            .finish()
    }
}

/// A path to mount a route at: starts with `/`.
fn route_path(value: &str) -> Result<String, &'static str> {
    if value.starts_with('/') && value.len() > 1 && !value.contains(char::is_whitespace) {
        Ok(value.to_owned())
    } else {
        Err("the path must start with / and have no spaces")
    }
}

/// Whose tokens `protected-api` accepts, and for which audiences.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
#[command(next_help_heading = "Authorization server")]
pub struct Trust {
    /// The issuer identifier of the authorization server to trust
    ///
    /// Its keys, and its introspection endpoint, are found through its metadata (RFC 8414).
    /// None (the default) starts an embedded tollgate-mock.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ISSUER",
        value_name = "URL",
        requires = "audiences",
        value_parser = non_blank
    )]
    pub issuer: Option<String>,

    /// An audience this API answers to (repeatable, or comma-separated)
    ///
    /// Required with --issuer: the `aud` your tokens carry for this API.
    /// Without --issuer, defaults to the embedded mock's, `https://api.tollgate.test`.
    #[arg(
        verbatim_doc_comment,
        long = "audience",
        env = "TOLLGATE_AUDIENCE",
        value_name = "AUD",
        value_delimiter = ',',
        value_parser = audience
    )]
    pub audiences: Vec<String>,

    /// Fetch the keys from here instead of discovering them
    ///
    /// Then set --introspection-endpoint too.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_JWKS_URI",
        value_name = "URL",
        requires = "issuer",
        value_parser = non_blank
    )]
    pub jwks_uri: Option<String>,

    /// Fetch the metadata from this URL instead of the issuer's
    ///
    /// Its `issuer` must still be --issuer. For a tenant template, the multi-tenant
    /// document, e.g. for Entra ID v2.0:
    /// `https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration`
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_DISCOVERY_URL",
        value_name = "URL",
        requires = "issuer",
        conflicts_with = "jwks_uri",
        value_parser = non_blank
    )]
    pub discovery_url: Option<String>,

    /// A tenant a template issuer accepts (repeatable, or comma-separated)
    ///
    /// For an --issuer holding {tenantid}, such as
    /// `https://login.microsoftonline.com/{tenantid}/v2.0` (Entra ID multi-tenant).
    #[arg(
        verbatim_doc_comment,
        long = "tenant",
        env = "TOLLGATE_TENANT",
        value_name = "ID",
        value_delimiter = ',',
        requires = "issuer",
        value_parser = audience
    )]
    pub tenants: Vec<String>,

    /// A template issuer accepts every tenant; weakens security
    ///
    /// **Weakens security**: anyone can create a tenant, so any tenant's users and
    /// applications can get tokens this API accepts; the audience alone keeps them out.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ANY_TENANT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        requires = "issuer",
        conflicts_with = "tenants",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub any_tenant: bool,
}

/// How the sensitive routes ask the authorization server about a token (RFC 7662).
#[derive(Args, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Introspection")]
pub struct IntrospectionConfig {
    /// This API's client id at the authorization server, for introspection
    ///
    /// Sent with the secret as client_secret_basic (RFC 7662 §2.1).
    /// None (the default) leaves introspection unconfigured: sensitive routes answer 503.
    #[arg(
        verbatim_doc_comment,
        long = "introspection-client-id",
        env = "TOLLGATE_INTROSPECTION_CLIENT_ID",
        value_name = "ID",
        requires = "client_secret",
        value_parser = non_blank
    )]
    pub client_id: Option<String>,

    /// Its secret; prefer the variable, a flag shows in the process list
    ///
    /// Never printed: not by --help, not in errors, not by `Debug`.
    #[arg(
        verbatim_doc_comment,
        long = "introspection-client-secret",
        env = "TOLLGATE_INTROSPECTION_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        requires = "client_id",
        value_parser = non_blank
    )]
    pub client_secret: Option<String>,

    /// The introspection endpoint, when the metadata names none
    #[arg(
        long = "introspection-endpoint",
        env = "TOLLGATE_INTROSPECTION_ENDPOINT",
        value_name = "URL",
        requires = "issuer",
        value_parser = non_blank
    )]
    pub endpoint: Option<String>,

    /// How old an introspection answer may be on sensitive routes
    ///
    /// In whole seconds. Defaults to 0: every sensitive request asks.
    /// A budget of B seconds lets a revoked token through for up to B seconds.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_FRESHNESS",
        value_name = "SECONDS",
        default_value = "0",
        value_parser = seconds
    )]
    pub freshness: Duration,
}

impl fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of Debug output.
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint", &self.endpoint)
            .field("freshness", &self.freshness)
            .finish()
    }
}

impl Default for Config {
    /// What an empty command line and environment give.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trust: Trust::default(),
            introspection: IntrospectionConfig::default(),
            compatibility: Compatibility::default(),
            sender: SenderConfig::default(),
            scale_out: ScaleOut::default(),
        }
    }
}

impl Config {
    /// Reads the process's command line and environment; on `--help` prints the help and
    /// exits 0, on a mistake prints it (naming the variable when a bad value came from one)
    /// and exits 2.
    pub fn from_command_line() -> Self {
        Self::try_from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Reads `args` (the program name first) and the process environment. A flag wins over
    /// its variable.
    ///
    /// # Errors
    /// clap's error for `--help` or a mistake; for a bad value that came from a variable, it
    /// has a tip naming the variable. It never holds the introspection secret.
    pub fn try_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::parse_with(Self::command(), args)
    }

    fn parse_with<I, T>(mut command: clap::Command, args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let parsed = command
            .try_get_matches_from_mut(args)
            .and_then(|mut matches| Self::from_arg_matches_mut(&mut matches))
            .map_err(|e| e.format(&mut command));
        parsed.map_err(|e| name_the_variable(e, &command))
    }
}

/// clap names the flag of a bad value, also when the value came from its variable: add which
/// variable holds it, so the user knows where to look.
fn name_the_variable(mut error: clap::Error, command: &clap::Command) -> clap::Error {
    let (Some(ContextValue::String(flag)), Some(ContextValue::String(value))) = (
        error.get(ContextKind::InvalidArg),
        error.get(ContextKind::InvalidValue),
    ) else {
        return error;
    };
    let Some(variable) = command
        .get_arguments()
        .find(|arg| arg.to_string() == *flag)
        .and_then(|arg| arg.get_env())
    else {
        return error;
    };
    // A delimited variable is checked element by element, as clap parsed it.
    let holds_it = std::env::var_os(variable)
        .and_then(|set| set.into_string().ok())
        .is_some_and(|set| set == *value || set.split(',').any(|part| part == value));
    if holds_it {
        let tip = format!(
            "the value comes from the environment variable {}",
            variable.to_string_lossy()
        );
        let mut tips = match error.get(ContextKind::Suggested) {
            Some(ContextValue::StyledStrs(tips)) => tips.clone(),
            _ => Vec::new(),
        };
        tips.push(StyledStr::from(tip));
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    }
    error
}

/// A value that is not empty or blank, kept as given.
fn non_blank(value: &str) -> Result<String, &'static str> {
    if value.trim().is_empty() {
        Err("the value is empty")
    } else {
        Ok(value.to_owned())
    }
}

/// One audience of a list: `a, b` means `a` and `b`.
fn audience(value: &str) -> Result<String, &'static str> {
    non_blank(value).map(|a| a.trim().to_owned())
}

fn seconds(value: &str) -> Result<Duration, &'static str> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| "not a whole number of seconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `args` as if the environment held none of the variables, whatever the
    /// environment of the test process holds. (The binary's tests cover the variables.)
    fn flags(args: &[&str]) -> Result<Config, clap::Error> {
        let command = Config::command().mut_args(|arg| arg.env(None::<&str>));
        Config::parse_with(command, ["protected-api"].iter().chain(args))
    }

    fn config(args: &[&str]) -> Config {
        flags(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn mistake(args: &[&str]) -> String {
        match flags(args) {
            Ok(config) => panic!("{args:?} accepted: {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn clap_accepts_the_definition() {
        Config::command().debug_assert();
    }

    #[test]
    fn no_flags_give_the_default() {
        assert_eq!(config(&[]), Config::default());
        assert_eq!(Config::default().listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn every_flag() {
        let config = config(&[
            "--listen=127.0.0.1:0",
            "--issuer",
            "https://as.example",
            "--audience",
            "a",
            "--audience=b, c",
            "--introspection-client-id",
            "api",
            "--introspection-client-secret",
            "s3cret",
            "--introspection-endpoint",
            "https://as.example/introspect",
            "--jwks-uri",
            "https://as.example/jwks",
            "--freshness",
            "5",
            "--allow-untyped-tokens",
            "--accept-scp-claim=true",
            "--tenant=t1,t2",
            "--profile",
            "keycloak",
            "--accept-typ-jwt=false",
            "--accept-missing-typ",
            "--client-id-claim=cid,azp",
            "--scope-claim",
            "scp-array",
            "--roles-claim=realm_access.roles",
            "--roles-claim",
            "resource_access.api.roles",
            "--permissions-claim=permissions",
            "--jti=alias:uti",
            "--require-subject=false",
            "--require-issued-at=true",
            "--audience-policy=empty-with-client",
            "--allowed-client=web,cli",
            "--require-claim=token_use=access",
            "--require-claim-present=uid",
            "--forbid-claim=azp",
        ]);
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.trust.issuer.as_deref(), Some("https://as.example"));
        assert_eq!(config.trust.audiences, ["a", "b", "c"]);
        assert_eq!(
            config.trust.jwks_uri.as_deref(),
            Some("https://as.example/jwks")
        );
        let introspection = &config.introspection;
        assert_eq!(introspection.client_id.as_deref(), Some("api"));
        assert_eq!(introspection.client_secret.as_deref(), Some("s3cret"));
        assert_eq!(
            introspection.endpoint.as_deref(),
            Some("https://as.example/introspect")
        );
        assert_eq!(introspection.freshness, Duration::from_secs(5));
        assert!(config.compatibility.allow_untyped_tokens);
        assert!(config.compatibility.accept_scp_claim);
        assert_eq!(config.trust.tenants, ["t1", "t2"]);
        // The metadata from elsewhere: instead of a JWKS URI, not with one.
        let discovery = [
            "--issuer=https://as.example",
            "--audience=a",
            "--discovery-url",
        ];
        let url = "https://as.example/.well-known/openid-configuration";
        let parsed = self::config(&[&discovery[..], &[url]].concat());
        assert_eq!(parsed.trust.discovery_url.as_deref(), Some(url));
        assert!(
            mistake(&[&discovery[..], &[url, "--jwks-uri=https://as.example/j"]].concat())
                .contains("cannot be used with")
        );
        let c = &config.compatibility;
        assert_eq!(c.profile, "keycloak");
        assert_eq!(
            (c.accept_typ_jwt, c.accept_missing_typ),
            (Some(false), Some(true))
        );
        assert_eq!(
            c.client_id_claims,
            [tollgate::ClientIdClaim::Cid, tollgate::ClientIdClaim::Azp]
        );
        assert_eq!(c.scope_claims, [tollgate::ScopeSource::ScpArray]);
        assert_eq!(
            c.roles_claims,
            ["realm_access.roles", "resource_access.api.roles"]
        );
        assert_eq!(c.permissions_claims, ["permissions"]);
        assert_eq!(c.jti, Some(tollgate::JtiPolicy::alias("uti")));
        assert_eq!(
            (c.require_subject, c.require_issued_at),
            (Some(false), Some(true))
        );
        assert_eq!(
            c.audience_policy,
            Some(tollgate::AudiencePolicy::EmptyWithClientAllowlist)
        );
        assert_eq!(c.allowed_clients, ["web", "cli"]);
        assert_eq!(c.require_claims, [("token_use".into(), "access".into())]);
        assert_eq!(c.require_claims_present, ["uid"]);
        assert_eq!(c.forbid_claims, ["azp"]);
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
    }

    #[test]
    fn switches_take_true_or_false() {
        let off = config(&["--allow-untyped-tokens=false", "--accept-scp-claim=no"]);
        assert_eq!(off.compatibility, Compatibility::default());
        let on = config(&["--allow-untyped-tokens=1", "--accept-scp-claim=on"]);
        assert!(on.compatibility.allow_untyped_tokens && on.compatibility.accept_scp_claim);
        assert!(mistake(&["--accept-scp-claim=maybe"]).contains("--accept-scp-claim"));
    }

    #[test]
    fn profiles_take_exactly_their_names() {
        for name in tollgate::Profile::NAMES {
            assert_eq!(config(&["--profile", name]).compatibility.profile, name);
        }
        for bad in ["Keycloak", "entra_v2", "entra", "spring"] {
            let error = mistake(&["--profile", bad]);
            assert!(error.contains("possible values"), "{bad}: {error}");
            assert!(error.contains("spring-authorization-server"), "{error}");
        }
        assert_eq!(config(&[]).compatibility.profile, "strict");
        assert!(
            mistake(&[
                "--any-tenant",
                "--tenant=t",
                "--issuer=https://x",
                "--audience=a"
            ])
            .contains("cannot be used with")
        );
        assert!(mistake(&["--jti=sometimes"]).contains("alias:NAME"));
        assert!(mistake(&["--require-claim=token_use"]).contains("NAME=VALUE"));
        assert!(mistake(&["--client-id-claim=sub"]).contains("possible values"));
    }

    #[test]
    fn mistakes_are_named() {
        let cases: [(&[&str], &str); 10] = [
            (&["--bogus"], "unexpected argument '--bogus'"),
            (&["--listen"], "a value is required for '--listen <ADDR>'"),
            (
                &["--listen", "localhost"],
                "'localhost' for '--listen <ADDR>'",
            ),
            (&["--freshness=-1"], "not a whole number of seconds"),
            (
                &["--freshness", "soon"],
                "'soon' for '--freshness <SECONDS>'",
            ),
            (&["--issuer", " "], "'--issuer <URL>': the value is empty"),
            (&["--issuer", "https://as.example"], "--audience <AUD>"),
            (
                &["--introspection-client-id", "api"],
                "--introspection-client-secret <SECRET>",
            ),
            (&["--jwks-uri", "https://as.example/jwks"], "--issuer <URL>"),
            (
                &["--introspection-endpoint", "https://as.example/i"],
                "--issuer <URL>",
            ),
        ];
        for (args, expected) in cases {
            let error = mistake(args);
            assert!(error.contains(expected), "{args:?}: {error}");
        }
        assert!(
            mistake(&["--issuer", "https://as.example"])
                .contains("the following required arguments were not provided")
        );
    }

    #[test]
    fn the_secret_is_never_in_an_error() {
        for args in [
            &["--introspection-client-secret", "s3cret"][..],
            &["--introspection-client-secret=s3cret", "--freshness", "x"],
            &["--introspection-client-secret", "s3cret", "--bogus"],
        ] {
            let error = mistake(args);
            assert!(!error.contains("s3cret"), "{args:?}: {error}");
        }
    }

    #[test]
    fn help_lists_every_flag_with_its_variable() {
        let help = Config::command().render_long_help().to_string();
        for (flag, variable) in [
            ("--listen <ADDR>", "TOLLGATE_LISTEN"),
            ("--issuer <URL>", "TOLLGATE_ISSUER"),
            ("--audience <AUD>", "TOLLGATE_AUDIENCE"),
            ("--jwks-uri <URL>", "TOLLGATE_JWKS_URI"),
            (
                "--introspection-client-id <ID>",
                "TOLLGATE_INTROSPECTION_CLIENT_ID",
            ),
            (
                "--introspection-client-secret <SECRET>",
                "TOLLGATE_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                "--introspection-endpoint <URL>",
                "TOLLGATE_INTROSPECTION_ENDPOINT",
            ),
            ("--freshness <SECONDS>", "TOLLGATE_FRESHNESS"),
            (
                "--allow-untyped-tokens[=<BOOL>]",
                "TOLLGATE_ALLOW_UNTYPED_TOKENS",
            ),
            ("--accept-scp-claim[=<BOOL>]", "TOLLGATE_ACCEPT_SCP_CLAIM"),
            ("--discovery-url <URL>", "TOLLGATE_DISCOVERY_URL"),
            ("--tenant <ID>", "TOLLGATE_TENANT"),
            ("--any-tenant[=<BOOL>]", "TOLLGATE_ANY_TENANT"),
            ("--profile <NAME>", "TOLLGATE_PROFILE"),
            ("--accept-typ-jwt[=<BOOL>]", "TOLLGATE_ACCEPT_TYP_JWT"),
            (
                "--accept-missing-typ[=<BOOL>]",
                "TOLLGATE_ACCEPT_MISSING_TYP",
            ),
            ("--client-id-claim <NAME>", "TOLLGATE_CLIENT_ID_CLAIM"),
            ("--scope-claim <FORM>", "TOLLGATE_SCOPE_CLAIM"),
            ("--roles-claim <PATH>", "TOLLGATE_ROLES_CLAIM"),
            ("--permissions-claim <NAME>", "TOLLGATE_PERMISSIONS_CLAIM"),
            ("--jti <POLICY>", "TOLLGATE_JTI"),
            ("--require-subject[=<BOOL>]", "TOLLGATE_REQUIRE_SUBJECT"),
            ("--require-issued-at[=<BOOL>]", "TOLLGATE_REQUIRE_ISSUED_AT"),
            ("--audience-policy <POLICY>", "TOLLGATE_AUDIENCE_POLICY"),
            ("--allowed-client <ID>", "TOLLGATE_ALLOWED_CLIENT"),
            ("--require-claim <NAME=VALUE>", "TOLLGATE_REQUIRE_CLAIM"),
            (
                "--require-claim-present <NAME>",
                "TOLLGATE_REQUIRE_CLAIM_PRESENT",
            ),
            ("--forbid-claim <NAME>", "TOLLGATE_FORBID_CLAIM"),
        ] {
            assert!(help.contains(flag), "{flag} missing:\n{help}");
            assert!(
                help.contains(&format!("[env: {variable}")),
                "{variable} missing:\n{help}"
            );
        }
        assert!(help.contains("POST   /payments"), "{help}");
    }
}
