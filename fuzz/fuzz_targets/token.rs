//! Any string as a bearer token, through the whole local validation path against a fixed key
//! set: no panic, and nothing accepted without a valid signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if fuzzing::validate(token).is_some() {
        assert!(
            fuzzing::has_valid_signature(token),
            "accepted without a valid signature: {token:?}"
        );
    }
});
