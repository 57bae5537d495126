//! One line that explains a refusal, from its `WWW-Authenticate: Bearer ...` challenge
//! (RFC 6750 §3). The parameters are read with [`tollgate_mock::challenge::param`].

use tollgate_mock::challenge::param;

/// The parameters of a challenge that explain a refusal, in one line: `error: description`,
/// plus `scope`, `acr_values` or `max_age` when present. `None` for a bare challenge.
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
        let c = r#"Bearer realm="api", error="insufficient_scope", scope="admin write""#;
        assert_eq!(
            explain(c).as_deref(),
            Some(r#"insufficient_scope (scope="admin write")"#)
        );
        let c = r#"Bearer error="invalid_token", error_description="the token has expired""#;
        assert_eq!(
            explain(c).as_deref(),
            Some("invalid_token: the token has expired")
        );
        assert_eq!(explain("Bearer"), None);
    }
}
