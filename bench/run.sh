#!/usr/bin/env bash
# tollgate's load benchmark, memory check and unknown-`kid` flood check: one command.
#
#   bench/run.sh              the load table (about 3 minutes)
#   bench/run.sh memory       resident memory after 1,000,000 distinct tokens
#   bench/run.sh flood        100,000 requests with unknown `kid`s vs JWKS fetches
#   bench/run.sh all          all three
#   bench/run.sh --help       every option
#
# Everything runs in one process on 127.0.0.1 (servers, the mock authorization server and the
# load generator); nothing needs installing beyond the Rust toolchain. The build shares the
# repository's target directory so that dependencies built for tollgate are reused.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../target}"
exec cargo run --release --quiet -- "$@"
