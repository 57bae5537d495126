//! A table of method + path patterns to [`Requirement`]s, for services without a router.

mod path;
mod pattern;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::error::ConfigError;
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
    /// A [`ConfigError`] of kind [`Requirement`](crate::ConfigErrorKind::Requirement).
    pub fn try_uniform(requirement: Requirement) -> Result<Self, ConfigError> {
        requirement.validate()?;
        Ok(Self {
            rules: Vec::new(),
            default: Arc::new(requirement),
            escaped_literals: false,
            lenient: false,
        })
    }

    /// Every requirement of the table, the default's included.
    pub(crate) fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.rules
            .iter()
            .map(|rule| &*rule.requirement)
            .chain(std::iter::once(&*self.default))
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
    // Every scheme `a` accepts, `b` accepts too; no constraint of its own accepts the issuer's.
    let sender = match (a.sender, b.sender) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => {
            (!a.allows_bearer() || b.allows_bearer()) && (!a.allows_dpop() || b.allows_dpop())
        }
    };
    within(&b.all_scopes, &a.all_scopes)
        && any_scope
        && acr
        && live
        && sender
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
    /// A [`ConfigError`] of kind [`Policy`](crate::ConfigErrorKind::Policy) naming the bad entry.
    pub fn build(self) -> Result<PolicyTable, ConfigError> {
        let default = self.default.unwrap_or_default();
        default.validate()?;
        let mut rules = Vec::with_capacity(self.rules.len());
        for (methods, pattern, requirement) in self.rules {
            requirement.validate()?;
            rules.push(Rule {
                methods: pattern::parse_methods(&methods)?,
                segments: pattern::parse_pattern(&pattern)?,
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

#[cfg(test)]
mod tests;
