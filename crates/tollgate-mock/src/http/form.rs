//! `application/x-www-form-urlencoded` request bodies (RFC 6749 §3.2, RFC 7662 §2.1).

use std::collections::HashMap;

use axum::body::Body;
use http::{HeaderMap, header};

use super::error::OAuthError;

/// Bodies larger than this are refused: every legitimate request here is a few hundred bytes.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The parameters of a form body.
#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    /// Reads and parses the body of a POST to an OAuth endpoint.
    pub(crate) async fn read(headers: &HeaderMap, body: Body) -> Result<Form, OAuthError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|media| {
                media
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| OAuthError::invalid_request("the body is unreadable or too large"))?;
        Form::parse(&bytes)
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Form, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| OAuthError::invalid_request("the body is not a valid form"))?;
        let mut params = HashMap::new();
        for (name, value) in pairs {
            // RFC 6749 §3.1: empty parameters count as absent; none may be repeated.
            if value.is_empty() {
                continue;
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            }
        }
        Ok(Form(params))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let form = Form::parse(b"token=a%2Bb+c&token_type_hint=&x=1").unwrap();
        assert_eq!(form.get("token"), Some("a+b c"));
        assert_eq!(form.get("token_type_hint"), None);
        assert!(Form::parse(b"token=a&token=b").is_err());
        // Invalid UTF-8 is decoded lossily, never a panic.
        assert!(Form::parse(b"\xff\xfe=1").unwrap().get("token").is_none());
    }
}
