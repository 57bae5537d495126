//! Verifying one DPoP proof for one request (RFC 9449 §4.3).
//!
//! Its tests are the table of every rule in `tests.rs`, with proofs made by tollgate-mock.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use http::{HeaderMap, HeaderName, Method};

use super::claims::{ProofClaims, Scalar};
use super::error::ProofError;
use super::jose::{self, ProofHeader, ProofJwk};
use super::nonce::{NonceStatus, Nonces};
use super::replay::{ReplayEntry, ReplayKey};
use super::rules::ProofRules;
use super::thumbprint::{B64_LEN, PublicJwk, Thumbprint, access_token_hash};
use super::uri::TargetUri;
use crate::alg::Algorithm;
use crate::jws::decode_segment;
use crate::keys::{PublicJwkMembers, single_public_key};

/// The request header that carries the proof (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Longest proof accepted, in bytes: an RSA-8192 `jwk` and signature fit in well under half.
pub(crate) const MAX_PROOF_LEN: usize = 8 * 1024;

/// Longest `jti` accepted, in bytes (RFC 9449 §11.1: refuse very large ones). Clients use 16
/// to 43 characters (96 bits or more of randomness, or a UUID).
pub(crate) const MAX_JTI_LEN: usize = 256;

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProofRequest<'a> {
    pub(crate) method: &'a Method,
    /// The external URI of the request, as the client addressed it.
    pub(crate) uri: &'a TargetUri,
    /// The access token sent with the proof, whose hash `ath` must be (RFC 9449 §4.2); `None`
    /// where no token is presented (a token endpoint).
    pub(crate) access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key, to compare with the token's `cnf.jkt`.
    pub(crate) thumbprint: Thumbprint,
    /// What the replay cache must record, once the token's binding has been checked too.
    pub(crate) replay: ReplayEntry,
    /// How the proof's nonce stood, when nonces are required.
    pub(crate) nonce: Option<NonceStatus>,
}

/// Verifies the request's `DPoP` header (exactly one) against `request`.
///
/// `now` is the current Unix time in seconds; `nonces` is set when the server requires
/// nonces. Recording the proof in the replay cache is left to the caller, after the token's
/// binding has been checked, so that only proofs of valid bound tokens take room there.
pub(crate) fn verify(
    headers: &HeaderMap,
    request: &ProofRequest<'_>,
    rules: &ProofRules,
    nonces: Option<&Nonces>,
    now: i64,
) -> Result<VerifiedProof, ProofError> {
    let mut values = headers.get_all(&DPOP).iter();
    let first = values.next().ok_or(ProofError::Missing)?;
    // RFC 9449 §4.3 step 1.
    if values.next().is_some() {
        return Err(ProofError::Multiple);
    }
    let proof = first.to_str().map_err(|_| ProofError::Malformed)?;
    verify_value(proof, request, rules, nonces, now)
}

