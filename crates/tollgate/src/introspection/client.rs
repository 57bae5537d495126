//! The HTTP exchange with the introspection endpoint: client authentication, the form, the
//! bounded read of the answer.
//!
//! Nothing here caches or times out: the caller wraps [`exchange`] in the call timeout and the
//! concurrency bound, then hands the body to [`parse`](super::parse::parse).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderValue;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};

use super::{ClientAuth, IntrospectionError};

/// Client authentication, prepared once: the `Authorization` header or the extra form fields.
#[derive(Clone)]
pub(super) struct Credentials {
    authorization: Option<HeaderValue>,
    /// `&client_id=...&client_secret=...` for `client_secret_post`, else empty.
    form_suffix: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Both fields hold secrets.
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

impl Credentials {
    /// `None` when a bearer credential cannot be an HTTP header value (rejected by `validate`).
    pub(super) fn new(auth: &ClientAuth) -> Option<Self> {
        match auth {
            ClientAuth::Basic {
                client_id,
                client_secret,
            } => {
                // RFC 6749 §2.3.1: "The client identifier is encoded using the
                // application/x-www-form-urlencoded encoding algorithm per Appendix B, and the
                // encoded value is used as the username; the client password is encoded using the
                // same algorithm and used as the password." Many clients skip this step and break
                // on secrets containing `:` or `%`.
                let mut pair = String::new();
                form_encode(&mut pair, client_id);
                pair.push(':');
                form_encode(&mut pair, client_secret);
                let mut value =
                    HeaderValue::try_from(format!("Basic {}", BASE64.encode(pair))).ok()?;
                value.set_sensitive(true);
                Some(Self {
                    authorization: Some(value),
                    form_suffix: String::new(),
                })
            }
            ClientAuth::Post {
                client_id,
                client_secret,
            } => {
                let mut form_suffix = String::from("&client_id=");
                form_encode(&mut form_suffix, client_id);
                form_suffix.push_str("&client_secret=");
                form_encode(&mut form_suffix, client_secret);
                Some(Self {
                    authorization: None,
                    form_suffix,
                })
            }
            ClientAuth::Bearer { credential } => Some(Self {
                authorization: Some(bearer_header(credential)?),
                form_suffix: String::new(),
            }),
        }
    }
}

/// `Authorization: Bearer <credential>`, marked sensitive; `None` if not a valid header value.
pub(super) fn bearer_header(credential: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {credential}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Appends `input` encoded as application/x-www-form-urlencoded (WHATWG URL §5.2, the
/// algorithm RFC 6749 Appendix B refers to): alphanumerics and `*-._` stay, space becomes `+`,
/// every other byte of the UTF-8 encoding becomes `%XX`.
fn form_encode(out: &mut String, input: &str) {
    out.extend(form_urlencoded::byte_serialize(input.as_bytes()));
}

/// The request body: `token=...&token_type_hint=access_token` (RFC 7662 §2.1) plus the
/// `client_secret_post` fields.
fn request_body(token: &str, credentials: &Credentials) -> String {
    let mut body = String::with_capacity(token.len() + 40 + credentials.form_suffix.len());
    body.push_str("token=");
    form_encode(&mut body, token);
    // Access tokens in both shapes: the hint is about what the token is for (RFC 7009 §2.1).
    body.push_str("&token_type_hint=access_token");
    body.push_str(&credentials.form_suffix);
    body
}

/// POSTs the token and returns the body of a `200` answer, read up to `max_body_bytes`.
///
/// A failure comes classified by whose fault it is (see [`IntrospectionError`]), with a short
/// static reason that says what to fix. The details (status, transport error) go to the DEBUG
/// log; the caller logs the reason. Neither ever contains the token or a secret.
pub(super) async fn exchange(
    http: &reqwest::Client,
    endpoint: &str,
    credentials: &Credentials,
    token: &str,
    max_body_bytes: usize,
) -> Result<Vec<u8>, IntrospectionError> {
    let mut request = http
        .post(endpoint)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
        .body(request_body(token, credentials));
    if let Some(authorization) = &credentials.authorization {
        request = request.header(AUTHORIZATION, authorization.clone());
    }

    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let class = if error.is_redirect() {
                // The user's client follows redirects and gave up (a loop, too many hops).
                IntrospectionError::Broken(
                    "the introspection endpoint redirects (too many hops or a loop); configure \
                     the final URL of the endpoint, and an HTTP client that does not follow \
                     redirects",
                )
            } else if error.is_builder() {
                IntrospectionError::Broken(
                    "the introspection request cannot be built; check the endpoint URL",
                )
            } else if error.is_timeout() {
                IntrospectionError::Unreachable("introspection timed out")
            } else if error.is_connect() {
                IntrospectionError::Unreachable("introspection endpoint unreachable")
            } else {
                // Reset or closed mid-request: the AS is not answering.
                IntrospectionError::Unreachable("introspection request failed")
            };
            // `without_url`: the URL is configuration, but keep logs free of anything that came
            // from metadata we did not write.
            crate::log::debug!("introspection request failed: {}", error.without_url());
            return Err(class);
        }
    };

    // A client that follows redirects (the user's may; reqwest's default does) can hand back
    // an answer from another origin, which is not the authorization server's and could call
    // any token active. The token already went there, which only a client that does not follow
    // redirects prevents; its answer at least is not trusted.
    if reqwest::Url::parse(endpoint).is_ok_and(|asked| asked.origin() != response.url().origin()) {
        crate::log::debug!(
            "the introspection endpoint redirected to {}",
            response.url().origin().ascii_serialization()
        );
        return Err(IntrospectionError::Broken(
            "the introspection endpoint redirected to another origin; answer refused. Configure \
             the final URL of the endpoint, and an HTTP client that does not follow redirects",
        ));
    }

    let status = response.status().as_u16();
    if status != 200 {
        crate::log::debug!("introspection endpoint answered HTTP {status} (expected 200)");
    }
    match status {
        200 => read_body(response, max_body_bytes).await,
        // RFC 7662 §2.3: a 400 is an RFC 6749 §5.2 error answer. Some are about the token,
        // some about us; the `error` code tells which.
        400 => {
            let body = read_body(response, max_body_bytes).await?;
            Err(classify_error_answer(&body))
        }
        // RFC 7662 §2.1 / §2.3: the protected resource must be authorized to introspect. A
        // 401/403 means *our* credentials are wrong, expired or lack the permission: every
        // call fails the same way until the configuration is fixed.
        401 => Err(IntrospectionError::Broken(
            "the introspection endpoint rejected tollgate's client authentication (HTTP 401); \
             check the client id, secret or credential and the method (client_secret_basic, \
             client_secret_post, bearer)",
        )),
        403 => Err(IntrospectionError::Broken(
            "the introspection endpoint refused tollgate (HTTP 403); check the client id, secret \
             or credential, and that this client is allowed to introspect tokens",
        )),
        // The AS is failing or overloaded: it cannot be reached, for now.
        500..=599 => Err(IntrospectionError::Unreachable(
            "the introspection endpoint answered HTTP 5xx",
        )),
        // Only a client that does not follow redirects gets here: the endpoint moved.
        300..=399 => Err(IntrospectionError::Broken(
            "the introspection endpoint answered a redirect (HTTP 3xx), which is not followed; \
             configure the endpoint's final URL",
        )),
        429 => Err(IntrospectionError::Broken(
            "the introspection endpoint is rate-limiting tollgate (HTTP 429); raise the limit at \
             the AS, or lower the load with longer freshness budgets and routine_ttl",
        )),
        404 | 405 => Err(IntrospectionError::Broken(
            "the introspection endpoint does not exist (HTTP 404/405); check its URL",
        )),
        _ => Err(IntrospectionError::Broken(
            "the introspection endpoint answered an unexpected status (not 200, 400, 401, 403 or \
             5xx); check that it is the AS's RFC 7662 endpoint",
        )),
    }
}

/// What an HTTP 400 answer (RFC 6749 §5.2 error JSON) is about.
///
/// - `invalid_request`, `invalid_token`, `unsupported_token_type` (RFC 7009 §2.2.1): the AS
///   cannot (or will not) introspect this token, for instance a token type it does not know.
///   The token cannot be confirmed: 401, and never remembered as a revocation.
/// - `invalid_client`: tollgate's credentials (RFC 6749 §5.2).
/// - anything else, or no parsable error: the answer is unusable.
fn classify_error_answer(body: &[u8]) -> IntrospectionError {
    let error = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|answer| answer.get("error")?.as_str().map(str::to_owned));
    crate::log::debug!(
        "introspection endpoint answered HTTP 400, error {:?}",
        // A code is a short RFC 6749 token; anything else is not echoed.
        error
            .as_deref()
            .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()))
    );
    match error.as_deref() {
        Some("invalid_request" | "invalid_token" | "unsupported_token_type") => {
            IntrospectionError::Unconfirmable("the authorization server cannot confirm the token")
        }
        Some("invalid_client") => IntrospectionError::Broken(
            "the introspection endpoint rejected tollgate's client authentication \
             (invalid_client); check the client id, secret or credential and the method \
             (client_secret_basic, client_secret_post, bearer)",
        ),
        _ => IntrospectionError::Broken(
            "the introspection endpoint answered HTTP 400 without an error about the token; check \
             that it is the AS's RFC 7662 endpoint",
        ),
    }
}

