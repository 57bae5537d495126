//! The rules of a requirement, and where they are checked.

use super::*;

#[test]
fn scope_names_are_checked() {
    assert!(
        Requirement::routine()
            .all_scopes(["read", "write:all"])
            .validate()
            .is_ok()
    );
    assert!(
        Requirement::routine()
            .all_scopes(["a b"])
            .validate()
            .is_err()
    );
    assert!(
        Requirement::routine()
            .any_scopes(["quo\"te"])
            .validate()
            .is_err()
    );
    assert!(Requirement::routine().any_scopes([""]).validate().is_err());
    assert!(Requirement::public().all_scopes(["x"]).validate().is_err());
}

#[test]
fn contradictions_are_refused() {
    let d = Duration::from_secs(60);
    for (what, bad) in [
        (
            "public + all_scopes",
            Requirement::public().all_scopes(["x"]),
        ),
        (
            "public + any_scopes",
            Requirement::public().any_scopes(["x"]),
        ),
        (
            "public + sensitive",
            Requirement {
                live: Some(d),
                ..Requirement::public()
            },
        ),
        (
            "public + acr_values",
            Requirement::public().acr_values(["urn:mfa"]),
        ),
        (
            "public + max_auth_age",
            Requirement::public().max_auth_age(d),
        ),
        (
            "public + max_token_age",
            Requirement::public().max_token_age(d),
        ),
        (
            "public + fail-open",
            Requirement::public().fail_open_when_unreachable(true),
        ),
        (
            "fail-open without introspection",
            Requirement::routine().fail_open_when_unreachable(true),
        ),
        (
            "any_scopes of nothing",
            Requirement::routine().any_scopes(Vec::<String>::new()),
        ),
        (
            "acr_values of nothing",
            Requirement::routine().acr_values(Vec::<String>::new()),
        ),
        (
            "acr with a space",
            Requirement::routine().acr_values(["a b"]),
        ),
    ] {
        let error = bad
            .validate()
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"));
        assert_eq!(error.kind(), ConfigErrorKind::Requirement, "{what}");
    }
    for good in [
        Requirement::public(),
        Requirement::routine()
            .max_token_age(d)
            .acr_values(["urn:mfa"]),
        Requirement::sensitive(Duration::ZERO).fail_open_when_unreachable(true),
        Requirement::routine()
            .any_scopes(Vec::<String>::new())
            .any_scopes(["a"]),
        // `all_scopes` of nothing requires nothing, as it says.
        Requirement::routine().all_scopes(Vec::<String>::new()),
    ] {
        assert!(good.validate().is_ok(), "{good:?}");
    }
}

fn gate() -> crate::Tollgate {
    crate::Tollgate::builder()
        .issuer("https://as.test")
        .audience("api")
        .hmac_secret(vec![7u8; 32])
        .build()
        .unwrap()
}

// A route annotation is checked where it is attached, as a policy-table row is: the
// requirement is refused at router construction, not silently used.
#[test]
#[should_panic(expected = "a public requirement cannot also require")]
fn a_public_route_annotation_with_scopes_is_refused() {
    let _ = gate().require(Requirement::public().all_scopes(["x"]));
}

#[test]
#[should_panic(expected = "RFC 6749 §3.3")]
fn a_route_annotation_with_a_bad_scope_name_is_refused() {
    let _ = gate().require(Requirement::routine().all_scopes(["read write"]));
}

#[test]
fn the_try_forms_return_the_error() {
    let gate = gate();
    fn kind<T>(result: Result<T, ConfigError>) -> Option<ConfigErrorKind> {
        result.err().map(|e| e.kind())
    }
    assert_eq!(
        kind(gate.try_require(Requirement::routine().fail_open_when_unreachable(true))),
        Some(ConfigErrorKind::Requirement)
    );
    assert_eq!(
        kind(crate::PolicyTable::try_uniform(
            Requirement::public().max_token_age(Duration::from_secs(1))
        )),
        Some(ConfigErrorKind::Requirement)
    );
    assert!(
        gate.try_require(Requirement::routine().all_scopes(["read"]))
            .is_ok()
    );
    assert!(crate::PolicyTable::try_uniform(Requirement::public()).is_ok());
    // The shortcuts attach valid requirements and never panic.
    let _ = (gate.layer(), gate.sensitive());
    // A policy table refuses the same requirements, with the same kind.
    assert_eq!(
        kind(
            crate::PolicyTable::builder()
                .rule("GET", "/a", Requirement::public().any_scopes(["x"]))
                .build()
        ),
        Some(ConfigErrorKind::Requirement)
    );
}

#[test]
#[should_panic(expected = "RFC 6749 §3.3")]
fn a_uniform_table_with_a_bad_scope_name_is_refused() {
    let _ = crate::PolicyTable::uniform(Requirement::routine().any_scopes(["quo\"te"]));
}
