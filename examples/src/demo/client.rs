//! The demo's side of the wire: requests to the API, and why it answered as it did. An answer
//! is read as tollgate-mock's test support reads it ([`Answer`]): status, challenge,
//! `Retry-After`, body.

use std::time::Duration;

use reqwest::Method;
use tollgate_mock::challenge;
use tollgate_mock::testing::Answer;

/// Why the API answered as it did, from the answer alone: the challenge's `error` and
/// `error_description`, or the JSON body's for a 503 (which has no challenge).
pub(super) fn why(answer: &Answer) -> String {
    if let Some(challenge) = &answer.challenge {
        return challenge::explain(challenge)
            .unwrap_or_else(|| format!("no token; challenge: {challenge}"));
    }
    let body = answer.json();
    let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let mut why = match (field("error"), field("error_description")) {
        (Some(error), Some(description)) => format!("{error}: {description}"),
        (Some(error), None) => error,
        _ => String::new(),
    };
    if let Some(retry) = &answer.retry_after {
        why.push_str(&format!(" (Retry-After: {retry} s, no challenge)"));
    }
    why
}

/// The demo's HTTP client: loopback only, no proxy, bounded waits.
pub(super) fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
}

/// Sends `method url` with the bearer token, if any.
pub(super) async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
) -> reqwest::Result<Answer> {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Answer::read(request.send().await?).await
}
