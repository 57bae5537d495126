//! The `protected-api` binary as a user runs it: flags, environment variables, the banner,
//! and requests over 127.0.0.1. (Here rather than in `tests/`: Cargo hands a binary's path
//! only to the tests of its own package.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::{client, send};

const BIN: &str = env!("CARGO_BIN_EXE_protected-api");

/// The variables the binary reads: cleared so the caller's environment cannot interfere.
const VARIABLES: [&str; 28] = [
    "TOLLGATE_LISTEN",
    "TOLLGATE_ISSUER",
    "TOLLGATE_AUDIENCE",
    "TOLLGATE_INTROSPECTION_CLIENT_ID",
    "TOLLGATE_INTROSPECTION_CLIENT_SECRET",
    "TOLLGATE_INTROSPECTION_ENDPOINT",
    "TOLLGATE_JWKS_URI",
    "TOLLGATE_FRESHNESS",
    "TOLLGATE_ALLOW_UNTYPED_TOKENS",
    "TOLLGATE_ACCEPT_SCP_CLAIM",
    "TOLLGATE_DISCOVERY_URL",
    "TOLLGATE_TENANT",
    "TOLLGATE_ANY_TENANT",
    "TOLLGATE_PROFILE",
    "TOLLGATE_ACCEPT_TYP_JWT",
    "TOLLGATE_ACCEPT_MISSING_TYP",
    "TOLLGATE_CLIENT_ID_CLAIM",
    "TOLLGATE_SCOPE_CLAIM",
    "TOLLGATE_ROLES_CLAIM",
    "TOLLGATE_PERMISSIONS_CLAIM",
    "TOLLGATE_JTI",
    "TOLLGATE_REQUIRE_SUBJECT",
    "TOLLGATE_REQUIRE_ISSUED_AT",
    "TOLLGATE_AUDIENCE_POLICY",
    "TOLLGATE_ALLOWED_CLIENT",
    "TOLLGATE_REQUIRE_CLAIM",
    "TOLLGATE_REQUIRE_CLAIM_PRESENT",
    "TOLLGATE_FORBID_CLAIM",
];

