#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "test tools (npm: asl-validator)"
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
CI=true INSTA_UPDATE=no cargo test --workspace 2>&1 | tee "$log"

step "benchmarks (figures, not pass/fail)"
cargo bench -q -p aslgen --bench compile

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