/// Verifies one proof, the value of the `DPoP` header, against `request`.
pub(crate) fn verify_value(
    proof: &str,
    request: &ProofRequest<'_>,
    rules: &ProofRules,
    nonces: Option<&Nonces>,
    now: i64,
) -> Result<VerifiedProof, ProofError> {
    use ProofError as E;

    // Step 2: one well-formed compact JWS: three strict base64url segments, the first two
    // JSON objects with unique member names (RFC 7515 §7.1, §4).
    if proof.len() > MAX_PROOF_LEN {
        return Err(E::Malformed);
    }
    let (signing_input, signature_b64) = proof.rsplit_once('.').ok_or(E::Malformed)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(E::Malformed)?;
    let header_bytes = decode_segment(header_b64).map_err(|_| E::Malformed)?;
    let payload_bytes = decode_segment(payload_b64).map_err(|_| E::Malformed)?;
    let signature = decode_segment(signature_b64).map_err(|_| E::Malformed)?;
    let header: ProofHeader<'_> = jose::parse(&header_bytes).ok_or(E::Malformed)?;
    let claims: ProofClaims<'_> = jose::parse(&payload_bytes).ok_or(E::Malformed)?;
    if header.extensions {
        return Err(E::Extension);
    }

    // Step 4: RFC 7515 §4.1.9: a media type, compared case-insensitively, `application/`
    // implied when there is no `/`.
    let typ = header.typ.as_deref().ok_or(E::Type)?;
    let typ = match typ.split_once('/') {
        Some((top, sub)) if top.eq_ignore_ascii_case("application") => sub,
        Some(_) => return Err(E::Type),
        None => typ,
    };
    if !typ.eq_ignore_ascii_case("dpop+jwt") {
        return Err(E::Type);
    }

    // Step 5: an allowed asymmetric algorithm; names are case-sensitive (RFC 7515 §4.1.1).
    let alg = header
        .alg
        .as_deref()
        .and_then(Algorithm::from_jws_name)
        .filter(|alg| rules.algorithms.contains(alg))
        .ok_or(E::Algorithm)?;

    // Step 7 (before step 6, which needs the key): a public key, fit for `alg`.
    let jwk = header.jwk.as_ref().ok_or(E::MissingKey)?;
    if jwk.private {
        return Err(E::PrivateKey);
    }
    let thumbprint = public_jwk(jwk)
        .and_then(|public| public.thumbprint())
        .ok_or(E::UnusableKey)?;
    let key = single_public_key(&members(jwk).ok_or(E::UnusableKey)?, alg).ok_or(E::UnusableKey)?;

    // Step 6.
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(E::Signature);
    }

    // Step 3: the claims RFC 9449 §4.2 requires, with their types; steps 8 to 12.
    let jti = claims
        .jti
        .as_ref()
        .and_then(Scalar::as_str)
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_LEN)
        .ok_or(E::Jti)?;
    // RFC 9110 §9.1: methods are case-sensitive.
    let htm = claims.htm.as_ref().and_then(Scalar::as_str).ok_or(E::Htm)?;
    if htm != request.method.as_str() {
        return Err(E::HtmMismatch);
    }
    let htu = claims
        .htu
        .as_ref()
        .and_then(Scalar::as_str)
        .and_then(TargetUri::parse)
        .ok_or(E::Htu)?;
    if htu != *request.uri {
        return Err(E::HtuMismatch);
    }
    let iat = match claims.iat {
        Some(Scalar::Num(iat)) if iat.is_finite() => iat.floor(),
        _ => return Err(E::Iat),
    };
    #[allow(clippy::cast_precision_loss, reason = "Unix times are far below 2^53")]
    let (now_f, max_age, skew) = (now as f64, rules.max_age as f64, rules.future_skew as f64);
    if iat < now_f - max_age {
        return Err(E::TooOld);
    }
    if iat > now_f + skew {
        return Err(E::InFuture);
    }
    if let Some(token) = request.access_token {
        let ath = claims
            .ath
            .as_ref()
            .and_then(Scalar::as_str)
            .ok_or(E::AthMissing)?;
        let mut expected = [0u8; B64_LEN];
        access_token_hash(token, &mut expected);
        verify_slices_are_equal(ath.as_bytes(), &expected).map_err(|_| E::AthMismatch)?;
    }
    let nonce = match nonces {
        None => None,
        Some(nonces) => {
            // RFC 9449 §11.3: once nonces are required, a proof without one is refused.
            let value = claims
                .nonce
                .as_ref()
                .and_then(Scalar::as_str)
                .ok_or(E::NonceMissing)?;
            Some(nonces.check(value, now).ok_or(E::NonceRejected)?)
        }
    };

    #[allow(
        clippy::cast_possible_truncation,
        reason = "within a minute or so of `now`"
    )]
    let iat = iat as i64;
    Ok(VerifiedProof {
        thumbprint,
        replay: ReplayEntry {
            key: ReplayKey::new(&thumbprint, jti),
            until: iat.saturating_add(rules.max_age),
        },
        nonce,
    })
}

/// The required members of the proof's key, by key type (RFC 7638 §3.2).
fn public_jwk<'a>(jwk: &'a ProofJwk<'_>) -> Option<PublicJwk<'a>> {
    Some(match jwk.kty.as_deref()? {
        "RSA" => PublicJwk::Rsa {
            n: jwk.n.as_deref()?,
            e: jwk.e.as_deref()?,
        },
        "EC" => PublicJwk::Ec {
            crv: jwk.crv.as_deref()?,
            x: jwk.x.as_deref()?,
            y: jwk.y.as_deref()?,
        },
        "OKP" => PublicJwk::Okp {
            crv: jwk.crv.as_deref()?,
            x: jwk.x.as_deref()?,
        },
        _ => return None,
    })
}

fn members<'a>(jwk: &'a ProofJwk<'_>) -> Option<PublicJwkMembers<'a>> {
    Some(PublicJwkMembers {
        kty: jwk.kty.as_deref()?,
        alg: jwk.alg.as_deref(),
        crv: jwk.crv.as_deref(),
        n: jwk.n.as_deref(),
        e: jwk.e.as_deref(),
        x: jwk.x.as_deref(),
        y: jwk.y.as_deref(),
    })
}