fn command(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    for name in VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A running `protected-api`, killed (by its own handle) when dropped.
struct Running {
    child: std::process::Child,
    /// Its stdout up to "serving until Ctrl-C".
    banner: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts the binary and reads its banner (in a blocking task: the runtime keeps serving
    /// the in-process mock meanwhile).
    async fn start(args: &[&str], env: &[(&str, String)]) -> Running {
        let mut child = command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("protected-api starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let mut running = Running {
            child,
            banner: String::new(),
        };
        let banner = tokio::task::spawn_blocking(move || {
            let mut banner = String::new();
            while let Ok(line) = received.recv_timeout(Duration::from_secs(60)) {
                banner.push_str(&line);
                banner.push('\n');
                if line.contains("serving until Ctrl-C") {
                    break;
                }
            }
            banner
        })
        .await
        .expect("reader");
        assert!(
            banner.contains("serving until Ctrl-C"),
            "no complete banner:\n{banner}"
        );
        running.banner = banner;
        running
    }

    /// The URL of the "listening on" line.
    fn url(&self) -> String {
        self.banner
            .lines()
            .find_map(|l| l.strip_prefix("protected-api listening on "))
            .expect("a listening line")
            .trim()
            .to_owned()
    }
}

#[test]
fn help_and_bad_flags() {
    let help = command(&["--help"], &[]).output().expect("runs");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for (flag, variable) in [
        ("--listen", "TOLLGATE_LISTEN"),
        ("--issuer", "TOLLGATE_ISSUER"),
        ("--audience", "TOLLGATE_AUDIENCE"),
        (
            "--introspection-client-secret",
            "TOLLGATE_INTROSPECTION_CLIENT_SECRET",
        ),
        ("--freshness", "TOLLGATE_FRESHNESS"),
        ("--allow-untyped-tokens", "TOLLGATE_ALLOW_UNTYPED_TOKENS"),
        ("--accept-scp-claim", "TOLLGATE_ACCEPT_SCP_CLAIM"),
        ("--profile", "TOLLGATE_PROFILE"),
        ("--audience-policy", "TOLLGATE_AUDIENCE_POLICY"),
    ] {
        assert!(
            text.contains(flag) && text.contains(&format!("[env: {variable}")),
            "--help does not mention {flag} and {variable}:\n{text}"
        );
    }

    let bad = command(&["--bogus"], &[]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unexpected argument '--bogus'"));

    // A bad value from a variable: clap names the flag, and the tip names the variable.
    let bad = command(&[], &[("TOLLGATE_FRESHNESS", "soon".into())])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("'soon' for '--freshness <SECONDS>'")
            && stderr.contains("environment variable TOLLGATE_FRESHNESS"),
        "{stderr}"
    );
    let bad = command(&[], &[("TOLLGATE_ALLOW_UNTYPED_TOKENS", "maybe".into())])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("TOLLGATE_ALLOW_UNTYPED_TOKENS"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // An empty variable is a mistake, not an unset one: an empty TOLLGATE_ISSUER must not
    // quietly start the embedded mock, which trusts the tokens it mints itself.
    let bad = command(&[], &[("TOLLGATE_ISSUER", String::new())])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("the value is empty") && stderr.contains("TOLLGATE_ISSUER"),
        "{stderr}"
    );

    // The issuer from a variable needs an audience as much as the flag does.
    let bad = command(&[], &[("TOLLGATE_ISSUER", "https://as.example".into())])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--audience <AUD>"));
}

#[test]
fn the_secret_of_the_environment_is_never_printed() {
    let secret = (
        "TOLLGATE_INTROSPECTION_CLIENT_SECRET",
        "s3cret-of-env".to_owned(),
    );
    // clap shows the values of the other variables in --help, never this one.
    let help = command(&["--help"], std::slice::from_ref(&secret))
        .output()
        .expect("runs");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("[env: TOLLGATE_INTROSPECTION_CLIENT_SECRET]"),
        "{text}"
    );
    assert!(!text.contains("s3cret-of-env"), "{text}");
    // Without its client id the secret is a mistake; the error names it, not its value.
    for args in [&[][..], &["--freshness", "soon"], &["--bogus"]] {
        let bad = command(args, std::slice::from_ref(&secret))
            .output()
            .expect("runs");
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(!stderr.contains("s3cret-of-env"), "{args:?}: {stderr}");
    }
    let bad = command(&[], std::slice::from_ref(&secret))
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--introspection-client-id <ID>"));
}

#[tokio::test]
async fn variables_configure_it_and_flags_win() {
    let env = [
        ("TOLLGATE_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "TOLLGATE_AUDIENCE",
            "https://x.example, https://y.example".to_owned(),
        ),
        ("TOLLGATE_FRESHNESS", "7".to_owned()),
        ("TOLLGATE_ALLOW_UNTYPED_TOKENS", "true".to_owned()),
        ("TOLLGATE_ACCEPT_SCP_CLAIM", "1".to_owned()),
    ];
    let api = Running::start(&[], &env).await;
    for line in [
        "audience:      https://x.example, https://y.example",
        "freshness:     7 s on sensitive routes",
        "compatibility: untyped tokens on, scp claim on",
    ] {
        assert!(
            api.banner.contains(line),
            "{line:?} missing:\n{}",
            api.banner
        );
    }
    drop(api);

    let flags = [
        "--audience=https://z.example",
        "--freshness",
        "0",
        "--allow-untyped-tokens=false",
    ];
    let api = Running::start(&flags, &env).await;
    for line in [
        "audience:      https://z.example\n",
        "freshness:     0 s on sensitive routes",
        "compatibility: untyped tokens off, scp claim on",
    ] {
        assert!(
            api.banner.contains(line),
            "{line:?} missing:\n{}",
            api.banner
        );
    }
}

#[tokio::test]
async fn with_zero_configuration_the_printed_curl_line_works() {
    let api = Running::start(&["--listen", "127.0.0.1:0"], &[]).await;
    assert!(
        api.banner.contains("(embedded tollgate-mock)"),
        "{}",
        api.banner
    );
    let line = api
        .banner
        .lines()
        .find(|l| l.contains("curl -i -H 'Authorization: Bearer "))
        .expect("a curl line");
    let token = line
        .split("Bearer ")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("token");
    let url = line.rsplit(' ').next().expect("url");
    assert_eq!(url, format!("{}/me", api.url()));

    let answer = send(client().get(url).bearer_auth(token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["subject"], "alice");
    // The token has enough scope for every route, the sensitive ones too.
    let payments = client().post(format!("{}/payments", api.url()));
    assert_eq!(send(payments.bearer_auth(token)).await.status, 201);
    let ban = client().delete(format!("{}/admin/users/7", api.url()));
    assert_eq!(send(ban.bearer_auth(token)).await.status, 200);
    let health = client().get(format!("{}/health", api.url()));
    assert_eq!(send(health).await.status, 200);
}

#[tokio::test]
async fn environment_variables_point_it_at_a_separate_authorization_server() {
    let mock = MockAuthServer::builder()
        .audience("https://shop-api.example")
        .client("shop-api", "shop-secret")
        .start()
        .await;
    let env = [
        ("TOLLGATE_LISTEN", "127.0.0.1:0".to_owned()),
        ("TOLLGATE_ISSUER", mock.issuer()),
        ("TOLLGATE_AUDIENCE", mock.audience()),
        ("TOLLGATE_INTROSPECTION_CLIENT_ID", mock.client_id()),
        ("TOLLGATE_INTROSPECTION_CLIENT_SECRET", mock.client_secret()),
        ("TOLLGATE_ALLOW_UNTYPED_TOKENS", "true".to_owned()),
        ("TOLLGATE_ACCEPT_SCP_CLAIM", "true".to_owned()),
    ];
    let api = Running::start(&[], &env).await;
    assert!(
        api.banner
            .contains(&format!("issuer:        {}", mock.issuer())),
        "{}",
        api.banner
    );
    assert!(
        !api.banner.contains("shop-secret"),
        "the banner shows the secret:\n{}",
        api.banner
    );

    let token = mock.token().subject("erin").scope("read payments").sign();
    let payments = format!("{}/payments", api.url());
    let answer = send(client().post(&payments).bearer_auth(&token)).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(mock.introspection_count_for(&token), 1);

    mock.revoke(&token);
    let answer = send(client().post(&payments).bearer_auth(&token)).await;
    assert_eq!(answer.status, 401, "{answer:?}");

    // The compatibility switches came from their variables: what Entra ID or Okta send
    // (`typ: JWT`, `scp` as an array, `azp`) passes.
    let untyped = mock
        .token()
        .header("typ", "JWT")
        .remove_claim("scope")
        .remove_claim("client_id")
        .claim("azp", "web-app")
        .claim("scp", serde_json::json!(["read"]))
        .sign();
    let photos = client().get(format!("{}/photos", api.url()));
    let answer = send(photos.bearer_auth(&untyped)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn flags_win_over_environment_variables() {
    let mock = MockAuthServer::start().await;
    // The variable names an audience the tokens do not carry; the flag the right one.
    let env = [
        ("TOLLGATE_ISSUER", mock.issuer()),
        ("TOLLGATE_AUDIENCE", "https://wrong.example".to_owned()),
    ];
    let audience = mock.audience();
    let api = Running::start(&["--listen=127.0.0.1:0", "--audience", &audience], &env).await;
    assert!(
        api.banner.contains("introspection: not configured"),
        "{}",
        api.banner
    );
    let token = mock.token().scope("read").sign();
    let photos = client().get(format!("{}/photos", api.url()));
    let answer = send(photos.bearer_auth(&token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_profile_and_its_switches_from_the_environment() {
    // Hydra's tokens carry `aud: []` unless an audience was granted: the profile lets the
    // allowed client stand in, and the allowlist comes from its variable.
    let hydra = MockAuthServer::builder()
        .shape(tollgate_mock::Shape::Hydra)
        .start()
        .await;
    let env = [
        ("TOLLGATE_ISSUER", hydra.issuer()),
        ("TOLLGATE_AUDIENCE", hydra.audience()),
        ("TOLLGATE_PROFILE", "hydra".to_owned()),
        ("TOLLGATE_ALLOWED_CLIENT", hydra.client_id()),
    ];
    let api = Running::start(&[], &env).await;
    assert!(
        api.banner.contains("profile:       hydra, refined by"),
        "{}",
        api.banner
    );
    let me = format!("{}/me", api.url());
    let token = hydra.token().scope("read").sign();
    let answer = send(client().get(&me).bearer_auth(&token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["client_id"],
        serde_json::json!(hydra.client_id())
    );
    let other = hydra.token().client_id("another-client").sign();
    let answer = send(client().get(&me).bearer_auth(&other)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
}
