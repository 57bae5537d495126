//! The rules of a [`PolicyTable`](super::PolicyTable) as written: method lists, and path
//! patterns whose literals are checked and decoded when the table is built.

use http::Method;

use super::Segment;
use super::path;
use crate::error::{ConfigError, ConfigErrorKind};

fn policy_error(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Policy, message)
}

pub(super) fn parse_methods(methods: &str) -> Result<Option<Vec<Method>>, ConfigError> {
    if methods.trim() == "*" {
        return Ok(None);
    }
    let parsed = methods
        .split(',')
        .map(|m| {
            let m = m.trim();
            if m.is_empty() || m.bytes().any(|b| b.is_ascii_lowercase()) {
                return Err(policy_error(format!(
                    "{methods:?} is not a method list (use upper case, e.g. \"GET,POST\")"
                )));
            }
            Method::from_bytes(m.as_bytes())
                .map_err(|_| policy_error(format!("{m:?} is not an HTTP method")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(parsed))
}

pub(super) fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, ConfigError> {
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err(policy_error(format!(
            "pattern {pattern:?} must start with '/'"
        )));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let segment = if s.is_empty() {
            return Err(policy_error(format!(
                "in {pattern:?}, empty segments (\"//\" or a trailing '/') are not allowed; a \
                 request with a trailing slash is judged with and without it"
            )));
        } else if let Some(name) = s.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
            if i + 1 != raw.len() || name.is_empty() {
                return Err(policy_error(format!(
                    "in {pattern:?}, a {{*name}} segment must be named and come last"
                )));
            }
            Segment::Rest
        } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if name.is_empty() || name.contains(['{', '}', '*']) {
                return Err(policy_error(format!(
                    "in {pattern:?}, {s:?} is not a valid parameter"
                )));
            }
            Segment::Param
        } else {
            parse_literal(s).map_err(|why| {
                policy_error(format!(
                    "in {pattern:?}, the segment {s:?} can never match: {why}"
                ))
            })?
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// Checks a literal segment and decodes its escapes; the error says why no request that the
/// table accepts could match it.
fn parse_literal(raw: &str) -> Result<Segment, String> {
    if raw == "." || raw == ".." {
        return Err("requests with a dot segment are refused".to_owned());
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let Some(byte) = path::escape_at(bytes, i) else {
                    return Err("'%' must start an escape of two hex digits".to_owned());
                };
                let escape = raw.get(i..i + 3).unwrap_or_default();
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    // RFC 3986 §2.3: they mean the same; routers that compare the path as
                    // sent would not match the escaped spelling.
                    return Err(format!(
                        "{escape} is {:?}, which is written unescaped",
                        char::from(byte)
                    ));
                }
                match byte {
                    b'/' | b'\\' => return Err(format!("requests with {escape} are refused")),
                    b';' => return Err(format!("requests with {escape} are refused")),
                    0x00..=0x1f | 0x7f => {
                        return Err(format!("requests with {escape} are refused"));
                    }
                    b'%' if path::escapes_an_escape(bytes, i + 3) => {
                        return Err("requests with an escaped escape are refused".to_owned());
                    }
                    _ => {}
                }
                decoded.push(byte);
                i += 3;
            }
            b'{' | b'}' | b'*' => {
                return Err("'{', '}' and '*' only appear in parameters".to_owned());
            }
            b'\\' | b';' => {
                return Err(format!("requests with {:?} are refused", char::from(b)));
            }
            // Not allowed in a request path (RFC 3986 §3.3), or ending it.
            0x00..=0x20 | 0x7f | b'?' | b'#' | b'<' | b'>' | b'`' => {
                return Err(format!(
                    "{:?} cannot appear in a request path unescaped",
                    char::from(b)
                ));
            }
            _ => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let decoded =
        String::from_utf8(decoded).map_err(|_| "its escapes do not decode to UTF-8".to_owned())?;
    Ok(Segment::Literal {
        raw: raw.to_owned(),
        decoded,
    })
}
