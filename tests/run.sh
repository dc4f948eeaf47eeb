#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "test tools: Python venv (moto, botocore, pytest) and npm (asl-validator)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
# qemu-user and an arm64 glibc run the arm64 Lambda bootstraps in deploy.sh check;
# Debian's Chromium runs the web UI's end-to-end test.
if ! command -v qemu-aarch64-static >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] \
   || ! command -v chromium >/dev/null; then
  apt-get update -q >/dev/null && apt-get install -y -q qemu-user-static libc6-arm64-cross chromium >/dev/null
fi
npm ci --prefix frontend --no-audit --no-fund --loglevel=error

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

step "emulator corrections, AWS model fidelity, SSM documents (pytest)"
.venv/bin/python -m pytest tests/emulator tests/fidelity tests/ssm tests/deploy -q -p no:cacheprovider 2>&1 | tee -a "$log"

step "Rust tests: units, snapshots, properties, asl-validator, execution in moto with drs-sim"
CI=true INSTA_UPDATE=no cargo test --workspace -- --skip the_api_holds_under_attack_and_races 2>&1 | tee -a "$log"

step "the abuse suite: every route × method × role, malformed input, 20-request races (counts printed)"
CI=true cargo test -p system-tests --test abuse -- --nocapture 2>&1 | grep -v '^\s*$' | tee -a "$log"

step "every compiled machine against the AWS service models"
.venv/bin/python tests/fidelity/check_sdk_tasks.py --errors statemachines target/asl-validator

step "web UI: type check and unit tests (vitest)"
npm run --prefix frontend typecheck
npm test --prefix frontend 2>&1 | grep -v "Test Files" | tee -a "$log"

step "local mode end to end: ./deploy.sh local, the scripted drill, the web UI in Chromium, restart with the data kept"
tests/local/check.sh

step "deployment: Lambda zips (cargo-lambda) and every offline check of the templates"
./deploy.sh build
./deploy.sh check

step "benchmarks (figures, not pass/fail)"
cargo bench -q -p aslgen --bench compile

# One closing line for the whole run, summed over cargo's and pytest's results.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     / passed/ && !/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
