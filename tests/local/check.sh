#!/usr/bin/env bash
# Local mode, end to end (run by tests/run.sh): start `./deploy.sh local` from scratch
# with 15-second access tokens (--test-token-lifetime: moto's are always an hour), check
# its doors (outbox secret, sign-in throttling, refresh) and run the scripted drill (sign
# in, start, approve through the outbox link, succeed, drill instances gone), run the web
# UI's end-to-end test, the rejection from an email's Reject link, and its sessions test (a dashboard and an approval working after
# the first access token expired; a refused renewal ending the session), check that
# a second start and a taken port are refused clearly, stop with Ctrl-C (SIGINT to the
# whole process group) right after a change, start again with DRS failing and a group
# deleted under a plan: the change survived, health says starting until DRS recovers,
# then ok naming the plan that cannot be deployed; stop with SIGTERM right after a
# change; then the 3,000-server plan's dashboard, timed. Every stop must save the data,
# exit 0, print no error and leave no process or port behind. Prints the ready times
# and that figure.
set -euo pipefail
cd "$(dirname "$0")/../.."

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port); AWS_PORT=$(free_port)
DATA=$(mktemp -d); LOG=$(mktemp); LOG2=$(mktemp); FAULTS=$(mktemp)
PID=""
cleanup() { [ -n "$PID" ] && kill -INT "$PID" 2>/dev/null && wait "$PID"; rm -rf "$DATA" "$LOG" "$LOG2" "$FAULTS"; }
trap cleanup EXIT
check() { cargo run -q -p system-tests --bin local-check -- --url "http://127.0.0.1:$PORT" --aws "http://127.0.0.1:$AWS_PORT" "$@"; }

start() { # $1: log file, rest: extra flags
  local log=$1; shift
  # In a process group of its own, as in a terminal, so it can be sent a terminal's Ctrl-C.
  setsid ./deploy.sh local --port "$PORT" --aws-port "$AWS_PORT" --data "$DATA" "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^READY' "$log"; then grep '^READY' "$log"; return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then cat "$log"; echo "local mode exited before it was ready"; return 1; fi
    sleep 0.5
  done
  cat "$log"; echo "local mode not ready after 300 s"; return 1
}

stop() { # $1: ctrl-c (SIGINT to local mode's whole process group, as a terminal does) or term (SIGTERM to its pid); $2: its log
  local how=$1 log=$2 rc=0 pgid
  pgid=$(ps -o pgid= -p "$PID" | tr -d ' ')
  case $how in
    ctrl-c)
      [ -n "$pgid" ] && [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] || { echo "local mode is not in a process group of its own"; return 1; }
      kill -INT -- "-$pgid" ;;
    term) kill -TERM "$PID" ;;
  esac
  wait "$PID" || rc=$?
  PID=""
  [ "$rc" = 0 ] || { tail -5 "$log"; echo "local mode exited $rc on $how"; return 1; }
  if sed -n '/^stopping/,$p' "$log" | grep -Eiq '(^|[^a-z])(error|traceback|panicked|killed)'; then
    sed -n '/^stopping/,$p' "$log"; echo "local mode printed an error on $how"; return 1
  fi
  grep -q '^stopped$' "$log" || { tail -5 "$log"; echo "local mode did not say it stopped on $how"; return 1; }
  if (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || (echo > "/dev/tcp/127.0.0.1/$AWS_PORT") 2>/dev/null; then
    echo "a port is still open after $how"; return 1
  fi
  if pgrep -f "moto_launcher.py --port .* --engine-port $AWS_PORT" >/dev/null || pgrep -f -- "--data $DATA" >/dev/null; then
    echo "a process of local mode is still running after $how"; return 1
  fi
}

echo "== first start (--reset, access tokens of 15 s)"
start "$LOG" --reset --test-token-lifetime 15
sed -n '/^DRS Orchestrator/,/^READY/p' "$LOG"
check
grep -q '📧 outbox' "$LOG" || { echo "the outbox printed nothing to the console"; exit 1; }

echo "== the web UI in Chromium (playwright-core, axe-core); screenshots in target/ui-screenshots"
node frontend/e2e/e2e.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots

echo "== a rejection from the email's Reject link: the drill fails Approval.Rejected and is cleaned up, in Chromium"
node frontend/e2e/reject.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots

echo "== sessions that outlast their access tokens, in Chromium"
node frontend/e2e/session.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots

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

echo "== Ctrl-C (SIGINT to the whole process group) right after a change: saved, then everything stopped"
check --mark ctrl-c --drop-group crm-web
stop ctrl-c "$LOG"
echo "stopped cleanly; data folder holds $(ls "$DATA")"

echo "== warm start with DRS failing: the data kept, health starting until DRS recovers, crm-dr reported"
echo '{"operations": {"DescribeSourceServers": {"serverError": 1000000}}}' >"$FAULTS"
start "$LOG2" --faults "$FAULTS"
check --persisted --expect-mark ctrl-c --recovering
for line in "plan shop-dr: not deployed yet" "plan shop-dr: deployed (attempt" "plan crm-dr cannot be deployed as stored"; do
  grep -qF "$line" "$LOG2" || { cat "$LOG2"; echo "no console line \"$line…\""; exit 1; }
done
grep -F "plan crm-dr" "$LOG2" | cut -c1-160

echo "== SIGTERM right after a change: saved, then everything stopped"
check --mark term
stop term "$LOG2"
grep -q "local-check mark term" "$DATA/table.json" || { echo "the change made before SIGTERM was not saved"; exit 1; }
echo "stopped cleanly with the change saved"

echo "== the 3,000-server plan's dashboard (--synthetic 3000), timed in Chromium"
rm -rf "$DATA"; DATA=$(mktemp -d)
start "$LOG" --synthetic 3000
node frontend/e2e/large.mjs --url "http://127.0.0.1:$PORT" --out target/ui-screenshots
stop ctrl-c "$LOG"
echo "local mode: 12 checks passed"
