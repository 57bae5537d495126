//! Requests over loopback HTTP.

use std::time::Duration;

use super::Answer;

/// An HTTP client for servers on 127.0.0.1: no proxy from the environment (a proxy would not
/// reach a loopback port), redirects not followed (a test sees the redirect itself), and a
/// 60-second timeout per request, so that a hung server fails the test instead of hanging it.
///
/// # Panics
/// If the client cannot be built (no TLS is involved, so only a broken environment does it).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|e| panic!("building the loopback HTTP client: {e}"))
}

/// Sends `request` and reads the whole answer.
///
/// # Panics
/// If the request cannot be sent or its answer read (the error, with the URL, is the message).
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("sending the request: {e}"));
    Answer::read(response)
        .await
        .unwrap_or_else(|e| panic!("reading the answer: {e}"))
}

/// `GET url` with `Authorization: Bearer token`, through [`client`].
///
/// # Panics
/// As [`send`].
pub async fn get(url: &str, token: &str) -> Answer {
    send(client().get(url).bearer_auth(token)).await
}
