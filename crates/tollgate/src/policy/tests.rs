//! The policy table's unit tests: rules, path readings, strictness, patterns.
//!
//! Longer than 400 lines for a reason: one table of path spellings per reading, each case a
//! line, so that a missing spelling shows.

use std::time::Duration;

use super::*;
use crate::error::ConfigErrorKind;

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
        (r().all_scopes(["a"]), r().any_scopes(["a", "b"])),
        (r().any_scopes(["a"]), r().any_scopes(["a", "b"])),
        (Requirement::sensitive(s(0)), r()),
        (Requirement::sensitive(s(0)), Requirement::sensitive(s(5))),
        (
            Requirement::sensitive(s(0)),
            Requirement::sensitive(s(0)).fail_open_when_unreachable(true),
        ),
        (r().max_token_age(s(10)), r().max_token_age(s(60))),
        (r().max_auth_age(s(10)), r()),
        (r().acr_values(["gold"]), r().acr_values(["gold", "silver"])),
        (r().dpop_required(), r()),
        (
            r().dpop_required(),
            r().sender_constraint(crate::SenderConstraint::BearerOrDpop),
        ),
        (
            r().sender_constraint(crate::SenderConstraint::BearerOnly),
            r().sender_constraint(crate::SenderConstraint::BearerOrDpop),
        ),
    ];
    for (a, b) in &stricter {
        assert!(at_least_as_strict(a, b), "{a:?} >= {b:?}");
        assert!(!at_least_as_strict(b, a), "{b:?} >= {a:?}");
        assert!(at_least_as_strict(a, a) && at_least_as_strict(b, b));
    }
    let incomparable = [
        (r().all_scopes(["a"]), r().all_scopes(["b"])),
        (r().any_scopes(["a", "b"]), r().any_scopes(["b", "c"])),
        (Requirement::sensitive(s(5)), r().all_scopes(["a"])),
        (
            Requirement::sensitive(s(0)).fail_open_when_unreachable(true),
            Requirement::sensitive(s(5)),
        ),
        (r().acr_values(["gold"]), r().acr_values(["silver"])),
        (
            r().dpop_required(),
            r().sender_constraint(crate::SenderConstraint::BearerOnly),
        ),
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
            [p, id, i] if method == "GET" && p == "projects" && !id.is_empty() && i == "issues" => {
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
