//! The demo's side of the wire: requests to the API, and what a client can see in the answers.

use std::time::Duration;

use reqwest::Method;

use crate::challenge;

/// What the client saw of one response.
#[derive(Debug, Clone)]
pub(super) struct Observed {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) challenge: Option<String>,
    pub(super) retry_after: Option<String>,
    pub(super) body: String,
}

impl Observed {
    /// Why the API answered as it did, from the answer alone: the challenge's `error` and
    /// `error_description`, or the JSON body's for a 503 (which has no challenge).
    pub(super) fn why(&self) -> String {
        if let Some(challenge) = &self.challenge {
            return challenge::explain(challenge)
                .unwrap_or_else(|| format!("no token; challenge: {challenge}"));
        }
        let body: Option<serde_json::Value> = serde_json::from_str(&self.body).ok();
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let mut why = match (field("error"), field("error_description")) {
            (Some(error), Some(description)) => format!("{error}: {description}"),
            (Some(error), None) => error,
            _ => String::new(),
        };
        if let Some(retry) = &self.retry_after {
            why.push_str(&format!(" (Retry-After: {retry} s, no challenge)"));
        }
        why
    }

    /// A member of the JSON body.
    pub(super) fn json(&self, name: &str) -> Option<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()?
            .get(name)
            .cloned()
    }
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
) -> reqwest::Result<Observed> {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    observe(request.send().await?).await
}

/// Reads what a client can see of a response.
pub(super) async fn observe(response: reqwest::Response) -> reqwest::Result<Observed> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let status = response.status();
    let body = response.text().await?;
    Ok(Observed {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        challenge,
        retry_after,
        body,
    })
}
