//! A table of method + path patterns to [`Requirement`]s, for services without a router.

mod path;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::rejection::Rejection;
use crate::requirement::Requirement;

/// Maps requests to requirements by method and path; the first matching rule wins, and
/// requests no rule matches get the default (routine unless changed).
///
/// Patterns are absolute paths whose segments are literals, `{name}` (exactly one non-empty
/// segment) or a final `{*name}` (zero or more segments, so `/admin/{*rest}` also covers
/// `/admin`). Methods are `*` (any), one method, or a comma-separated list; a rule for `GET`
/// also covers `HEAD`, since routers answer `HEAD` with the `GET` handler.
///
/// Literals are written as a client sends them. Percent-escapes in them are decoded when the
/// table is built and must decode to UTF-8; [`build`](PolicyTableBuilder::build) refuses a
/// literal that no accepted request could match: `.` or `..`, an empty segment (`//`, a trailing
/// `/`), a `\`, `;`, `?`, `#`, space or control character, an escape of `/`, `\`, `;`, `%XX` or a
/// control character, and an escape of a character that needs none (`%61` for `a`: write `a`).
///
/// # How a request path is judged
///
/// The table must never be less strict than the service behind it, however that service reads
/// the path. axum's router and hand-written hyper services dispatch on the path exactly as
/// sent (`/%61dmin` is not `/admin` to them); other routers decode escapes first, ignore a
/// trailing slash, or resolve `..`. So, before any rule is looked up:
///
/// - A path that servers read as *different* paths is refused with 400 `invalid_request`: a
///   `.` or `..` segment in any spelling (`..`, `%2e%2E`, `.%2e`), an encoded slash (`%2F`), a
///   backslash (`\`, `%5C`), an encoded control character (`%00` to `%1F`, `%7F`), an empty
///   segment (`//`), a `;` (`/admin;x` is `/admin` to servlet containers), an escape of an
///   escape (`%252e`), and escapes that are malformed or not UTF-8 (`%zz`, `%c0%ae`). The
///   description is fixed; it never echoes the path.
/// - Any other path is judged under each reading that differs from the path as sent: decoded
///   (`/%61dmin` as `/admin`), and without its trailing slash (`/health/` as `/health`). When the
///   readings select rules with different requirements, the request gets the one that is at
///   least as strict as all the others in every respect (scopes, introspection and its
///   freshness, token and authentication age, `acr`): public only if every reading is public.
///   If none is, e.g. two rules asking for different scopes, the request is refused with 400.
/// - The inner service sees the request URI unchanged.
///
/// A table without rules ([`uniform`](Self::uniform), which route annotations and
/// [`Tollgate::layer`](crate::Tollgate::layer) use) gives every path the same requirement, so
/// it reads no path at all.
///
/// ```
/// use std::time::Duration;
/// use http::{Method, StatusCode};
/// use tollgate::{PolicyTable, Rejection, Requirement};
///
/// let table = PolicyTable::builder()
///     .rule("GET", "/health", Requirement::public())
///     .rule("POST", "/payments", Requirement::sensitive(Duration::ZERO).all_scopes(["payments"]))
///     .rule("*", "/admin/{*rest}", Requirement::sensitive(Duration::from_secs(5)).all_scopes(["admin"]))
///     .build()
///     .unwrap();
/// let judge = |method: Method, path: &str| table.requirement_for(&method, path);
///
/// assert!(judge(Method::DELETE, "/admin/users/7").unwrap().is_sensitive());
/// assert!(judge(Method::HEAD, "/health").unwrap().is_public());
/// assert!(!judge(Method::GET, "/photos").unwrap().is_sensitive());
/// // Decoded, this is `/admin/users`: the admin rule is the stricter reading.
/// assert!(judge(Method::GET, "/%61dmin/users").unwrap().is_sensitive());
/// // As sent, `/health/` is not `/health`: it needs a token.
/// assert!(!judge(Method::GET, "/health/").unwrap().is_public());
/// // An admin route to a router, the health check once `..` is resolved: refused.
/// let refused = judge(Method::GET, "/admin/%2e%2e/health").unwrap_err();
/// assert!(matches!(refused, Rejection::InvalidRequest(_)));
/// assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
/// ```
#[derive(Debug, Clone)]
pub struct PolicyTable {
    rules: Vec<Rule>,
    default: Arc<Requirement>,
    /// Whether some literal has a percent-escape: then even a path without one has a decoded
    /// reading that may differ.
    escaped_literals: bool,
    /// [`PolicyTableBuilder::lenient_paths`].
    lenient: bool,
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
    /// A literal as written in the pattern, and decoded.
    Literal {
        raw: String,
        decoded: String,
    },
    Param,
    Rest,
}

