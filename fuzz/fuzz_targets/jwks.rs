//! Any body as a JWKS document, as a key-set refresh parses it: no panic, no unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = fuzzing::parse_jwks(data) {
        // An accepted document (a JWK set, perhaps without a usable key, which then empties
        // the key set) has at most the entry bound of usable keys.
        assert!(keys <= 100, "{keys} keys");
    }
});
