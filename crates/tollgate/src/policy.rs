//! A table of method + path patterns to [`Requirement`]s, for services without a router
//! (DESIGN §6).

use std::borrow::Cow;
use std::sync::Arc;

use http::Method;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::requirement::Requirement;

/// Maps requests to requirements by method and path; the first matching rule wins, and
/// requests no rule matches get the default (routine unless changed).
///
/// Patterns are absolute paths whose segments are literals, `{name}` (exactly one segment) or a
/// final `{*name}` (zero or more segments, so `/admin/{*rest}` also covers `/admin`). Methods
/// are `*` (any), one method, or a comma-separated list; a rule for `GET` also covers `HEAD`,
/// since routers answer `HEAD` with the `GET` handler.
///
/// Paths are compared after decoding percent-escapes and removing empty, `.` and `..`
/// segments, so a route cannot be reached under another spelling (`/%61dmin`, `//admin`,
/// `/x/../admin`) without meeting its requirement.
///
/// ```
/// use std::time::Duration;
/// use http::Method;
/// use tollgate::{PolicyTable, Requirement};
///
/// let table = PolicyTable::builder()
///     .rule("GET", "/health", Requirement::public())
///     .rule("POST", "/payments", Requirement::sensitive(Duration::ZERO).all_scopes(["payments"]))
///     .rule("*", "/admin/{*rest}", Requirement::sensitive(Duration::from_secs(5)).all_scopes(["admin"]))
///     .build()
///     .unwrap();
/// assert!(table.requirement_for(&Method::DELETE, "/admin/users/7").is_sensitive());
/// assert!(table.requirement_for(&Method::GET, "/%61dmin/users").is_sensitive());
/// assert!(table.requirement_for(&Method::HEAD, "/health").is_public());
/// assert!(!table.requirement_for(&Method::GET, "/photos").is_sensitive());
/// ```
#[derive(Debug, Clone)]
pub struct PolicyTable {
    rules: Vec<Rule>,
    default: Arc<Requirement>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None` matches any method.
    methods: Option<Vec<Method>>,
    segments: Vec<Segment>,
    requirement: Arc<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
    Rest,
}

/// Builds a [`PolicyTable`]; patterns are checked by [`build`](Self::build).
#[derive(Debug, Default)]
#[must_use]
pub struct PolicyTableBuilder {
    rules: Vec<(String, String, Requirement)>,
    default: Option<Requirement>,
}

impl PolicyTable {
    /// Starts a table.
    pub fn builder() -> PolicyTableBuilder {
        PolicyTableBuilder::default()
    }

    /// A table with no rules: every request gets `requirement`.
    ///
    /// # Panics
    ///
    /// If `requirement` is invalid (see [`Requirement`] for the rules), as
    /// [`Tollgate::require`](crate::Tollgate::require) does. [`try_uniform`](Self::try_uniform)
    /// returns the error instead.
    #[track_caller]
    pub fn uniform(requirement: Requirement) -> Self {
        Self::try_uniform(requirement).unwrap_or_else(|error| crate::requirement::refuse(&error))
    }

    /// [`uniform`](Self::uniform), returning an invalid requirement's error instead of
    /// panicking.
    ///
    /// # Errors
    /// A [`ConfigError`] of kind [`Requirement`](ConfigErrorKind::Requirement).
    pub fn try_uniform(requirement: Requirement) -> Result<Self, ConfigError> {
        requirement.validate()?;
        Ok(Self {
            rules: Vec::new(),
            default: Arc::new(requirement),
        })
    }

    /// The requirement for a request.
    pub fn requirement_for(&self, method: &Method, path: &str) -> &Arc<Requirement> {
        if self.rules.is_empty() {
            return &self.default;
        }
        let segments = normalize(path);
        self.rules
            .iter()
            .find(|rule| rule.matches_method(method) && rule.matches_path(&segments))
            .map_or(&self.default, |rule| &rule.requirement)
    }
}

impl Rule {
    fn matches_method(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(methods) => methods
                .iter()
                .any(|m| m == method || (*method == Method::HEAD && *m == Method::GET)),
        }
    }

    fn matches_path(&self, path: &[Cow<'_, str>]) -> bool {
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::Param => {
                    if i >= path.len() {
                        return false;
                    }
                }
                Segment::Literal(lit) => {
                    if path.get(i).is_none_or(|p| p != lit) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == path.len()
    }
}

impl PolicyTableBuilder {
    /// Adds a rule: `methods` is `*`, a method, or a comma-separated list; `pattern` as
    /// described on [`PolicyTable`].
    pub fn rule(mut self, methods: &str, pattern: &str, requirement: Requirement) -> Self {
        self.rules
            .push((methods.to_owned(), pattern.to_owned(), requirement));
        self
    }

    /// The requirement of requests no rule matches. Defaults to [`Requirement::routine`].
    pub fn default_requirement(mut self, requirement: Requirement) -> Self {
        self.default = Some(requirement);
        self
    }

    /// Checks every pattern, method and requirement, and builds the table.
    ///
    /// # Errors
    /// A [`ConfigError`] of kind [`Policy`](ConfigErrorKind::Policy) naming the bad entry.
    pub fn build(self) -> Result<PolicyTable, ConfigError> {
        let default = self.default.unwrap_or_default();
        default.validate()?;
        let mut rules = Vec::with_capacity(self.rules.len());
        for (methods, pattern, requirement) in self.rules {
            requirement.validate()?;
            rules.push(Rule {
                methods: parse_methods(&methods)?,
                segments: parse_pattern(&pattern)?,
                requirement: Arc::new(requirement),
            });
        }
        Ok(PolicyTable {
            rules,
            default: Arc::new(default),
        })
    }
}

fn policy_error(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Policy, message)
}

fn parse_methods(methods: &str) -> Result<Option<Vec<Method>>, ConfigError> {
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

fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, ConfigError> {
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err(policy_error(format!(
            "pattern {pattern:?} must start with '/'"
        )));
    };
    let raw: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut segments = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let segment = if let Some(name) = s.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
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
        } else if s.contains(['{', '}', '*']) || *s == "." || *s == ".." {
            return Err(policy_error(format!(
                "in {pattern:?}, {s:?} is not a valid literal segment"
            )));
        } else {
            Segment::Literal((*s).to_owned())
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// Decodes percent-escapes per segment and resolves empty, `.` and `..` segments
/// (RFC 3986 §5.2.4), the way a lenient router or file server would see the path.
fn normalize(path: &str) -> Vec<Cow<'_, str>> {
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(8);
    for raw in path.split('/') {
        let segment = percent_decode(raw);
        match segment.as_ref() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    out
}

fn percent_decode(segment: &str) -> Cow<'_, str> {
    if !segment.contains('%') {
        return Cow::Borrowed(segment);
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            #[allow(clippy::cast_possible_truncation)]
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn table() -> PolicyTable {
        PolicyTable::builder()
            .rule("GET", "/health", Requirement::public())
            .rule("POST", "/payments", Requirement::sensitive(Duration::ZERO))
            .rule(
                "DELETE,POST",
                "/admin/users/{id}",
                Requirement::sensitive(Duration::from_secs(1)),
            )
            .rule(
                "*",
                "/admin/{*rest}",
                Requirement::routine().all_scopes(["admin"]),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn first_match_wins() {
        let t = table();
        assert_eq!(
            t.requirement_for(&Method::DELETE, "/admin/users/7").live,
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            t.requirement_for(&Method::GET, "/admin/users/7").all_scopes,
            vec!["admin".to_owned()]
        );
        assert_eq!(
            t.requirement_for(&Method::GET, "/admin").all_scopes,
            vec!["admin".to_owned()]
        );
        assert!(t.requirement_for(&Method::POST, "/payments").is_sensitive());
        assert!(!t.requirement_for(&Method::GET, "/payments").is_sensitive());
        assert!(
            !t.requirement_for(&Method::GET, "/payments/x")
                .is_sensitive()
        );
        assert!(t.requirement_for(&Method::HEAD, "/health").is_public());
        assert_eq!(
            **t.requirement_for(&Method::GET, "/photos"),
            Requirement::routine()
        );
    }

    #[test]
    fn other_spellings_of_a_path_still_match() {
        let t = table();
        for path in [
            "//payments",
            "/payments/",
            "/%70ayments",
            "/x/../payments",
            "/./payments",
            "/%2e%2e/payments",
        ] {
            assert!(
                t.requirement_for(&Method::POST, path).is_sensitive(),
                "{path}"
            );
        }
    }

    #[test]
    fn bad_entries_are_refused() {
        for (m, p) in [
            ("GET", "admin"),
            ("get", "/a"),
            ("G T", "/a"),
            ("GET", "/{*rest}/x"),
            ("GET", "/{}"),
            ("GET", "/a*"),
        ] {
            assert!(
                PolicyTable::builder()
                    .rule(m, p, Requirement::routine())
                    .build()
                    .is_err(),
                "{m} {p}"
            );
        }
        assert!(
            PolicyTable::builder()
                .rule("GET", "/a", Requirement::routine().all_scopes(["a\"b"]))
                .build()
                .is_err()
        );
    }
}
