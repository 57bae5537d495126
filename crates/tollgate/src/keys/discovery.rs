//! Authorization server metadata: RFC 8414 first, then OpenID Connect Discovery 1.0.

use std::fmt;

use reqwest::Url;
use serde::Deserialize;

use super::fetch::get_bounded;
use super::{AuthServerMetadata, KeySetConfig, MetadataUrls};
use crate::log::{debug, error, warn};
use crate::url_rules::{UrlRole, UrlRules, for_log};

/// The two metadata URLs for `issuer`, in the order they are tried.
///
/// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` goes *between* the host and the
/// issuer's path, after removing a terminating `/`. OpenID Connect Discovery 1.0 §4:
/// `/.well-known/openid-configuration` is *appended* to the issuer, without doubling a `/`.
pub(super) fn metadata_urls(issuer: &str) -> Result<[Url; 2], String> {
    // `build()` made the same check; this keeps the function safe on its own.
    let parsed = UrlRules::new(issuer, false)
        .check(issuer, UrlRole::Issuer)
        .map_err(|err| err.to_string())?;
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
    /// Not JSON, or no `jwks_uri`.
    Invalid(String),
    /// Its `jwks_uri` breaks the URL rules every configured one is held to.
    Refused(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssuerMismatch { found } => write!(
                f,
                "its issuer {found:?} is not the configured issuer (RFC 8414 §3.3); discarded"
            ),
            Self::Invalid(why) | Self::Refused(why) => f.write_str(why),
        }
    }
}

/// Parses and checks one metadata document: `issuer` must equal the configured issuer
/// exactly (RFC 8414 §3.3, OpenID Connect Discovery §4.3), and `jwks_uri` must be there.
/// Both endpoints are held to the rules configured ones are (`crate::url_rules`): a refused
/// `jwks_uri` discards the document, a refused `introspection_endpoint` is left out of it
/// (and the reason kept in `refused_introspection_endpoint`). Returns the metadata and the
/// parsed JWKS URL.
pub(super) fn parse_metadata(
    body: &[u8],
    issuer: &str,
    rules: &UrlRules,
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
    // An https issuer must not hand its keys out over a channel anyone on the path can
    // rewrite, whatever its metadata says.
    let jwks_url = rules
        .check(jwks_uri, UrlRole::DiscoveredJwksUri)
        .map_err(|err| {
            MetadataError::Refused(format!(
                "{err} ({}); the metadata is discarded",
                for_log(jwks_uri)
            ))
        })?;
    let (introspection_endpoint, refused_introspection_endpoint) = match raw.introspection_endpoint
    {
        None => (None, None),
        Some(endpoint) => match rules.check(&endpoint, UrlRole::DiscoveredIntrospectionEndpoint) {
            Ok(_) => (Some(endpoint), None),
            // Never used, so no token is sent there.
            Err(err) => (None, Some(format!("{err} ({})", for_log(&endpoint)))),
        },
    };
    let metadata = AuthServerMetadata {
        jwks_uri: raw.jwks_uri,
        introspection_endpoint,
        refused_introspection_endpoint,
    };
    Ok((metadata, jwks_url))
}

/// Which refusals of discovered endpoints were logged at ERROR already: each is worth one
/// ERROR, not one per (re)discovery.
#[derive(Debug, Default)]
pub(super) struct RefusalsLogged {
    jwks_uri: bool,
    introspection_endpoint: bool,
}

/// The metadata URLs to try for `issuer`, in order, as `which` says.
fn urls_to_try(issuer: &str, which: &MetadataUrls) -> Result<Vec<Url>, String> {
    Ok(match which {
        MetadataUrls::Rfc8414First => metadata_urls(issuer)?.to_vec(),
        MetadataUrls::OpenIdFirst => {
            let [rfc8414, openid] = metadata_urls(issuer)?;
            vec![openid, rfc8414]
        }
        MetadataUrls::Only(url) => {
            vec![Url::parse(url).map_err(|err| format!("discovery URL {url:?}: {err}"))?]
        }
    })
}

/// Fetches the metadata of `issuer`: the RFC 8414 document, else the OpenID one (or in the
/// order, or from the one URL, the configuration says).
///
/// A document that fails its checks is discarded and the next one tried; when none is usable,
/// the error names what went wrong with each.
pub(super) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    config: &KeySetConfig,
    logged: &mut RefusalsLogged,
) -> Result<(AuthServerMetadata, Url), String> {
    let urls = urls_to_try(issuer, &config.metadata)?;
    let mut failures = Vec::with_capacity(urls.len());
    for url in urls {
        let outcome = match get_bounded(client, &url, config.fetch_timeout, config.max_body_bytes)
            .await
        {
            Ok(fetched) => {
                parse_metadata(&fetched.body, issuer, &config.url_rules).map_err(|err| {
                    match err {
                        // A document that answers for another issuer is worth a warning of its
                        // own: someone serves the wrong metadata, or the issuer is
                        // misconfigured.
                        MetadataError::IssuerMismatch { .. } => warn!("metadata at {url}: {err}"),
                        // Lasts until the AS (or the configuration) is fixed.
                        MetadataError::Refused(_) if !logged.jwks_uri => {
                            logged.jwks_uri = true;
                            error!("metadata at {url}: {err}");
                        }
                        _ => {}
                    }
                    err.to_string()
                })
            }
            Err(err) => Err(err.to_string()),
        };
        match outcome {
            Ok(found) => {
                debug!("discovered the metadata of {issuer} at {url}");
                if let Some(why) = &found.0.refused_introspection_endpoint {
                    if config.introspection_discovered && !logged.introspection_endpoint {
                        logged.introspection_endpoint = true;
                        error!(
                            "metadata at {url}: {why}; it is not used, and sensitive routes \
                             answer 503 until the metadata is fixed or Introspection::endpoint \
                             is configured"
                        );
                    } else {
                        debug!("metadata at {url}: {why}; not used");
                    }
                }
                return Ok(found);
            }
            Err(why) => failures.push(format!("{url}: {why}")),
        }
    }
    Err(format!("discovery failed: {}", failures.join("; ")))
}