/// Builds a [`PolicyTable`]; patterns are checked by [`build`](Self::build).
#[derive(Debug, Default)]
#[must_use]
pub struct PolicyTableBuilder {
    rules: Vec<(String, String, Requirement)>,
    default: Option<Requirement>,
    lenient: bool,
}

/// The most readings a path can have: as sent, decoded, split before decoding, normalized,
/// and the first two without a trailing slash.
const MAX_READINGS: usize = 6;

impl PolicyTable {
    /// Starts a table.
    pub fn builder() -> PolicyTableBuilder {
        PolicyTableBuilder::default()
    }

    /// A table with no rules: every request gets `requirement`, whatever its path.
    pub fn uniform(requirement: Requirement) -> Self {
        Self {
            rules: Vec::new(),
            default: Arc::new(requirement),
            escaped_literals: false,
            lenient: false,
        }
    }

    /// The requirement for a request, judged as described [above](Self).
    ///
    /// A path without `%` costs one pass over its bytes and one pass over the rules per reading
    /// (one, or two with a trailing slash or escaped literals), and allocates nothing; a path
    /// with escapes allocates its decoded copy.
    ///
    /// # Errors
    /// [`Rejection::InvalidRequest`] (400) for a path refused before any rule is looked up, or
    /// whose readings select incompatible requirements.
    pub fn requirement_for(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<&Arc<Requirement>, Rejection> {
        if self.rules.is_empty() {
            return Ok(&self.default);
        }
        // `*` (OPTIONS) and an authority-form target (CONNECT) have no path a pattern matches.
        if !path.starts_with('/') {
            return Ok(&self.default);
        }
        let found = path::scan(path, self.lenient).map_err(Rejection::InvalidRequest)?;
        let mut readings = [&self.default; MAX_READINGS];
        let mut count = 0;
        let mut add = |requirement| {
            if let Some(slot) = readings.get_mut(count) {
                *slot = requirement;
                count += 1;
            }
        };
        // As sent: what axum's router and prefix checks on `uri().path()` dispatch on.
        self.pick_text(method, path, false, &mut add);
        // Decoded: escapes in the request, or in a literal (`/caf%C3%A9` is `/café` decoded).
        if found.escapes || self.escaped_literals || found.separators || found.unusual {
            let decoded = if found.escapes {
                Cow::Owned(path::decode(path).map_err(Rejection::InvalidRequest)?)
            } else {
                Cow::Borrowed(path)
            };
            if found.escapes || self.escaped_literals {
                self.pick_text(method, &decoded, true, &mut add);
            }
            if found.escapes && found.separators {
                // Split as sent, then decode each segment: `%2F` stays inside its segment.
                let each = path::segments(path, false)
                    .map(path::decode)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(Rejection::InvalidRequest)?;
                add(self.pick(method, each.iter().map(String::as_str), true));
            }
            if found.separators || found.unusual {
                let normalized = path::normalize(&decoded);
                add(self.pick(method, normalized.iter().copied(), true));
            }
        }
        strictest(readings.get(..count).unwrap_or_default())
    }

    /// Adds the readings of `text` with and without its trailing slash. The segments are split
    /// once onto the stack when there are few enough, else again for each rule.
    fn pick_text<'t>(
        &'t self,
        method: &Method,
        text: &str,
        decoded: bool,
        add: &mut impl FnMut(&'t Arc<Requirement>),
    ) {
        let trailing = text.len() > 1 && text.ends_with('/');
        let mut stack = [""; path::STACK_SEGMENTS];
        if let Some(all) = path::split_onto(text, &mut stack) {
            add(self.pick(method, all.iter().copied(), decoded));
            if let (true, Some((_, trimmed))) = (trailing, all.split_last()) {
                add(self.pick(method, trimmed.iter().copied(), decoded));
            }
        } else {
            add(self.pick(method, path::segments(text, false), decoded));
            if trailing {
                add(self.pick(method, path::segments(text, true), decoded));
            }
        }
    }

    /// The requirement of the first rule that matches `method` and these segments, compared
    /// with the literals as written or decoded.
    fn pick<'s, I>(&self, method: &Method, segments: I, decoded: bool) -> &Arc<Requirement>
    where
        I: Iterator<Item = &'s str> + Clone,
    {
        self.rules
            .iter()
            .find(|rule| {
                rule.matches_method(method) && rule.matches_path(segments.clone(), decoded)
            })
            .map_or(&self.default, |rule| &rule.requirement)
    }
}

/// The requirement of all `readings` that is at least as strict as each of the others.
fn strictest<'r>(readings: &[&'r Arc<Requirement>]) -> Result<&'r Arc<Requirement>, Rejection> {
    let Some(&first) = readings.first() else {
        return Err(Rejection::InvalidRequest(path::AMBIGUOUS));
    };
    if readings.iter().all(|r| Arc::ptr_eq(r, first)) {
        return Ok(first);
    }
    readings
        .iter()
        .copied()
        .find(|candidate| readings.iter().all(|r| at_least_as_strict(candidate, r)))
        .ok_or(Rejection::InvalidRequest(path::AMBIGUOUS))
}

