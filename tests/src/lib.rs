//! End-to-end tests of tollgate live in `tests/`.
