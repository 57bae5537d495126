//! Server-provided DPoP nonces (RFC 9449 §8, §9), stateless.
//!
//! A nonce names a time slot and carries a MAC of it: `base64url(slot || HMAC-SHA256(key,
//! label || slot)[..16])`, 32 characters. Verifying one needs only the key, so instances
//! configured with the same key accept each other's nonces with no shared state, and a
//! restart with a random key simply makes clients fetch a new nonce (one `use_dpop_nonce`
//! round trip). The nonce of the current slot and of the one before are accepted, so a nonce
//! lives between one and two periods.
//!
//! Within a slot every client gets the same nonce. That is enough for what nonces are for here
//! (RFC 9449 §11.2): nobody can sign proofs for a future slot, since its nonce cannot be
//! predicted without the key, so a key stolen for a moment cannot be used to pre-compute proofs
//! for later. The nonce also carries the server's time, so proof freshness no longer depends
//! on the client's clock alone (§11.1).
//!
//! Nonces are server-specific (RFC 9449 §9): different resource servers must use different
//! keys, or they accept each other's nonces.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The default rotation period: a nonce lives five to ten minutes.
///
/// Shorter periods narrow the time for which proofs can be prepared in advance but send
/// clients through the `use_dpop_nonce` round trip more often; five minutes keeps that to
/// about one extra request per client and period, and the server can hand out the next nonce
/// on a successful answer before the old one runs out ([`NonceStatus::Previous`]).
pub(crate) const DEFAULT_PERIOD: Duration = Duration::from_secs(300);

/// Shortest secret accepted: as long as the HMAC-SHA256 output (RFC 2104 §3).
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// Domain separation: the same secret used elsewhere never yields a valid nonce.
const LABEL: &[u8] = b"tollgate DPoP nonce v1\0";
const SLOT_LEN: usize = 8;
const MAC_LEN: usize = 16;
/// `SLOT_LEN + MAC_LEN` bytes in base64url.
const NONCE_LEN: usize = 32;

/// How a nonce that verified relates to the current slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceStatus {
    /// The nonce of the current slot.
    Current,
    /// The nonce of the slot before: still accepted, but the answer should carry the current
    /// one in `DPoP-Nonce` so that the client moves on (RFC 9449 §8.2, §9).
    Previous,
}

/// The secret was too short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecretTooShort;

/// Issues and checks nonces. Cheap to share; holds no state that changes.
pub(crate) struct Nonces {
    key: hmac::Key,
    period: u64,
}

