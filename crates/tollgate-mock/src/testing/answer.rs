//! What a client sees of an answer.

use serde_json::Value;

use crate::challenge;

/// What a test needs from a response: the status, the `WWW-Authenticate` challenge, the
/// `Retry-After` value and the body, however the request was sent ([`send`](super::send),
/// [`oneshot`](super::oneshot), [`raw_request`](super::raw_request)).
///
/// Header values that are not visible ASCII are read lossily (as UTF-8, invalid bytes
/// replaced), so that an odd header is shown in a failure rather than hidden by a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, if any (RFC 6750 §3).
    pub challenge: Option<String>,
    /// The `Retry-After` header, if any (RFC 9110 §10.2.3).
    pub retry_after: Option<String>,
    /// The body, as UTF-8 (invalid bytes replaced).
    pub body: String,
}

impl Answer {
    /// Reads the status, the headers and the whole body of `response`.
    ///
    /// # Errors
    /// The body could not be read (the connection broke, a timeout of the client).
    pub async fn read(response: reqwest::Response) -> reqwest::Result<Answer> {
        let status = response.status().as_u16();
        let header = |name| response.headers().get(name).map(lossy);
        let challenge = header(http::header::WWW_AUTHENTICATE);
        let retry_after = header(http::header::RETRY_AFTER);
        let body = response.bytes().await?;
        Ok(Answer {
            status,
            challenge,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// An answer from the parts of an `http` response and its collected body.
    pub(super) fn from_parts(parts: &http::response::Parts, body: &[u8]) -> Answer {
        let header = |name| parts.headers.get(name).map(lossy);
        Answer {
            status: parts.status.as_u16(),
            challenge: header(http::header::WWW_AUTHENTICATE),
            retry_after: header(http::header::RETRY_AFTER),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The `error` parameter of the challenge (`invalid_token`, `insufficient_scope`, ...);
    /// `None` without a challenge or without the parameter (RFC 6750 §3.1).
    pub fn error(&self) -> Option<String> {
        self.param("error")
    }

    /// The parameter `name` of the challenge (`realm`, `error_description`, `scope`, ...),
    /// read with [`challenge::param`].
    pub fn param(&self, name: &str) -> Option<String> {
        challenge::param(self.challenge.as_deref()?, name)
    }

    /// The body as JSON; `Value::Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }

    /// The canonical reason phrase of the status (`"Unauthorized"`), or `""` for a code
    /// without one.
    pub fn reason(&self) -> &'static str {
        http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
    }
}

fn lossy(value: &http::HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_json_and_reason_are_read() {
        let answer = Answer {
            status: 403,
            challenge: Some(
                r#"Bearer realm="api", error="insufficient_scope", scope="a b""#.to_owned(),
            ),
            retry_after: None,
            body: r#"{"error":"insufficient_scope"}"#.to_owned(),
        };
        assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
        assert_eq!(answer.param("scope").as_deref(), Some("a b"));
        assert_eq!(answer.param("error_description"), None);
        assert_eq!(answer.json()["error"], "insufficient_scope");
        assert_eq!(answer.reason(), "Forbidden");

        let bare = Answer {
            status: 599,
            challenge: None,
            retry_after: None,
            body: "not json".to_owned(),
        };
        assert_eq!(
            (bare.error(), bare.json(), bare.reason()),
            (None, Value::Null, "")
        );
    }
}
