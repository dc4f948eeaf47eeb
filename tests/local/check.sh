#!/usr/bin/env bash
# Local mode, end to end (run by tests/run.sh): start `./deploy.sh local` from scratch,
# run the scripted drill (sign in, start, approve through the outbox link, succeed,
# drill instances gone), check that a second start and a taken port are refused clearly,
# stop with Ctrl-C, start again and check the data survived; then the 3,000-server
# plan's dashboard, timed. Prints the ready times and that figure.
set -euo pipefail
cd "$(dirname "$0")/../.."

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port); AWS_PORT=$(free_port)
DATA=$(mktemp -d); LOG=$(mktemp); LOG2=$(mktemp)
PID=""
cleanup() { [ -n "$PID" ] && kill -INT "$PID" 2>/dev/null; rm -rf "$DATA" "$LOG" "$LOG2"; }
trap cleanup EXIT

start() { # $1: log file, rest: extra flags
  local log=$1; shift
  ./deploy.sh local --port "$PORT" --aws-port "$AWS_PORT" --data "$DATA" "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^READY' "$log"; then grep '^READY' "$log"; return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then cat "$log"; echo "local mode exited before it was ready"; return 1; fi
    sleep 0.5
  done
  cat "$log"; echo "local mode not ready after 300 s"; return 1
}

stop() {
  kill -INT "$PID"
  wait "$PID" || { echo "local mode exited with an error on Ctrl-C"; return 1; }
  PID=""
  if (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || (echo > "/dev/tcp/127.0.0.1/$AWS_PORT") 2>/dev/null; then
    echo "a port is still open after Ctrl-C"; return 1
  fi
  if pgrep -f "moto_launcher.py --port .* --engine-port $AWS_PORT" >/dev/null; then
    echo "moto is still running after Ctrl-C"; return 1
  fi
}

echo "== first start (--reset)"
start "$LOG" --reset
sed -n '/^DRS Orchestrator/,/^READY/p' "$LOG"
cargo run -q -p system-tests --bin local-check -- --url "http://127.0.0.1:$PORT" --aws "http://127.0.0.1:$AWS_PORT"
grep -q '📧 outbox' "$LOG" || { echo "the outbox printed nothing to the console"; exit 1; }

echo "== the web UI in Chromium (playwright-core, axe-core); screenshots in target/ui-screenshots"
node frontend/e2e/e2e.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots

echo "== a second start on the same data folder is refused"
if out=$(./deploy.sh local --port "$PORT" --aws-port "$AWS_PORT" --data "$DATA" 2>&1); then
  echo "a second start succeeded"; exit 1
fi
echo "$out" | grep -q "already running (pid $PID)" || { echo "unclear refusal: $out"; exit 1; }
echo "$out" | tail -1

echo "== a taken port is named"
OTHER=$(mktemp -d)
if out=$(./deploy.sh local --port "$PORT" --aws-port "$(free_port)" --data "$OTHER" 2>&1); then
  echo "a start on a taken port succeeded"; exit 1
fi
rm -rf "$OTHER"
echo "$out" | grep -q "port $PORT on 127.0.0.1 is in use" || { echo "unclear port error: $out"; exit 1; }
echo "$out" | tail -1

echo "== Ctrl-C stops everything"
stop
echo "stopped cleanly; data folder holds $(ls "$DATA")"

echo "== warm start keeps the data"
start "$LOG2"
cargo run -q -p system-tests --bin local-check -- --url "http://127.0.0.1:$PORT" --aws "http://127.0.0.1:$AWS_PORT" --persisted
stop

echo "== the 3,000-server plan's dashboard (--synthetic 3000), timed in Chromium"
rm -rf "$DATA"; DATA=$(mktemp -d)
start "$LOG" --synthetic 3000
node frontend/e2e/large.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots
stop
echo "local mode: 7 checks passed"
