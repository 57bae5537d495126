//! An issuer's name as configured: one exact identifier, or a template with a tenant
//! placeholder (Entra ID's multi-tenant `https://login.microsoftonline.com/{tenantid}/v2.0`).

/// The placeholder a template issuer holds, as Entra ID's multi-tenant metadata writes it.
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Which tenants a template issuer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tenants {
    /// Only these (exact, case-sensitive).
    Only(Vec<String>),
    /// Any tenant at all (`TrustedIssuer::any_tenant`).
    Any,
}

/// What a token's `iss` must be for one trusted issuer (RFC 9068 §4 step 3: exactly equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssuerName {
    /// Exactly this string.
    Exact(String),
    /// `prefix TENANT suffix`, for a tenant of `tenants`.
    Template {
        /// The configured template, placeholder included.
        template: String,
        prefix: String,
        suffix: String,
        tenants: Tenants,
    },
}

impl IssuerName {
    /// `issuer` as configured: a template when it holds [`TENANT_PLACEHOLDER`] once.
    pub(crate) fn new(issuer: &str, tenants: Tenants) -> Self {
        match issuer.split_once(TENANT_PLACEHOLDER) {
            Some((prefix, suffix)) if !suffix.contains(TENANT_PLACEHOLDER) => Self::Template {
                template: issuer.to_owned(),
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
                tenants,
            },
            _ => Self::Exact(issuer.to_owned()),
        }
    }

    /// The configured string (the template itself for a template).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Exact(issuer) => issuer,
            Self::Template { template, .. } => template,
        }
    }

    pub(crate) fn is_template(&self) -> bool {
        matches!(self, Self::Template { .. })
    }

    /// Whether a token's `iss` names this issuer: equal to it, or the template with an
    /// accepted tenant in place of the placeholder. Allocation free.
    pub(crate) fn matches(&self, iss: &str) -> bool {
        match self {
            Self::Exact(issuer) => iss == issuer,
            Self::Template {
                prefix,
                suffix,
                tenants,
                ..
            } => tenant_of(iss, prefix, suffix).is_some_and(|tenant| match tenants {
                Tenants::Only(list) => list.iter().any(|t| t == tenant),
                Tenants::Any => true,
            }),
        }
    }
}

/// The tenant in `iss` between `prefix` and `suffix`: one non-empty path segment of letters,
/// digits, `-`, `_` and `.`, so that no tenant can carry a `/`, a query, an escape or a second
/// issuer (Entra ID's tenant ids are GUIDs).
fn tenant_of<'a>(iss: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let tenant = iss.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let valid = !tenant.is_empty()
        && tenant != "."
        && tenant != ".."
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid.then_some(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    #[test]
    fn exact_names_match_exactly() {
        let name = IssuerName::new("https://as.test/", Tenants::Any);
        assert!(!name.is_template());
        assert!(name.matches("https://as.test/"));
        assert!(!name.matches("https://as.test"));
        assert!(!name.matches("https://AS.test/"));
    }

    #[test]
    fn templates_match_listed_tenants_only() {
        let name = IssuerName::new(V2, Tenants::Only(vec![TENANT.into()]));
        assert!(name.is_template());
        assert_eq!(name.as_str(), V2);
        assert!(name.matches(&format!("https://login.microsoftonline.com/{TENANT}/v2.0")));
        for other in [
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "https://login.microsoftonline.com//v2.0",
            V2,
            "https://login.microsoftonline.com/v2.0",
        ] {
            assert!(!name.matches(other), "{other}");
        }
    }

    #[test]
    fn any_tenant_still_takes_one_plain_segment() {
        let name = IssuerName::new(V2, Tenants::Any);
        assert!(name.matches(&format!("https://login.microsoftonline.com/{TENANT}/v2.0")));
        for bad in [
            "https://login.microsoftonline.com/a/b/v2.0",
            "https://login.microsoftonline.com/../v2.0",
            "https://login.microsoftonline.com/a%2Fb/v2.0",
            "https://login.microsoftonline.com/a?x/v2.0",
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://evil.test/x/v2.0",
        ] {
            assert!(!name.matches(bad), "{bad}");
        }
    }

    #[test]
    fn two_placeholders_are_no_template() {
        let name = IssuerName::new("https://x/{tenantid}/{tenantid}", Tenants::Any);
        assert!(!name.is_template());
    }
}
