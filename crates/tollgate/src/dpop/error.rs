//! Why a DPoP proof was refused, with fixed descriptions that never echo the request.

use std::fmt;

/// The `error` code of the `DPoP` challenge a refusal maps to (RFC 9449 §7.1, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeCode {
    /// `invalid_dpop_proof`: the proof failed a check of RFC 9449 §4.3.
    InvalidDpopProof,
    /// `use_dpop_nonce`: the proof lacks the server's current nonce; the answer carries a
    /// fresh `DPoP-Nonce` (RFC 9449 §9).
    UseDpopNonce,
}

impl ChallengeCode {
    #[cfg(test)]
    /// The code as it goes into `WWW-Authenticate: DPoP error="..."`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// Why a proof was refused. Each variant is one rule of RFC 9449 §4.3, in the order they are
/// checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofError {
    /// No `DPoP` header on a request that needs one (RFC 9449 §7.1).
    Missing,
    /// More than one `DPoP` header (§4.3 step 1).
    Multiple,
    /// Not a single well-formed compact JWS (§4.3 step 2): the header value is not visible
    /// ASCII, too long, not three base64url segments, or a segment is not one JSON object with
    /// unique member names.
    Malformed,
    /// The header uses a JWS extension (`crit`, `b64`), which tollgate does not implement
    /// (RFC 7515 §4.1.11).
    Extension,
    /// `typ` is not `dpop+jwt` (§4.3 step 4).
    Type,
    /// `alg` is missing, `none`, a MAC, or not an allowed asymmetric algorithm (§4.3 step 5).
    Algorithm,
    /// No `jwk` in the header (§4.2).
    MissingKey,
    /// The `jwk` holds private or symmetric key material (§4.3 step 7).
    PrivateKey,
    /// The `jwk` is not a usable public key for `alg` (wrong key type or curve, too small, a
    /// value that is not base64url).
    UnusableKey,
    /// The signature does not verify with the `jwk` (§4.3 step 6).
    Signature,
    /// `jti` is missing, not a string, empty or too long (§4.2, §11.1).
    Jti,
    /// `htm` is missing or not a string (§4.2).
    Htm,
    /// `htm` is not the request's method (§4.3 step 8).
    HtmMismatch,
    /// `htu` is missing, not a string or not an `http(s)` URI (§4.2).
    Htu,
    /// `htu` is not the request's URI (§4.3 step 9).
    HtuMismatch,
    /// `iat` is missing or not a number (§4.2).
    Iat,
    /// `iat` is older than the accepted window (§4.3 step 11, §11.1).
    TooOld,
    /// `iat` is further in the future than the accepted clock skew (§11.1).
    InFuture,
    /// `ath` is missing or not a string while an access token is presented (§4.2).
    AthMissing,
    /// `ath` is not the hash of the presented access token (§4.3 step 12).
    AthMismatch,
    /// The server requires a nonce and the proof has none (§4.3 step 10, §11.3).
    NonceMissing,
    /// The proof's nonce is not one this server issued recently (§4.3 step 10).
    NonceRejected,
}

impl ProofError {
    /// The challenge code: nonce trouble asks for a new nonce, the rest is a bad proof.
    pub(crate) fn code(self) -> ChallengeCode {
        match self {
            Self::NonceMissing | Self::NonceRejected => ChallengeCode::UseDpopNonce,
            _ => ChallengeCode::InvalidDpopProof,
        }
    }

    /// A fixed description, fit for `error_description` and logs.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Missing => "the request has no DPoP proof",
            Self::Multiple => "the request has more than one DPoP header",
            Self::Malformed => "the DPoP proof is not a well-formed JWT",
            Self::Extension => "the DPoP proof uses an unsupported JWS extension",
            Self::Type => "the DPoP proof's typ is not dpop+jwt",
            Self::Algorithm => "the DPoP proof's alg is not an accepted asymmetric algorithm",
            Self::MissingKey => "the DPoP proof has no jwk header",
            Self::PrivateKey => "the DPoP proof's jwk contains private key material",
            Self::UnusableKey => "the DPoP proof's jwk is not a usable public key for its alg",
            Self::Signature => "the DPoP proof's signature is invalid",
            Self::Jti => "the DPoP proof has no valid jti",
            Self::Htm => "the DPoP proof has no valid htm",
            Self::HtmMismatch => "the DPoP proof's htm does not match the request method",
            Self::Htu => "the DPoP proof has no valid htu",
            Self::HtuMismatch => "the DPoP proof's htu does not match the request URI",
            Self::Iat => "the DPoP proof has no valid iat",
            Self::TooOld => "the DPoP proof is too old",
            Self::InFuture => "the DPoP proof's iat is in the future",
            Self::AthMissing => "the DPoP proof has no ath for the access token",
            Self::AthMismatch => "the DPoP proof's ath does not match the access token",
            Self::NonceMissing => "the resource server requires a DPoP nonce",
            Self::NonceRejected => "the DPoP proof's nonce is not current",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ProofError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_errors_ask_for_a_nonce_and_the_rest_are_bad_proofs() {
        assert_eq!(ProofError::NonceMissing.code(), ChallengeCode::UseDpopNonce);
        assert_eq!(
            ProofError::NonceRejected.code(),
            ChallengeCode::UseDpopNonce
        );
        for other in [
            ProofError::Missing,
            ProofError::Signature,
            ProofError::TooOld,
        ] {
            assert_eq!(other.code(), ChallengeCode::InvalidDpopProof);
        }
        assert_eq!(ChallengeCode::UseDpopNonce.as_str(), "use_dpop_nonce");
        assert_eq!(
            ChallengeCode::InvalidDpopProof.as_str(),
            "invalid_dpop_proof"
        );
    }

    #[test]
    fn descriptions_are_quotable_in_a_challenge() {
        use ProofError as E;
        let all = [
            E::Missing,
            E::Multiple,
            E::Malformed,
            E::Extension,
            E::Type,
            E::Algorithm,
            E::MissingKey,
            E::PrivateKey,
            E::UnusableKey,
            E::Signature,
            E::Jti,
            E::Htm,
            E::HtmMismatch,
            E::Htu,
            E::HtuMismatch,
            E::Iat,
            E::TooOld,
            E::InFuture,
            E::AthMissing,
            E::AthMismatch,
            E::NonceMissing,
            E::NonceRejected,
        ];
        let mut seen = std::collections::HashSet::new();
        for error in all {
            let text = error.to_string();
            // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
            assert!(
                text.bytes()
                    .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
                "{text}"
            );
            assert_eq!(text, error.description());
            // Each refusal says something of its own.
            assert!(seen.insert(text), "{error:?}");
        }
    }
}
