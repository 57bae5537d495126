//! The steps of the demo's story.

use std::io::Write;
use std::time::Duration;

use reqwest::Method;
use tollgate_mock::Algorithm;
use tollgate_mock::testing::Answer;

use super::DemoError;
use super::check::{Expect, Story};
use super::client::{send, why};
use crate::protected_api::ALL_SCOPES;

/// The whole story (docs/ARCHITECTURE.md, "The pipeline", "Introspection"; README, "Behaviour" in action).
pub(super) async fn play<W: Write>(s: &mut Story<'_, W>) -> Result<(), DemoError> {
    let mock = s.mock.clone();
    let (issuer, api) = (mock.issuer(), s.api.clone());
    write!(
        s.out,
        "\
tollgate demo: local validation on every request, live introspection where it matters

authorization server (tollgate-mock): {issuer}
protected API (axum + tollgate):      {api}
  GET    /health             no token
  GET    /me, /photos        routine: validated locally (/photos needs scope read)
  POST   /admin/users        sensitive: the AS confirms the token on every request (scope admin)
  DELETE /admin/users/{{id}}   likewise
  POST   /payments           sensitive (scope payments)
  GET    /account/security   step-up: a multi-factor login within 300 s (RFC 9470)

Each line: verdict, request -> status, the calls the AS saw meanwhile, and why.
"
    )?;

    s.step(
        "Without a token",
        "Public routes answer; protected ones ask for a bearer token (RFC 6750 §3).",
    )?;
    s.request(
        Method::GET,
        "/health",
        None,
        Expect::status(200).note("public route, no token checked"),
    )
    .await?;
    s.request(
        Method::GET,
        "/photos",
        None,
        Expect::status(401).introspections(0),
    )
    .await?;

    let alice = mock.token().subject("alice").scope(ALL_SCOPES).sign();
    s.step(
        "A token is issued, and routine and sensitive routes accept it",
        &format!("The AS signs a JWT access token (RFC 9068) for alice, scopes \"{ALL_SCOPES}\", valid 5 min."),
    )?;
    s.request(
        Method::GET,
        "/photos",
        Some(&alice),
        Expect::status(200)
            .introspections(0)
            .note("signature and claims checked locally; the AS was not asked"),
    )
    .await?;
    s.request(
        Method::POST,
        "/admin/users",
        Some(&alice),
        Expect::status(201)
            .introspections(1)
            .note("the AS confirmed the token is active (RFC 7662)"),
    )
    .await?;
    s.request(
        Method::POST,
        "/payments",
        Some(&alice),
        Expect::status(201)
            .introspections(1)
            .note("asked again: the freshness budget is zero"),
    )
    .await?;

    s.step(
        "The token is revoked",
        "alice's token leaks; the AS revokes it (RFC 7009). Nobody tells the API.",
    )?;
    let revocation = s
        .client
        .post(mock.revocation_endpoint())
        .basic_auth(mock.client_id(), Some(mock.client_secret()))
        .form(&[
            ("token", alice.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await?;
    let revoked = Answer::read(revocation).await?;
    s.record(
        &format!(
            "AS: POST /revoke -> {} {}",
            revoked.status,
            revoked.reason()
        ),
        "the AS now calls the token inactive",
        "",
        if revoked.status == 200 {
            Vec::new()
        } else {
            vec!["expected status 200".into()]
        },
    )?;

    s.step(
        "The routine route still accepts it",
        "Local validation is a snapshot: signature, issuer, audience and expiry are all still fine.",
    )?;
    s.request(
        Method::GET,
        "/photos",
        Some(&alice),
        Expect::status(200)
            .introspections(0)
            .note("still valid locally: routine routes do not ask the AS"),
    )
    .await?;

    s.step(
        "The sensitive route refuses it",
        "POST /payments asks the AS, which answers active=false.",
    )?;
    s.request(
        Method::POST,
        "/payments",
        Some(&alice),
        Expect::status(401).error("invalid_token").introspections(1),
    )
    .await?;

    s.step(
        "From then on the routine route refuses it too",
        "tollgate remembers the inactive answer until the token expires: every route refuses it,\n\
         and nobody asks the AS again.",
    )?;
    s.request(
        Method::GET,
        "/photos",
        Some(&alice),
        Expect::status(401).error("invalid_token").introspections(0),
    )
    .await?;
    s.request(
        Method::DELETE,
        "/admin/users/42",
        Some(&alice),
        Expect::status(401).error("invalid_token").introspections(0),
    )
    .await?;

    s.step(
        "Step-up: a route that needs a recent multi-factor login (RFC 9470)",
        "GET /account/security asks for acr urn:tollgate:mfa within 300 s. A password login is\n\
         answered insufficient_user_authentication with what would do (acr_values, max_age);\n\
         the client sends the user back to the AS, and the new token passes.",
    )?;
    let now = tollgate_mock::testing::unix_now();
    let password = mock
        .token()
        .subject("alice")
        .claim("acr", "urn:tollgate:pwd")
        .claim("auth_time", now - 30)
        .sign();
    s.request(
        Method::GET,
        "/account/security",
        Some(&password),
        Expect::status(401)
            .error("insufficient_user_authentication")
            .introspections(0),
    )
    .await?;
    let stale = mock
        .token()
        .subject("alice")
        .claim("acr", crate::protected_api::STEP_UP_ACR)
        .claim("auth_time", now - 3600)
        .sign();
    s.request(
        Method::GET,
        "/account/security",
        Some(&stale),
        Expect::status(401)
            .error("insufficient_user_authentication")
            .introspections(0),
    )
    .await?;
    let stepped_up = mock
        .token()
        .subject("alice")
        .claim("acr", crate::protected_api::STEP_UP_ACR)
        .claim("auth_time", now - 5)
        .sign();
    s.request(
        Method::GET,
        "/account/security",
        Some(&stepped_up),
        Expect::status(200)
            .introspections(0)
            .note("multi-factor, 5 s ago: stepped up"),
    )
    .await?;

    s.step(
        "An expired token and a token for another audience",
        "Both are refused by local validation, on sensitive routes too, without any introspection call.",
    )?;
    let expired = mock
        .token()
        .subject("alice")
        .scope(ALL_SCOPES)
        .expired()
        .sign();
    s.request(
        Method::GET,
        "/photos",
        Some(&expired),
        Expect::status(401).error("invalid_token").introspections(0),
    )
    .await?;
    s.request(
        Method::POST,
        "/payments",
        Some(&expired),
        Expect::status(401).error("invalid_token").introspections(0),
    )
    .await?;
    let elsewhere = mock
        .token()
        .subject("alice")
        .scope(ALL_SCOPES)
        .audience("https://other-api.example")
        .sign();
    s.request(
        Method::POST,
        "/admin/users",
        Some(&elsewhere),
        Expect::status(401).error("invalid_token").introspections(0),
    )
    .await?;

    s.step(
        "A token without the needed scope",
        "bob may read photos but not pay: 403, and the AS is not asked either.",
    )?;
    let bob = mock.token().subject("bob").scope("read").sign();
    s.request(
        Method::POST,
        "/payments",
        Some(&bob),
        Expect::status(403)
            .error("insufficient_scope")
            .introspections(0),
    )
    .await?;

    s.step(
        "A key rotation is followed",
        "The AS publishes a new ES256 key and signs new tokens with it. The first token with the\n\
         unknown `kid` makes tollgate refetch the JWKS once; the next ones find the key.",
    )?;
    let kid = mock.add_key(Algorithm::ES256);
    mock.set_signing_key(&kid);
    s.action(&format!("the AS signs with the new key {kid}"))?;
    let rotated = mock.token().subject("alice").scope(ALL_SCOPES).sign();
    s.request(
        Method::GET,
        "/photos",
        Some(&rotated),
        Expect::status(200)
            .introspections(0)
            .jwks(1)
            .note("unknown kid: one JWKS refetch, then verified"),
    )
    .await?;
    let rotated_too = mock.token().subject("bob").scope("read").sign();
    s.request(
        Method::GET,
        "/photos",
        Some(&rotated_too),
        Expect::status(200)
            .introspections(0)
            .jwks(0)
            .note("the new key is known now"),
    )
    .await?;

    s.step(
        "An opaque token is validated by introspection",
        "carol's token is a random reference string: only the AS knows what it means. Routine\n\
         routes reuse the answer for up to 30 s (routine_ttl); sensitive routes ask every time.",
    )?;
    let carol = mock
        .opaque_token()
        .subject("carol")
        .scope("read payments")
        .issue();
    let me = s
        .request(
            Method::GET,
            "/me",
            Some(&carol),
            Expect::status(200)
                .introspections(1)
                .note("introspection says: active, sub carol"),
        )
        .await?;
    let me = me.json();
    let opaque_seen =
        me["token_format"] == "opaque" && me["introspected"] == true && me["subject"] == "carol";
    s.check(
        opaque_seen,
        "GET /me answers subject carol, token_format opaque, introspected true",
    )?;
    s.request(
        Method::GET,
        "/photos",
        Some(&carol),
        Expect::status(200)
            .introspections(0)
            .note("the cached answer is fresh enough for a routine route"),
    )
    .await?;
    s.request(
        Method::POST,
        "/payments",
        Some(&carol),
        Expect::status(201)
            .introspections(1)
            .note("a sensitive route asks again"),
    )
    .await?;

    s.step(
        "The AS goes down",
        "Routine routes keep serving from the cached keys; sensitive routes cannot confirm\n\
         anything and answer 503 with Retry-After, never a silent pass.",
    )?;
    let dave = mock.token().subject("dave").scope(ALL_SCOPES).sign();
    mock.go_down().await;
    s.action("the AS stops listening")?;
    s.request(
        Method::GET,
        "/photos",
        Some(&dave),
        Expect::status(200)
            .introspections(0)
            .note("validated locally with the cached keys"),
    )
    .await?;
    let down = s
        .request(
            Method::POST,
            "/payments",
            Some(&dave),
            Expect::status(503).introspections(0),
        )
        .await?;
    s.check(
        down.retry_after.is_some() && down.challenge.is_none(),
        "the 503 carries Retry-After and no WWW-Authenticate challenge",
    )?;

    s.step("The AS comes back", "Sensitive routes serve again.")?;
    mock.come_back().await;
    s.action("the AS listens again")?;
    back_again(s, &dave).await?;
    Ok(())
}

/// POST /payments until it is accepted (bounded): the first call after the outage may meet a
/// connection the AS dropped.
async fn back_again<W: Write>(s: &mut Story<'_, W>, token: &str) -> Result<(), DemoError> {
    let url = format!("{}/payments", s.api);
    let mut last = None;
    for attempt in 1..=40 {
        let observed = send(&s.client, Method::POST, &url, Some(token)).await?;
        if observed.status == 201 {
            let why = format!("the AS confirmed the token again (attempt {attempt})");
            let line = format!(
                "POST /payments -> {} {}",
                observed.status,
                observed.reason()
            );
            return Ok(s.record(&line, &why, "", Vec::new())?);
        }
        last = Some(observed);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (line, why) = match last {
        Some(o) => (
            format!("POST /payments -> {} {}", o.status, o.reason()),
            why(&o),
        ),
        None => ("POST /payments".to_owned(), String::new()),
    };
    Ok(s.record(
        &line,
        &why,
        "",
        vec!["expected status 201 within 10 s of the AS coming back".into()],
    )?)
}
