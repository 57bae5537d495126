//! Client authentication at the token, introspection and revocation endpoints: RFC 6749 §2.3.1
//! (`client_secret_basic`, `client_secret_post`) and, for introspection, a bearer credential
//! (RFC 7662 §2.1 leaves the method open).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};

use super::error::OAuthError;
use super::form::Form;
use crate::state::Config;

/// Who authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A registered client, by id.
    Client(String),
    /// The holder of the configured introspection bearer credential.
    Bearer,
}

/// Authenticates the caller, allowing a bearer credential when `allow_bearer`.
pub(crate) fn authenticate(
    config: &Config,
    headers: &HeaderMap,
    form: &Form,
    allow_bearer: bool,
) -> Result<Caller, OAuthError> {
    let authorization = headers.get(header::AUTHORIZATION);
    let posted_secret = form.get("client_secret");
    match (authorization, posted_secret) {
        // RFC 6749 §2.3: a client must not use more than one method in a request.
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "client credentials are both in the Authorization header and in the body",
        )),
        (Some(value), None) => {
            let value = value.to_str().map_err(|_| bad_header())?;
            let (scheme, credentials) = value.split_once(' ').ok_or_else(bad_header)?;
            let credentials = credentials.trim();
            if scheme.eq_ignore_ascii_case("basic") {
                let (id, secret) = decode_basic(credentials).ok_or_else(bad_header)?;
                check(config, &id, &secret)
            } else if allow_bearer && scheme.eq_ignore_ascii_case("bearer") {
                match &config.introspection_bearer {
                    Some(expected) if expected == credentials => Ok(Caller::Bearer),
                    _ => Err(OAuthError::invalid_client("unknown bearer credential")),
                }
            } else {
                Err(OAuthError::invalid_client(
                    "unsupported authentication scheme",
                ))
            }
        }
        (None, Some(secret)) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client_secret without client_id"))?;
            check(config, id, secret)
        }
        (None, None) => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

fn bad_header() -> OAuthError {
    OAuthError::invalid_client("malformed Authorization header")
}

fn check(config: &Config, id: &str, secret: &str) -> Result<Caller, OAuthError> {
    config
        .clients
        .iter()
        .find(|c| c.id == id && c.secret == secret)
        .map(|c| Caller::Client(c.id.clone()))
        .ok_or_else(|| OAuthError::invalid_client("unknown client or wrong secret"))
}

/// `base64(id ":" secret)`; RFC 6749 §2.3.1 form-encodes both halves first, which most clients
/// skip, so the halves are decoded only when they hold an escape.
fn decode_basic(credentials: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(credentials).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

fn form_decode(part: &str) -> Option<String> {
    if !part.contains('%') {
        return Some(part.to_owned());
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        let encoded = STANDARD.encode("my%20client:s3cr%3At");
        assert_eq!(
            decode_basic(&encoded),
            Some(("my client".into(), "s3cr:t".into()))
        );
        let plain = STANDARD.encode("id:a+b");
        assert_eq!(decode_basic(&plain), Some(("id".into(), "a+b".into())));
        assert_eq!(decode_basic("%%%"), None);
    }
}
