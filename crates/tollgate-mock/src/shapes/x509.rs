//! A minimal self-signed X.509 certificate (RFC 5280) for an RSA key: what Keycloak, Entra and
//! Auth0 put in their JWKS as `x5c` (RFC 7517 §4.7), and what `x5t` / `x5t#S256` are
//! thumbprints of.
//!
//! Only the DER a parser needs: version 3, a random serial, sha256WithRSAEncryption, the same
//! one-CN name as issuer and subject, a fixed validity, the key's SubjectPublicKeyInfo, no
//! extensions. A resource server must never trust these certificates (tollgate ignores `x5c`),
//! so nothing more is needed than that they parse and belong to the key.

use jsonwebtoken::Algorithm;

use crate::keys::SigningKey;

/// sha256WithRSAEncryption, 1.2.840.113549.1.1.11 (RFC 4055 §5), with its NULL parameters.
const SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
/// 2025-01-01 to 2035-01-01: ten years, as Keycloak's generated certificates run.
const NOT_BEFORE: &[u8] = b"250101000000Z";
const NOT_AFTER: &[u8] = b"350101000000Z";

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
/// `[0] EXPLICIT`, the version's wrapper.
const CONTEXT_0: u8 = 0xa0;

/// Tag, DER length (X.690 §8.1.3), content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).expect("checked"));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(bytes.len() - skip).expect("a usize has few bytes"));
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A self-signed certificate of `key` (which must be RSA) with the subject `CN=common_name`.
pub(crate) fn self_signed(key: &SigningKey, common_name: &str) -> Vec<u8> {
    let version = tlv(CONTEXT_0, &tlv(INTEGER, &[2]));
    // A positive serial (RFC 5280 §4.1.2.2) of 16 random bytes: top bit clear, first byte set.
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).expect("aws-lc-rs: system randomness");
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let serial = tlv(INTEGER, &serial);
    let name = sequence(&[&tlv(
        SET,
        &sequence(&[COMMON_NAME, &tlv(UTF8_STRING, common_name.as_bytes())]),
    )]);
    let validity = sequence(&[&tlv(UTC_TIME, NOT_BEFORE), &tlv(UTC_TIME, NOT_AFTER)]);
    let spki = key.public_key_der();
    let tbs = sequence(&[
        &version,
        &serial,
        SHA256_WITH_RSA,
        &name,
        &validity,
        &name,
        &spki,
    ]);
    let signature = key.sign_with(Algorithm::RS256, &tbs);
    // BIT STRING: a leading byte counting the unused bits (none).
    let signature = tlv(BIT_STRING, &[&[0u8][..], &signature].concat());
    sequence(&[&tbs, SHA256_WITH_RSA, &signature])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
    }

    #[test]
    fn certificate_holds_the_key_and_verifies() {
        let key = SigningKey::shared(Algorithm::RS256);
        let cert = self_signed(&key, "tollgate");
        assert_eq!(cert[0], SEQUENCE);
        let spki = key.public_key_der();
        assert!(cert.windows(spki.len()).any(|w| w == spki.as_slice()));
        // The signature (the last 256 bytes) verifies over the TBSCertificate with the key.
        // TBS starts after the outer tag and its 0x82 length: 4 bytes in.
        let tbs_len = usize::from(cert[6]) << 8 | usize::from(cert[7]);
        let tbs = &cert[4..8 + tbs_len];
        let signature = &cert[cert.len() - 256..];
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            rsa_public_key(&spki),
        );
        public.verify(tbs, signature).unwrap();
    }

    /// The RSAPublicKey inside a SubjectPublicKeyInfo: the BIT STRING's content after its
    /// unused-bits byte (an RSA SPKI's algorithm identifier is 15 bytes).
    fn rsa_public_key(spki: &[u8]) -> Vec<u8> {
        // SEQ(0x30 0x82 len len) + AlgorithmIdentifier(15) + BIT STRING(0x03 0x82 len len) + 0x00
        spki[4 + 15 + 4 + 1..].to_vec()
    }
}
