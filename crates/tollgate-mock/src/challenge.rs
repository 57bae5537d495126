//! Reading a `WWW-Authenticate: Bearer ...` challenge (RFC 6750 §3), or a `DPoP ...` one
//! (RFC 9449 §7.1), as a client does: for tests that assert what a protected API answered, and
//! programs that show why it refused.
//!
//! ```
//! use tollgate_mock::challenge::param;
//!
//! let challenge = r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#;
//! assert_eq!(param(challenge, "error").as_deref(), Some("invalid_token"));
//! assert_eq!(param(challenge, "error_description").as_deref(), Some("the token has expired"));
//! assert_eq!(param(challenge, "scope"), None);
//!
//! let dpop = r#"DPoP error="invalid_dpop_proof", algs="ES256 EdDSA""#;
//! assert_eq!(param(dpop, "algs").as_deref(), Some("ES256 EdDSA"));
//! ```

/// The value of the quoted parameter `name` of a `Bearer` or `DPoP` challenge, unescaped;
/// `None` when the challenge does not have it.
pub fn param(challenge: &str, name: &str) -> Option<String> {
    let rest = challenge
        .strip_prefix("Bearer")
        .or_else(|| challenge.strip_prefix("DPoP"))?;
    let mut chars = rest.chars().peekable();
    loop {
        // Skip separators between parameters.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        chars.peek()?;
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            value
        } else {
            // A token value (RFC 9110 §11.2): up to the next comma.
            chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_owned()
        };
        if key.trim() == name {
            return Some(value);
        }
    }
}

/// The parameters of a challenge that explain a refusal, in one line: `error: description`,
/// plus `scope`, `acr_values` or `max_age` when present (RFC 6750 §3, RFC 9470 §3). `None` for
/// a bare challenge, which asks for a token without saying what was wrong with one.
///
/// ```
/// use tollgate_mock::challenge::explain;
///
/// let c = r#"Bearer realm="api", error="insufficient_scope", scope="admin write""#;
/// assert_eq!(explain(c).as_deref(), Some(r#"insufficient_scope (scope="admin write")"#));
/// assert_eq!(explain(r#"Bearer realm="api""#), None);
/// ```
pub fn explain(challenge: &str) -> Option<String> {
    let error = param(challenge, "error")?;
    let mut line = match param(challenge, "error_description") {
        Some(description) => format!("{error}: {description}"),
        None => error,
    };
    for extra in ["scope", "acr_values", "max_age"] {
        if let Some(value) = param(challenge, extra) {
            line.push_str(&format!(" ({extra}=\"{value}\")"));
        }
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_error_description_and_extras() {
        let c = r#"Bearer error="invalid_token", error_description="the token has expired""#;
        assert_eq!(
            explain(c).as_deref(),
            Some("invalid_token: the token has expired")
        );
        let c = r#"Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=60"#;
        assert_eq!(
            explain(c).as_deref(),
            Some(r#"insufficient_user_authentication (acr_values="mfa") (max_age="60")"#)
        );
        assert_eq!(explain("Bearer"), None);
    }

    #[test]
    fn escapes_order_and_token_values() {
        let c = r#"Bearer realm="we\"ird, realm", error="insufficient_scope", scope="admin write", max_age=60"#;
        assert_eq!(param(c, "realm").as_deref(), Some(r#"we"ird, realm"#));
        assert_eq!(param(c, "scope").as_deref(), Some("admin write"));
        assert_eq!(param(c, "max_age").as_deref(), Some("60"));
        assert_eq!(param(r#"Bearer realm="api""#, "error"), None);
        assert_eq!(param("Bearer", "realm"), None);
        assert_eq!(param("Basic realm=\"x\"", "realm"), None);
    }
}
