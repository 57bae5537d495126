//! Sender-constrained access tokens: DPoP proofs (RFC 9449) and certificate-bound tokens
//! (RFC 8705).
//!
//! A sender-constrained token is useless without the key it is bound to: a DPoP-bound token
//! (`cnf.jkt`) must come with a fresh proof signed by that key, a certificate-bound token
//! (`cnf.x5t#S256`) over a TLS connection authenticated with that certificate.
//!
//! The pieces, each in its own file:
//!
//! - `proof`: checks one `DPoP` header against the request, in the order of RFC 9449 §4.3
//!   ([`proof::verify`]) under [`rules::ProofRules`] (algorithms, `iat` window); `jose` and
//!   `claims` take the proof apart, `uri` normalises `htu` and the request URI (RFC 3986
//!   §6.2.2, §6.2.3), `error` names each refusal.
//! - `thumbprint`: RFC 7638 JWK thumbprints and RFC 8705 certificate thumbprints.
//! - `binding`: reads `cnf` from a JWT or an introspection answer and checks it against how the
//!   token was presented ([`binding::Confirmation`]); defines [`binding::ClientCertificate`],
//!   the request extension a TLS acceptor fills.
//! - `replay`: the bounded cache that accepts each proof once ([`replay::ReplayCache`]).
//! - `nonce`: stateless server nonces (RFC 9449 §9) ([`nonce::Nonces`]).
//! - `config`: the public settings, [`SenderConstraint`] and [`Dpop`]; `gate`: what the
//!   engine holds of them ([`gate::DpopState`]). The request-level order below is
//!   `crate::request`'s.
//!
//! # How a request is checked
//!
//! For `Authorization: DPoP <token>`:
//!
//! 1. `proof::verify(headers, &ProofRequest { method, uri, access_token: Some(token) },
//!    &rules, nonces, now)` gives a [`proof::VerifiedProof`] or a [`error::ProofError`]
//!    (401 `DPoP error="invalid_dpop_proof"`, or `use_dpop_nonce` with a fresh `DPoP-Nonce`
//!    from `Nonces::issue`). `uri` is a [`uri::TargetUri`] built from the configured external
//!    origin and the request's path, never from forwarded headers unless configured.
//! 2. The token is validated as usual (signature, claims, introspection where configured).
//! 3. `Confirmation::from_claims(&claims)` or `Confirmation::from_introspection(&answer)`,
//!    then `confirmation.check(Some(&proof.thumbprint), certificate)`; a
//!    [`binding::BindingError`] is 401 `invalid_token`.
//! 4. `replay.first_use(&proof.replay, now)`: `Replayed` is `invalid_dpop_proof`, `Full` a 503
//!    with `Retry-After`.
//! 5. When `proof.nonce` is `Some(NonceStatus::Previous)`, the answer carries the current
//!    nonce in `DPoP-Nonce`.
//!
//! For `Authorization: Bearer <token>`, step 3 alone, with `None` for the proof:
//! a DPoP-bound token is refused there (RFC 9449 §7.2).

pub(crate) mod binding;
mod claims;
mod config;
pub(crate) mod error;
pub(crate) mod gate;
mod jose;
pub(crate) mod nonce;
pub(crate) mod proof;
pub(crate) mod replay;
pub(crate) mod rules;
pub(crate) mod thumbprint;
pub(crate) mod uri;

pub use binding::ClientCertificate;
pub use config::{Dpop, SenderConstraint};

#[cfg(test)]
mod tests;
