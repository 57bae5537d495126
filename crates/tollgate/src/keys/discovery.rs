//! Authorization server metadata: RFC 8414 first, then OpenID Connect Discovery 1.0.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::AuthServerMetadata;
use super::fetch::get_bounded;
use crate::log::{debug, warn};

/// The two metadata URLs for `issuer`, in the order they are tried.
///
/// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` goes *between* the host and the
/// issuer's path, after removing a terminating `/`. OpenID Connect Discovery 1.0 §4:
/// `/.well-known/openid-configuration` is *appended* to the issuer, without doubling a `/`.
pub(super) fn metadata_urls(issuer: &str) -> Result<[Url; 2], String> {
    let parsed = Url::parse(issuer).map_err(|err| format!("issuer is not a URL: {err}"))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err("issuer is not an http(s) URL".to_owned());
    }
    // RFC 8414 §2: the issuer identifier has no query and no fragment.
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("issuer has a query or fragment (RFC 8414 §2)".to_owned());
    }
    let path = parsed.path().trim_end_matches('/');
    let mut rfc8414 = parsed.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let mut openid = parsed.clone();
    openid.set_path(&format!("{path}/.well-known/openid-configuration"));
    Ok([rfc8414, openid])
}

/// The metadata members tollgate uses (RFC 8414 §2); the others are ignored.
#[derive(Deserialize)]
struct RawMetadata {
    issuer: String,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
}

/// Why a metadata document was discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MetadataError {
    /// It speaks for another issuer (RFC 8414 §3.3).
    IssuerMismatch { found: String },
    /// Not JSON, no `jwks_uri`, or an unusable `jwks_uri`.
    Invalid(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssuerMismatch { found } => write!(
                f,
                "its issuer {found:?} is not the configured issuer (RFC 8414 §3.3); discarded"
            ),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

/// Parses and checks one metadata document: `issuer` must equal the configured issuer
/// exactly (RFC 8414 §3.3, OpenID Connect Discovery §4.3), and `jwks_uri` must be there.
/// Returns the metadata and the parsed JWKS URL.
pub(super) fn parse_metadata(
    body: &[u8],
    issuer: &str,
) -> Result<(AuthServerMetadata, Url), MetadataError> {
    let invalid = |why: String| MetadataError::Invalid(why);
    let raw: RawMetadata = serde_json::from_slice(body).map_err(|err| {
        invalid(format!(
            "not a metadata document (line {} column {})",
            err.line(),
            err.column()
        ))
    })?;
    if raw.issuer != issuer {
        return Err(MetadataError::IssuerMismatch {
            found: raw.issuer.chars().take(200).collect(),
        });
    }
    let jwks_uri = raw
        .jwks_uri
        .as_deref()
        .ok_or_else(|| invalid("it has no jwks_uri".to_owned()))?;
    let jwks_url =
        Url::parse(jwks_uri).map_err(|err| invalid(format!("its jwks_uri is not a URL: {err}")))?;
    match jwks_url.scheme() {
        "https" => {}
        // Plain http only for a plain-http issuer (a test or a loopback setup): an https issuer
        // must not hand its keys out over a channel anyone on the path can rewrite.
        "http" if issuer.starts_with("http:") => {}
        _ => return Err(invalid("its jwks_uri must be an https URL".to_owned())),
    }
    let metadata = AuthServerMetadata {
        jwks_uri: raw.jwks_uri,
        introspection_endpoint: raw.introspection_endpoint,
    };
    Ok((metadata, jwks_url))
}

/// Fetches the metadata of `issuer`: the RFC 8414 document, else the OpenID one.
///
/// A document that fails its checks is discarded and the next one tried; when neither is
/// usable, the error names what went wrong with each.
pub(super) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(AuthServerMetadata, Url), String> {
    let urls = metadata_urls(issuer)?;
    let mut failures = Vec::with_capacity(urls.len());
    for url in urls {
        let outcome = match get_bounded(client, &url, timeout, max_bytes).await {
            Ok(fetched) => parse_metadata(&fetched.body, issuer).map_err(|err| {
                // A document that answers for another issuer is worth a warning of its own:
                // someone serves the wrong metadata, or the issuer is misconfigured.
                if matches!(err, MetadataError::IssuerMismatch { .. }) {
                    warn!("metadata at {url}: {err}");
                }
                err.to_string()
            }),
            Err(err) => Err(err.to_string()),
        };
        match outcome {
            Ok(found) => {
                debug!("discovered the metadata of {issuer} at {url}");
                return Ok(found);
            }
            Err(why) => failures.push(format!("{url}: {why}")),
        }
    }
    Err(format!("discovery failed: {}", failures.join("; ")))
}
