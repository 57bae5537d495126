//! Bounded HTTP GETs of metadata and JWKS documents, and `Cache-Control` freshness.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use http::HeaderValue;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use reqwest::Url;

use crate::log::debug;

/// A successful GET: the whole body, and what the response said about its freshness.
pub(super) struct Fetched {
    pub(super) body: Vec<u8>,
    pub(super) freshness: Freshness,
}

/// What `Cache-Control` (RFC 9111 §5.2.2) says about how long the document stays fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    /// `max-age=N`.
    MaxAge(Duration),
    /// `no-cache` or `no-store`: refresh as often as allowed.
    NoCache,
    /// No usable directive.
    Unspecified,
}

impl Freshness {
    /// When to fetch again: `max-age` clamped into `[min, max]`, `min` for `no-cache` /
    /// `no-store`, and `default` when the server said nothing.
    pub(super) fn next_refresh(self, default: Duration, min: Duration, max: Duration) -> Duration {
        match self {
            // `max(min).min(max)` rather than `clamp`, which panics when min > max.
            Self::MaxAge(age) => age.max(min).min(max),
            Self::NoCache => min,
            Self::Unspecified => default,
        }
    }
}

/// Reads the freshness from every `Cache-Control` field line of a response.
///
/// Directive names are case-insensitive (RFC 9111 §5.2); `no-store` and `no-cache` win over
/// `max-age`; of several `max-age` directives the first counts (RFC 9111 §4.2.1); an invalid
/// `max-age` is ignored; values too large for the clock saturate (RFC 9111 §1.2.2).
pub(super) fn parse_cache_control<'a>(
    values: impl IntoIterator<Item = &'a HeaderValue>,
) -> Freshness {
    let mut max_age = None;
    let mut no_cache = false;
    for value in values {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim())),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                no_cache = true;
            } else if name.eq_ignore_ascii_case("max-age")
                && max_age.is_none()
                && let Some(seconds) = argument.and_then(delta_seconds)
            {
                max_age = Some(Duration::from_secs(seconds));
            }
        }
    }
    match (no_cache, max_age) {
        (true, _) => Freshness::NoCache,
        (false, Some(age)) => Freshness::MaxAge(age),
        (false, None) => Freshness::Unspecified,
    }
}

/// RFC 9111 §1.2.2 delta-seconds: digits only (a quoted value is tolerated, as §5.2 asks of
/// recipients); too large saturates at 2^31.
fn delta_seconds(argument: &str) -> Option<u64> {
    let digits = argument
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(argument);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX).min(1 << 31))
}

/// Why a GET gave no document.
#[derive(Debug)]
pub(super) enum FetchError {
    /// Connecting, sending or reading failed.
    Request(String),
    /// The whole exchange took longer than the fetch timeout.
    Timeout,
    /// A status other than 2xx.
    Status(u16),
    /// The body is larger than allowed.
    TooLarge { limit: usize },
    /// The client followed a redirect to another origin.
    OtherOrigin(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(why) => write!(f, "request failed: {why}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Status(code) if (300..400).contains(code) => {
                write!(f, "HTTP status {code} (redirects are not followed)")
            }
            Self::Status(code) => write!(f, "HTTP status {code}"),
            Self::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Self::OtherOrigin(to) => write!(f, "redirected to another origin ({to}); refused"),
        }
    }
}

fn request_error(err: reqwest::Error) -> FetchError {
    if err.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Request(describe(&err))
    }
}

/// A reqwest error with its causes ("connection refused" sits a few levels down).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// GETs `url` with the whole exchange bounded by `timeout` and the body by `max_bytes`.
///
/// The body is read chunk by chunk and the read stops as soon as the bound is passed, so a
/// huge or endless answer costs at most `max_bytes` of memory. Any 2xx is accepted; the
/// content type is not required to be JSON (many servers send `text/plain` or nothing), the
/// JSON parser decides.
pub(super) async fn get_bounded(
    client: &reqwest::Client,
    url: &Url,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let exchange = async {
        let mut response = client
            .get(url.clone())
            .header(
                ACCEPT,
                "application/json, application/jwk-set+json;q=0.9, */*;q=0.1",
            )
            .timeout(timeout)
            .send()
            .await
            .map_err(request_error)?;
        // The client is the user's and may follow redirects. The keys and metadata of an issuer
        // come from the URLs it published (RFC 8414 §3, RFC 7517 §5): a redirect within the same
        // origin is harmless, one to another origin would let that origin supply signing keys.
        // The request has no credentials, so following it once did no harm; its answer is
        // refused here. The default client of tollgate follows no redirects at all.
        let final_url = response.url();
        if final_url.scheme() != url.scheme()
            || final_url.host_str() != url.host_str()
            || final_url.port_or_known_default() != url.port_or_known_default()
        {
            return Err(FetchError::OtherOrigin(
                final_url.origin().ascii_serialization(),
            ));
        }
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let limit = max_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(FetchError::TooLarge { limit });
        }
        if let Some(content_type) = response.headers().get(CONTENT_TYPE)
            && !content_type.to_str().is_ok_and(|value| {
                let value = value.to_ascii_lowercase();
                value.starts_with("application/") && value.contains("json")
            })
        {
            debug!("{url} answered with content type {content_type:?}; parsing it as JSON");
        }
        let freshness = parse_cache_control(response.headers().get_all(CACHE_CONTROL));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, freshness })
    };
    // reqwest's own timeout covers the body too, but a user-supplied client might be built
    // differently; this bound holds whatever the client does.
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| FetchError::Timeout)?
}