impl fmt::Debug for Nonces {
    // The key never appears in Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("period_secs", &self.period)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    /// Nonces under a random key of this instance alone. `None` when the system has no
    /// randomness to give.
    pub(crate) fn random(period: Duration) -> Option<Self> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new()).ok()?;
        Some(Self::with_key(key, period))
    }

    /// Nonces under a configured secret, for instances that must accept each other's.
    pub(crate) fn with_secret(secret: &[u8], period: Duration) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretTooShort);
        }
        Ok(Self::with_key(
            hmac::Key::new(hmac::HMAC_SHA256, secret),
            period,
        ))
    }

    fn with_key(key: hmac::Key, period: Duration) -> Self {
        Self {
            key,
            // A zero period would divide by zero; one second is the shortest slot.
            period: period.as_secs().max(1),
        }
    }

    /// The nonce of the slot `now` (Unix seconds) falls in, for a `DPoP-Nonce` header. Its 32
    /// characters are all `NQCHAR` (RFC 9449 §8.1).
    pub(crate) fn issue(&self, now: i64) -> String {
        self.nonce_for(self.slot(now))
    }

    /// Whether `nonce` is the nonce of the current slot or of the one before. Any other value,
    /// a malformed one included, is `None`; no state changes.
    pub(crate) fn check(&self, nonce: &str, now: i64) -> Option<NonceStatus> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let mut bytes = [0u8; SLOT_LEN + MAC_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes) {
            Ok(n) if n == bytes.len() => {}
            _ => return None,
        }
        let (slot_bytes, mac) = bytes.split_at(SLOT_LEN);
        let mut slot = [0u8; SLOT_LEN];
        slot.copy_from_slice(slot_bytes);
        let slot = u64::from_be_bytes(slot);
        let current = self.slot(now);
        let status = if slot == current {
            NonceStatus::Current
        } else if current.checked_sub(1) == Some(slot) {
            NonceStatus::Previous
        } else {
            return None;
        };
        verify_slices_are_equal(&self.mac(slot), mac)
            .ok()
            .map(|()| status)
    }

    fn slot(&self, now: i64) -> u64 {
        u64::try_from(now).unwrap_or(0) / self.period
    }

    fn mac(&self, slot: u64) -> [u8; MAC_LEN] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(LABEL);
        ctx.update(&slot.to_be_bytes());
        let tag = ctx.sign();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        out
    }

    fn nonce_for(&self, slot: u64) -> String {
        let mut bytes = [0u8; SLOT_LEN + MAC_LEN];
        bytes[..SLOT_LEN].copy_from_slice(&slot.to_be_bytes());
        bytes[SLOT_LEN..].copy_from_slice(&self.mac(slot));
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of thirty-two bytes ...";
    const T0: i64 = 1_700_000_100;

    fn nonces() -> Nonces {
        Nonces::with_secret(SECRET, Duration::from_secs(100)).unwrap()
    }

    #[test]
    fn current_and_previous_slot_are_accepted_older_and_newer_are_not() {
        let n = nonces();
        // T0 is the start of slot 17_000_001.
        let nonce = n.issue(T0);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_eq!(n.check(&nonce, T0), Some(NonceStatus::Current));
        assert_eq!(n.check(&nonce, T0 + 99), Some(NonceStatus::Current));
        assert_eq!(n.check(&nonce, T0 + 100), Some(NonceStatus::Previous));
        assert_eq!(n.check(&nonce, T0 + 199), Some(NonceStatus::Previous));
        assert_eq!(n.check(&nonce, T0 + 200), None);
        // A nonce from the future (the client cannot have it) is refused too.
        assert_eq!(n.check(&nonce, T0 - 1), None);
    }

    #[test]
    fn instances_with_the_same_secret_agree_others_do_not() {
        let nonce = nonces().issue(T0);
        assert_eq!(nonces().check(&nonce, T0), Some(NonceStatus::Current));
        let other = Nonces::with_secret(&[7u8; 32], Duration::from_secs(100)).unwrap();
        assert_eq!(other.check(&nonce, T0), None);
        let random = Nonces::random(Duration::from_secs(100)).unwrap();
        assert_eq!(random.check(&nonce, T0), None);
        assert_eq!(
            random.check(&random.issue(T0), T0),
            Some(NonceStatus::Current)
        );
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused() {
        let n = nonces();
        let nonce = n.issue(T0);
        // The slot of a valid nonce with the MAC of another slot.
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[SLOT_LEN - 1] ^= 1;
        let moved = URL_SAFE_NO_PAD.encode(&bytes);
        let mut flipped = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        flipped[SLOT_LEN + 3] ^= 0x80;
        let flipped = URL_SAFE_NO_PAD.encode(&flipped);
        for bad in [
            moved.as_str(),
            flipped.as_str(),
            "",
            &nonce[..31],
            &format!("{nonce}A"),
            &format!("{}=", &nonce[..31]),
            "################################",
        ] {
            assert_eq!(n.check(bad, T0), None, "{bad}");
            assert_eq!(n.check(bad, T0 + 100), None, "{bad}");
        }
    }

    #[test]
    fn short_secrets_and_zero_periods() {
        assert_eq!(
            Nonces::with_secret(&[1u8; 31], DEFAULT_PERIOD).err(),
            Some(SecretTooShort)
        );
        let n = Nonces::with_secret(SECRET, Duration::ZERO).unwrap();
        let nonce = n.issue(T0);
        assert_eq!(n.check(&nonce, T0), Some(NonceStatus::Current));
        assert_eq!(n.check(&nonce, T0 + 1), Some(NonceStatus::Previous));
        assert_eq!(n.check(&nonce, T0 + 2), None);
        // A clock before the epoch does not panic.
        assert!(n.check(&n.issue(-5), -5).is_some());
    }

    #[test]
    fn nonces_are_nqchar() {
        // RFC 9449 §8.1: NQCHAR is %x21 / %x23-5B / %x5D-7E.
        let nonce = nonces().issue(T0);
        assert!(
            nonce
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) && b != 0x5c)
        );
    }
}
