//! [`Issuers`]: the engine's trusted issuers, and the choice of one by a token's `iss`.
//!
//! The choice runs once per token that misses the verified-token cache, before any key is
//! looked up: exact names first (a scan of a short list, a hash map for a long one), then the
//! templates in the order they were trusted. A token whose `iss` names no trusted issuer, or
//! has none, is refused without a key fetch or an introspection call.

use std::collections::HashMap;

use super::Issuer;

/// Beyond this many exact names, a hash map finds one faster than comparing them in turn.
const SCAN_AT_MOST: usize = 8;

/// The trusted issuers, in the order they were configured (the builder's own first).
pub(crate) struct Issuers {
    list: Vec<Issuer>,
    /// The exact names and their places in `list`.
    exact: Vec<(Box<str>, usize)>,
    /// The same, hashed, when there are more than [`SCAN_AT_MOST`].
    by_name: Option<HashMap<Box<str>, usize>>,
    /// The places of the template issuers.
    templates: Vec<usize>,
}

impl Issuers {
    /// `list` holds at least one issuer, with distinct names (`build()` makes sure of both).
    pub(crate) fn new(list: Vec<Issuer>) -> Self {
        let mut exact = Vec::new();
        let mut templates = Vec::new();
        for (index, issuer) in list.iter().enumerate() {
            if issuer.claims.issuer.is_template() {
                templates.push(index);
            } else {
                exact.push((Box::from(issuer.name()), index));
            }
        }
        let by_name = (exact.len() > SCAN_AT_MOST).then(|| exact.iter().cloned().collect());
        Self {
            list,
            exact,
            by_name,
            templates,
        }
    }

    /// The place of the issuer a token's unverified `iss` names, if it names a trusted one.
    pub(crate) fn select(&self, iss: Option<&str>) -> Option<usize> {
        let iss = iss?;
        let exact = match &self.by_name {
            Some(map) => map.get(iss).copied(),
            None => self
                .exact
                .iter()
                .find(|(name, _)| **name == *iss)
                .map(|(_, index)| *index),
        };
        exact.or_else(|| {
            self.templates.iter().copied().find(|&index| {
                self.list
                    .get(index)
                    .is_some_and(|issuer| issuer.claims.issuer.matches(iss))
            })
        })
    }

    /// The issuer at `index`.
    pub(crate) fn get(&self, index: usize) -> Option<&Issuer> {
        self.list.get(index)
    }

    /// Every issuer, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Issuer> {
        self.list.iter()
    }
}
