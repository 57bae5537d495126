//! The `tollgate-mock` binary: flags, what it prints, and that it serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate-mock");

/// Kills the child even when an assertion fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serves_and_prints_issuer_and_token() {
    let child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--alg",
            "EdDSA",
            "--audience=https://bin.example",
        ])
        .args(["--client-id", "bin-client", "--client-secret", "bin-secret"])
        .args(["--jwks-cache-control", "max-age=5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut issuer = None;
    let mut token = None;
    let mut expect_token = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(value) = line.strip_prefix("issuer:") {
            issuer = Some(value.trim().to_owned());
        } else if line.starts_with("example access token") {
            expect_token = true;
        } else if expect_token {
            token = Some(line);
            break;
        }
    }
    let issuer = issuer.expect("issuer printed");
    let token = token.expect("token printed");
    assert!(issuer.starts_with("http://127.0.0.1:"));
    assert_eq!(token.split('.').count(), 3);

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = tollgate_mock::testing::client();
        let doc: serde_json::Value = client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], issuer.as_str());
        let jwks = client.get(format!("{issuer}/jwks")).send().await.unwrap();
        assert_eq!(jwks.headers()["cache-control"], "max-age=5");
        let jwks: serde_json::Value = jwks.json().await.unwrap();
        assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
        let answer: serde_json::Value = client
            .post(format!("{issuer}/introspect"))
            .basic_auth("bin-client", Some("bin-secret"))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["active"], true);
        assert_eq!(answer["aud"], "https://bin.example");
        assert_eq!(answer["client_id"], "bin-client");
    });
}

#[test]
fn help_and_bad_flags() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--port <PORT>",
        "--host <IP>",
        "--audience <AUD>",
        "--client-id <ID>",
        "--client-secret <SECRET>",
        "--alg <ALG>",
        "--jwks-cache-control <VALUE>",
        "[default: 9000]",
        "[default: 127.0.0.1]",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }

    // Each mistake is named: the flag, and what is wrong with its value.
    for (args, expected) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["--port"], "a value is required for '--port <PORT>'"),
        (&["--port", "x"], "'x' for '--port <PORT>'"),
        (&["--port", "70000"], "'70000' for '--port <PORT>'"),
        (&["--host", "nowhere"], "'nowhere' for '--host <IP>'"),
        // HMAC keys cannot be published in a JWKS: not among the possible values.
        (&["--alg", "HS256"], "'HS256' for '--alg <ALG>'"),
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let output = Command::new(BIN).args(["--alg", "HS256"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[possible values: RS256,") && !stderr.contains("HS256,"),
        "{stderr}"
    );
}