/// Whether every request that `a` lets through, `b` lets through as well.
fn at_least_as_strict(a: &Requirement, b: &Requirement) -> bool {
    if b.public {
        return true;
    }
    if a.public {
        return false;
    }
    let within = |small: &[String], big: &[String]| small.iter().all(|s| big.contains(s));
    let no_longer = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    };
    let any_scope = b.any_scopes.is_empty()
        || b.any_scopes.iter().any(|s| a.all_scopes.contains(s))
        || (!a.any_scopes.is_empty() && within(&a.any_scopes, &b.any_scopes));
    let acr = b.acr_values.is_empty()
        || (!a.acr_values.is_empty() && within(&a.acr_values, &b.acr_values));
    // A fail-open route lets a token through on local checks while the AS is down.
    let live = match (a.live, b.live) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(fa), Some(fb)) => fa <= fb && (!a.fail_open || b.fail_open),
    };
    within(&b.all_scopes, &a.all_scopes)
        && any_scope
        && acr
        && live
        && no_longer(a.max_token_age, b.max_token_age)
        && no_longer(a.max_auth_age, b.max_auth_age)
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

    fn matches_path<'s>(&self, mut path: impl Iterator<Item = &'s str>, decoded: bool) -> bool {
        for segment in &self.segments {
            let matched = match segment {
                Segment::Rest => return true,
                Segment::Param => path.next().is_some_and(|s| !s.is_empty()),
                Segment::Literal { raw, decoded: d } => {
                    path.next() == Some(if decoded { d } else { raw })
                }
            };
            if !matched {
                return false;
            }
        }
        path.next().is_none()
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

    /// Judges paths with dot segments, empty segments, encoded slashes (`%2F`) and backslashes
    /// instead of refusing them, for clients that send such paths on purpose (identifiers with
    /// an encoded `/` in them). Such a path is judged under every reading described on
    /// [`PolicyTable`], plus two more: split on `/` before decoding (`%2F` stays inside its
    /// segment), and normalized (decoded, `\` read as `/`, empty and `.` segments dropped,
    /// `..` resolved as RFC 3986 §5.2.4 does). The strictest requirement wins, as there. The
    /// URI is not rewritten: the inner service sees the path as sent.
    ///
    /// Malformed escapes, encoded control characters, escapes of escapes and `;` are still
    /// refused: what servers make of them is too varied to judge.
    ///
    /// Defaults to false (refused with 400 `invalid_request`).
    ///
    /// **Weakens security**: the table then relies on the inner service reading such a path in
    /// one of those ways. A service that reads it another way, for instance one that resolves
    /// `..` before decoding, or reads `%5C` as a separator but not `\`, may dispatch it to a
    /// route whose rule no reading selected.
    pub fn lenient_paths(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
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
        let escaped_literals = rules
            .iter()
            .flat_map(|rule| &rule.segments)
            .any(|segment| matches!(segment, Segment::Literal { raw, decoded } if raw != decoded));
        Ok(PolicyTable {
            rules,
            default: Arc::new(default),
            escaped_literals,
            lenient: self.lenient,
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

    fn judge<'t>(t: &'t PolicyTable, method: Method, path: &str) -> &'t Requirement {
        t.requirement_for(&method, path)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn refusal(t: &PolicyTable, method: Method, path: &str) -> &'static str {
        match t.requirement_for(&method, path) {
            Err(Rejection::InvalidRequest(why)) => why,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn first_match_wins() {
        let t = table();
        assert_eq!(
            judge(&t, Method::DELETE, "/admin/users/7").live,
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            judge(&t, Method::GET, "/admin/users/7").all_scopes,
            vec!["admin".to_owned()]
        );
        assert_eq!(
            judge(&t, Method::GET, "/admin").all_scopes,
            vec!["admin".to_owned()]
        );
        assert!(judge(&t, Method::POST, "/payments").is_sensitive());
        assert!(!judge(&t, Method::GET, "/payments").is_sensitive());
        assert!(!judge(&t, Method::GET, "/payments/x").is_sensitive());
        assert!(judge(&t, Method::HEAD, "/health").is_public());
        assert_eq!(*judge(&t, Method::GET, "/photos"), Requirement::routine());
        assert_eq!(*judge(&t, Method::GET, "/"), Requirement::routine());
        // No pattern matches `*` (OPTIONS *) or an authority (CONNECT): the default.
        assert_eq!(*judge(&t, Method::OPTIONS, "*"), Requirement::routine());
        assert_eq!(*judge(&t, Method::CONNECT, ""), Requirement::routine());
    }

    /// The spellings of the issue: judged by `/health` (or a routine default) after
    /// normalization, dispatched to `/admin/...` by a router that reads the path as sent.
    #[test]
    fn paths_servers_read_differently_are_refused_before_any_rule() {
        let t = table();
        let dot = [
            "/admin/%2e%2e/health",
            "/admin/%2E%2E/health",
            "/admin/%2e%2E/health",
            "/admin/.%2e/health",
            "/admin/%2e./health",
            "/admin/.%2E/health",
            "/admin/../health",
            "/admin/./../health",
            "/admin/%2e/health",
            "/admin/./health",
            "/admin/users/7/%2e%2e/%2e%2e/%2e%2e/x",
            "/admin/users/7/../../../x",
            "/health/..",
            "/health/.",
            "/health/%2e/",
            "/./health",
            "/../health",
        ];
        for path in dot {
            for method in [Method::GET, Method::DELETE] {
                assert_eq!(refusal(&t, method, path), path::DOT_SEGMENT, "{path}");
            }
        }
        let other = [
            ("/admin%2f..%2fhealth", path::SEPARATOR),
            ("/admin%2F..%2Fhealth", path::SEPARATOR),
            ("/health%2f", path::SEPARATOR),
            ("/admin\\..\\health", path::SEPARATOR),
            ("/admin/%5c..%5chealth", path::SEPARATOR),
            ("/admin/%5C..%5Chealth", path::SEPARATOR),
            ("/health%00", path::CONTROL),
            ("/health%00/admin", path::CONTROL),
            ("/health%09", path::CONTROL),
            ("/admin/%252e%252e/health", path::DOUBLE),
            ("/admin/%25%32%65%25%32%65/health", path::DOUBLE),
            ("/admin/%c0%ae%c0%ae/health", path::ESCAPE),
            ("/admin/%e0%80%ae/health", path::ESCAPE),
            ("/admin/%ff", path::ESCAPE),
            ("/admin/%zz", path::ESCAPE),
            ("/admin/%", path::ESCAPE),
            ("/health;/../admin", path::PARAMETER),
            ("/admin;jsessionid=1/users", path::PARAMETER),
            ("/health%3B", path::PARAMETER),
            ("//admin/users", path::EMPTY_SEGMENT),
            ("/admin//users", path::EMPTY_SEGMENT),
            ("/health//", path::EMPTY_SEGMENT),
        ];
        for (path, why) in other {
            assert_eq!(refusal(&t, Method::GET, path), why, "{path}");
        }
    }

    #[test]
    fn a_path_read_two_ways_gets_the_stricter_rule() {
        let t = table();
        // Decoded `/payments`, as sent no rule: the sensitive rule is the stricter.
        for path in ["/%70ayments", "/payments/", "/%70ayments/", "/pay%6Dents"] {
            assert!(judge(&t, Method::POST, path).is_sensitive(), "{path}");
        }
        // As sent, `/health/` and `/%68ealth` are not `/health`: the routine default wins.
        for path in ["/health/", "/%68ealth", "/%68%65%61%6C%74%68"] {
            assert_eq!(
                *judge(&t, Method::GET, path),
                Requirement::routine(),
                "{path}"
            );
        }
        assert!(judge(&t, Method::DELETE, "/%61dmin/users/7").is_sensitive());
        assert_eq!(
            judge(&t, Method::GET, "/%61dmin/x").all_scopes,
            vec!["admin".to_owned()]
        );
        // Longer than the segments split onto the stack: the same judgement.
        let long = format!("/admin{}", "/x".repeat(40));
        assert_eq!(judge(&t, Method::GET, &long).all_scopes, ["admin"]);
        assert_eq!(
            judge(&t, Method::GET, &format!("{long}/")).all_scopes,
            ["admin"]
        );
        let long = format!("/%61dmin{}/", "/x".repeat(40));
        assert_eq!(judge(&t, Method::GET, &long).all_scopes, ["admin"]);
        let long = format!("/health{}", "/x".repeat(40));
        assert_eq!(
            refusal(&t, Method::GET, &format!("{long}/..")),
            path::DOT_SEGMENT
        );
        // Readings that agree need no comparison.
        assert!(judge(&t, Method::GET, "/admin/caf%C3%A9").all_scopes == ["admin"]);
        assert!(judge(&t, Method::GET, "/admin/").all_scopes == ["admin"]);
        // Public only if every reading is public.
        let open = PolicyTable::builder()
            .rule("GET", "/docs/{*rest}", Requirement::public())
            .default_requirement(Requirement::public())
            .rule("GET", "/x", Requirement::routine())
            .build()
            .unwrap();
        assert!(judge(&open, Method::GET, "/docs/%7Euser/").is_public());
        assert!(!judge(&open, Method::GET, "/%78").is_public());
        assert!(!judge(&open, Method::GET, "/x/").is_public());
    }

    #[test]
    fn readings_with_incompatible_requirements_are_refused() {
        // `/caf%C3%A9` as sent (a router's route), `/café` decoded.
        let t = PolicyTable::builder()
            .rule(
                "GET",
                "/caf%C3%A9",
                Requirement::routine().all_scopes(["cafe"]),
            )
            .rule(
                "GET",
                "/{*rest}",
                Requirement::routine().all_scopes(["other"]),
            )
            .build()
            .unwrap();
        assert_eq!(judge(&t, Method::GET, "/caf%C3%A9").all_scopes, ["cafe"]);
        assert_eq!(judge(&t, Method::GET, "/tea").all_scopes, ["other"]);
        // The hex in lower case, or the UTF-8 sent unescaped: another route to a router that
        // compares bytes, the same to one that decodes.
        for path in ["/caf%c3%a9", "/caf\u{e9}"] {
            assert_eq!(refusal(&t, Method::GET, path), path::AMBIGUOUS, "{path}");
        }
    }

    #[test]
    fn strictness_compares_every_part_of_a_requirement() {
        let s = |secs| Duration::from_secs(secs);
        let r = Requirement::routine;
        let stricter = [
            (r(), Requirement::public()),
            (r().all_scopes(["a", "b"]), r().all_scopes(["a"])),
            (r().all_scopes(["a"]), r().any_scope(["a", "b"])),
            (r().any_scope(["a"]), r().any_scope(["a", "b"])),
            (Requirement::sensitive(s(0)), r()),
            (Requirement::sensitive(s(0)), Requirement::sensitive(s(5))),
            (
                Requirement::sensitive(s(0)),
                Requirement::sensitive(s(0)).fail_open_when_unreachable(),
            ),
            (r().max_token_age(s(10)), r().max_token_age(s(60))),
            (r().max_auth_age(s(10)), r()),
            (r().acr_values(["gold"]), r().acr_values(["gold", "silver"])),
        ];
        for (a, b) in &stricter {
            assert!(at_least_as_strict(a, b), "{a:?} >= {b:?}");
            assert!(!at_least_as_strict(b, a), "{b:?} >= {a:?}");
            assert!(at_least_as_strict(a, a) && at_least_as_strict(b, b));
        }
        let incomparable = [
            (r().all_scopes(["a"]), r().all_scopes(["b"])),
            (r().any_scope(["a", "b"]), r().any_scope(["b", "c"])),
            (Requirement::sensitive(s(5)), r().all_scopes(["a"])),
            (
                Requirement::sensitive(s(0)).fail_open_when_unreachable(),
                Requirement::sensitive(s(5)),
            ),
            (r().acr_values(["gold"]), r().acr_values(["silver"])),
        ];
        for (a, b) in &incomparable {
            assert!(!at_least_as_strict(a, b), "{a:?} >= {b:?}");
            assert!(!at_least_as_strict(b, a), "{b:?} >= {a:?}");
        }
    }

    #[test]
    fn tables_without_rules_read_no_path() {
        let uniform = PolicyTable::uniform(Requirement::routine().all_scopes(["a"]));
        let empty = PolicyTable::builder().build().unwrap();
        for path in ["/admin/%2e%2e/x", "/a;b", "//x", "/%zz"] {
            assert!(
                uniform.requirement_for(&Method::GET, path).is_ok(),
                "{path}"
            );
            assert!(empty.requirement_for(&Method::GET, path).is_ok(), "{path}");
        }
    }

    #[test]
    fn lenient_paths_are_judged_by_every_reading() {
        let t = PolicyTable::builder()
            .rule("GET", "/health", Requirement::public())
            .rule(
                "GET",
                "/projects/{id}/issues",
                Requirement::routine().all_scopes(["read"]),
            )
            .rule(
                "*",
                "/admin/{*rest}",
                Requirement::sensitive(Duration::ZERO).all_scopes(["admin"]),
            )
            .lenient_paths(true)
            .build()
            .unwrap();
        let admin = |path: &str| {
            let r = judge(&t, Method::DELETE, path);
            r.is_sensitive() && r.all_scopes == ["admin"]
        };
        // An admin route under one reading (as sent, decoded, or normalized), the health check
        // or the routine default under another.
        for path in [
            "/admin/%2e%2e/health",
            "/admin/../health",
            "/admin/users/7/%2e%2e/%2e%2e/%2e%2e/x",
            "/admin%2f..%2fhealth",
            "/admin/x\\..\\..\\health",
            "/admin/x%5C..%5C..%5Chealth",
            "//admin/users",
        ] {
            assert!(admin(path), "{path}");
        }
        // Not admin as sent; admin normalized.
        for path in [
            "/x/../admin/users",
            "/health/%2e%2e/admin/x",
            "/x%2F..%2Fadmin/y",
        ] {
            assert!(admin(path), "{path}");
        }
        // `\` is not a separator to a router that reads the path as sent: no admin route.
        assert!(!admin("/admin\\..\\health"));
        // Never public unless every reading is.
        for path in [
            "/x/../health",
            "//health",
            "/health/.",
            "/health%2F",
            "/health\\",
        ] {
            assert!(!judge(&t, Method::GET, path).is_public(), "{path}");
        }
        assert!(judge(&t, Method::GET, "/health").is_public());
        // An encoded slash in an identifier: split before decoding, it is one segment.
        assert_eq!(
            judge(&t, Method::GET, "/projects/group%2Fapp/issues").all_scopes,
            ["read"]
        );
        // ... and only that reading finds the rule when the literal is escaped too.
        assert_eq!(
            judge(&t, Method::GET, "/%70rojects/group%2Fapp/issues").all_scopes,
            ["read"]
        );
        // Still refused: no reading covers them.
        for (path, why) in [
            ("/health;/x", path::PARAMETER),
            ("/health%00", path::CONTROL),
            ("/admin/%252e%252e/health", path::DOUBLE),
            ("/admin/%zz", path::ESCAPE),
            ("/admin/%c0%ae", path::ESCAPE),
        ] {
            assert_eq!(refusal(&t, Method::GET, path), why, "{path}");
        }
    }

    /// Independent models of how services dispatch a path, for the property below: each turns
    /// the path into segments its own way.
    mod dispatchers {
        fn decode(text: &str) -> String {
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                let hex = |j: usize| {
                    bytes
                        .get(j)
                        .and_then(|&b| char::from(b).to_digit(16))
                        .map(|d| d as u8)
                };
                match (bytes[i], hex(i + 1), hex(i + 2)) {
                    (b'%', Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    (b, _, _) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }

        fn split(text: &str, separators: &[char]) -> Vec<String> {
            let body = &text[1..];
            if body.is_empty() {
                return Vec::new();
            }
            body.split(separators).map(str::to_owned).collect()
        }

        fn resolve(segments: Vec<String>) -> Vec<String> {
            let mut out = Vec::new();
            for s in segments {
                match s.as_str() {
                    "" | "." => {}
                    ".." => {
                        out.pop();
                    }
                    _ => out.push(s),
                }
            }
            out
        }

        fn trim(text: &str) -> &str {
            match text.strip_suffix('/') {
                Some(t) if !t.is_empty() => t,
                _ => text,
            }
        }

        /// The segments each model dispatches on; `strict_only` ones are readings the lenient
        /// mode does not promise to cover.
        pub fn all(path: &str) -> Vec<(&'static str, bool, Vec<String>)> {
            vec![
                (
                    "as sent (matchit, prefix checks)",
                    false,
                    split(path, &['/']),
                ),
                (
                    "as sent, trailing slash trimmed",
                    false,
                    split(trim(path), &['/']),
                ),
                ("decoded", false, split(&decode(path), &['/'])),
                (
                    "decoded, trimmed",
                    false,
                    split(trim(&decode(path)), &['/']),
                ),
                (
                    "split, then each segment decoded",
                    false,
                    split(path, &['/']).iter().map(|s| decode(s)).collect(),
                ),
                (
                    "decoded and normalized",
                    false,
                    resolve(split(&decode(path), &['/', '\\'])),
                ),
                ("normalized, then decoded", true, {
                    let raw = resolve(split(path, &['/']));
                    raw.iter().map(|s| decode(s)).collect()
                }),
                ("decoded twice", true, split(&decode(&decode(path)), &['/'])),
                ("cut at ';'", true, {
                    let cut: Vec<String> = split(path, &['/'])
                        .iter()
                        .map(|s| s.split(';').next().unwrap_or_default().to_owned())
                        .collect();
                    resolve(cut)
                }),
            ]
        }

        /// Which route of the property's table these segments reach: `/health` (0),
        /// `/projects/{id}/issues` (1), `/admin/{*rest}` (2), or none (the default, 3).
        pub fn route(method: &str, segments: &[String]) -> usize {
            match segments {
                [only] if only == "health" && method == "GET" => 0,
                [p, id, i]
                    if method == "GET" && p == "projects" && !id.is_empty() && i == "issues" =>
                {
                    1
                }
                [first, ..] if first == "admin" => 2,
                _ => 3,
            }
        }
    }

    #[test]
    fn no_dispatcher_reads_an_accepted_path_as_a_stricter_route() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let routes = [
            Requirement::public(),
            Requirement::routine().all_scopes(["read"]),
            Requirement::sensitive(Duration::ZERO).all_scopes(["admin"]),
            Requirement::routine(),
        ];
        let build = |lenient| {
            PolicyTable::builder()
                .rule("GET", "/health", routes[0].clone())
                .rule("GET", "/projects/{id}/issues", routes[1].clone())
                .rule("*", "/admin/{*rest}", routes[2].clone())
                .default_requirement(routes[3].clone())
                .lenient_paths(lenient)
                .build()
                .unwrap()
        };
        // Segments and separators that servers read differently, joined at random; the ones
        // refused in every mode are rarer, so that most paths get judged.
        let select = |items: &[&'static str]| prop::sample::select(items.to_vec());
        let segment = prop_oneof![
            8 => select(&[
                "admin", "health", "x", "%61dmin", "%68ealth", "healt%68", "adm%69n", "caf\u{e9}",
                "%C3%A9", "%20", "%7E", "~", "projects", "%70rojects", "issues", "issue%73",
            ]),
            3 => select(&["", ".", "..", "%2e", "%2E%2e", ".%2e", "%2e."]),
            1 => select(&[
                "%2561dmin", "%25%32%65%25%32%65", "%252e%252e", "admin;x", "..;", "%3b", "%00",
                "%0a", "%", "%zz", "%c0%ae%c0%ae",
            ]),
        ];
        let separator = prop_oneof![
            8 => Just("/"),
            1 => select(&["\\", "%2f", "%2F", "%5C", "%5c", "//"]),
        ];
        let paths = (
            prop::collection::vec((separator, segment), 1..6),
            prop::bool::ANY,
        )
            .prop_map(|(parts, trailing)| {
                let mut path: String = parts
                    .iter()
                    .map(|(sep, seg)| format!("{sep}{seg}"))
                    .collect();
                if !path.starts_with('/') {
                    path.insert(0, '/');
                }
                if trailing {
                    path.push('/');
                }
                path
            });
        for lenient in [false, true] {
            let table = build(lenient);
            let mut runner = TestRunner::new(Config {
                cases: 3000,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(
                    &(paths.clone(), prop::sample::select(vec!["GET", "DELETE"])),
                    |(path, m)| {
                        let method = Method::from_bytes(m.as_bytes()).unwrap();
                        let Ok(requirement) = table.requirement_for(&method, &path) else {
                            return Ok(());
                        };
                        for (name, strict_only, segments) in dispatchers::all(&path) {
                            if lenient && strict_only {
                                continue;
                            }
                            let route = &routes[dispatchers::route(m, &segments)];
                            prop_assert!(
                                at_least_as_strict(requirement, route),
                                "{m} {path:?} (lenient: {lenient}): {name} reads {segments:?}, \
                             the table gave {requirement:?}"
                            );
                        }
                        Ok(())
                    },
                )
                .unwrap();
        }
    }

    #[test]
    fn literals_are_decoded_when_the_table_is_built() {
        let t = PolicyTable::builder()
            .rule("GET", "/caf%C3%A9/a%20b/100%25", Requirement::public())
            .build()
            .unwrap();
        assert!(judge(&t, Method::GET, "/caf%C3%A9/a%20b/100%25").is_public());
        let Segment::Literal { raw, decoded } = &t.rules[0].segments[0] else {
            panic!("a literal");
        };
        assert_eq!((raw.as_str(), decoded.as_str()), ("caf%C3%A9", "caf\u{e9}"));
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
            // Literals that no accepted request could match.
            ("GET", "/."),
            ("GET", "/a/.."),
            ("GET", "//a"),
            ("GET", "/a//b"),
            ("GET", "/a/"),
            ("GET", "/a\\b"),
            ("GET", "/a;b"),
            ("GET", "/a b"),
            ("GET", "/a?b"),
            ("GET", "/a#b"),
            ("GET", "/%61dmin"),
            ("GET", "/%2e%2e"),
            ("GET", "/a%7Eb"),
            ("GET", "/a%2Fb"),
            ("GET", "/a%2fb"),
            ("GET", "/a%5Cb"),
            ("GET", "/a%3Bb"),
            ("GET", "/a%00"),
            ("GET", "/a%0A"),
            ("GET", "/a%252e"),
            ("GET", "/a%zz"),
            ("GET", "/a%2"),
            ("GET", "/a%"),
            ("GET", "/a%ff"),
            ("GET", "/a%C3"),
            ("GET", "/a%c0%ae"),
        ] {
            let built = PolicyTable::builder()
                .rule(m, p, Requirement::routine())
                .build();
            assert_eq!(
                built.map(|_| ()).map_err(|e| e.kind()),
                Err(ConfigErrorKind::Policy),
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