/// Reads the body, at most `max_body_bytes`.
async fn read_body(
    mut response: reqwest::Response,
    max_body_bytes: usize,
) -> Result<Vec<u8>, IntrospectionError> {
    const TOO_LARGE: IntrospectionError = IntrospectionError::Broken(
        "introspection answer larger than max_body_bytes; raise Introspection::max_body_bytes \
         if the AS's answers are legitimately this large",
    );
    // Refuse early when the announced size is already too large; the loop below enforces the
    // bound anyway, as `Content-Length` may be absent (chunked) or wrong.
    if response
        .content_length()
        .is_some_and(|len| len > max_body_bytes as u64)
    {
        return Err(TOO_LARGE);
    }
    let capacity = response
        .content_length()
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(1024)
        .min(max_body_bytes);
    let mut body = Vec::with_capacity(capacity);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > max_body_bytes {
                    return Err(TOO_LARGE);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => {
                crate::log::debug!(
                    "reading the introspection answer failed: {}",
                    error.without_url()
                );
                // The connection broke mid-answer: the AS stopped answering.
                return Err(IntrospectionError::Unreachable(
                    "reading the introspection answer failed",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(input: &str) -> String {
        let mut out = String::new();
        form_encode(&mut out, input);
        out
    }

    #[test]
    fn form_encoding_follows_the_urlencoded_algorithm() {
        assert_eq!(encoded("aZ09*-._"), "aZ09*-._");
        assert_eq!(encoded("a b"), "a+b");
        assert_eq!(encoded("s3cr:t/+é&=%~"), "s3cr%3At%2F%2B%C3%A9%26%3D%25%7E");
        assert_eq!(encoded(""), "");
    }

    #[test]
    fn error_answers_are_classified_by_their_code() {
        let class = |body: &str| match classify_error_answer(body.as_bytes()) {
            IntrospectionError::Unconfirmable(_) => "token",
            IntrospectionError::Broken(_) => "broken",
            other => panic!("{body}: {other:?}"),
        };
        for body in [
            r#"{"error":"unsupported_token_type"}"#,
            r#"{"error":"invalid_request","error_description":"Failed to introspect token."}"#,
            r#"{"error":"invalid_token"}"#,
        ] {
            assert_eq!(class(body), "token", "{body}");
        }
        for body in [
            r#"{"error":"invalid_client"}"#,
            r#"{"error":"server_error"}"#,
            r#"{"error":"INVALID_REQUEST"}"#,
            r#"{"error":["invalid_request"]}"#,
            r#"{"error_description":"invalid_request"}"#,
            r#"["invalid_request"]"#,
            "invalid_request",
            "",
        ] {
            assert_eq!(class(body), "broken", "{body}");
        }
    }

    #[test]
    fn credentials_are_prepared_per_method() {
        let basic = Credentials::new(&ClientAuth::Basic {
            client_id: "my client".into(),
            client_secret: "p:ss%".into(),
        });
        let Some(basic) = basic else { panic!("basic") };
        let expected = format!("Basic {}", BASE64.encode("my+client:p%3Ass%25"));
        assert_eq!(
            basic.authorization,
            Some(HeaderValue::from_str(&expected).unwrap())
        );
        assert!(
            basic
                .authorization
                .as_ref()
                .is_some_and(HeaderValue::is_sensitive)
        );
        assert_eq!(
            request_body("a b+c", &basic),
            "token=a+b%2Bc&token_type_hint=access_token"
        );

        let Some(post) = Credentials::new(&ClientAuth::Post {
            client_id: "c".into(),
            client_secret: "s&t".into(),
        }) else {
            panic!("post")
        };
        assert!(post.authorization.is_none());
        assert_eq!(
            request_body("t", &post),
            "token=t&token_type_hint=access_token&client_id=c&client_secret=s%26t"
        );

        assert!(
            Credentials::new(&ClientAuth::Bearer {
                credential: "bad\nvalue".into()
            })
            .is_none()
        );
        assert!(!format!("{post:?}").contains("s%26t"));
    }
}
