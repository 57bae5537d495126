//! Fuzzed header and payload bytes, correctly signed with the fixed secret, so that they reach
//! the header checks and the claim checks. No panic; and whatever is accepted really meets
//! RFC 9068 §4 as configured: issuer, audience, expiry, the required claims, `typ`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    // The first byte says where the header ends and the payload begins.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (header, payload) = rest.split_at(split);
    let (token, principal) = fuzzing::validate_signed(header, payload);
    let Some(principal) = principal else {
        return;
    };
    assert_eq!(principal.issuer(), Some(fuzzing::ISSUER), "{token}");
    assert!(
        principal.audiences().iter().any(|a| a == fuzzing::AUDIENCE),
        "{token}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let exp = principal.expires_at().expect("exp is required");
    assert!(
        exp.saturating_add(60) > now,
        "expired token accepted: {token}"
    );
    assert!(
        principal.subject().is_some()
            && principal.client_id().is_some()
            && principal.jti().is_some()
    );
    // The header the engine accepted must say at+jwt, in any case, with or without the prefix.
    let header: serde_json::Value =
        serde_json::from_slice(header).expect("accepted header is JSON");
    let typ = header["typ"]
        .as_str()
        .expect("typ is a string")
        .to_ascii_lowercase();
    assert!(
        typ == "at+jwt" || typ == "application/at+jwt",
        "typ {typ:?} accepted"
    );
    assert!(
        header.get("crit").is_none() && header.get("b64").is_none(),
        "{token}"
    );
});
