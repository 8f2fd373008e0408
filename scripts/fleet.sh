#!/usr/bin/env bash
# `make fleet`: the scale-out profile (ENCORE_EXECUTOR=celery) on this machine's MariaDB and
# Redis. Migrate, load demo data into an empty database, then run the API, a beat, two workers
# and a standby beat, each output line prefixed with its name; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
STOP_SECONDS="${FLEET_STOP_SECONDS:-30}"  # per process, then SIGKILL
export ENCORE_EXECUTOR=celery
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
if [ -z "${ENCORE_DATABASE_URL:-}" ]; then
  "$BIN/python" -c "import pymysql; pymysql.connect(host='127.0.0.1', port=3306, user='root')\
.cursor().execute('CREATE DATABASE IF NOT EXISTS encore_fleet CHARACTER SET utf8mb4')"
  export ENCORE_DATABASE_URL="mysql+pymysql://root@127.0.0.1:3306/encore_fleet?charset=utf8mb4"
fi
"$BIN/python" -c "import redis, sys; redis.Redis.from_url(sys.argv[1]).ping()" "$CELERY_BROKER_URL" \
  || { echo "fleet: Redis at $CELERY_BROKER_URL does not answer" >&2; exit 1; }
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  echo "fleet: $HOST:$PORT is in use (PORT=... picks another)" >&2
  exit 1
fi
mkdir -p var
source scripts/lib.sh
admin_token
"$BIN/encore" db upgrade
"$BIN/encore" demo-data --if-empty

# Each process runs in its own session (setsid), so a Ctrl-C reaches this script only, which
# stops each process group with SIGTERM (a graceful stop for all of them), SIGKILL if it lingers.
PIDS=()
NAMES=()
start() {
  local name="$1"
  shift
  # The prefixer ignores SIGINT so that a process's last lines still get through.
  setsid "$@" > >(trap '' INT; exec sed -u "s/^/$(printf '%-8s|' "$name") /") 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}

stopping=""
stop_all() {
  [ -n "$stopping" ] && return
  stopping=1
  echo "fleet: stopping ${NAMES[*]}" >&2
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 $((STOP_SECONDS * 5))); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for i in "${!PIDS[@]}"; do
    if kill -0 -- "-${PIDS[$i]}" 2>/dev/null; then
      echo "fleet: ${NAMES[$i]} still running after ${STOP_SECONDS}s: SIGKILL" >&2
      kill -KILL -- "-${PIDS[$i]}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  echo "fleet: stopped" >&2
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM HUP
trap 'stop_all' EXIT

# health <url> <workers>: poll /health/scheduler (60 s at most) until a beat holds the lock and
# that many workers answer; print what it says.
health() {
  "$BIN/python" - "$1" "$2" <<'PY'
import json, sys, time, urllib.error, urllib.request

url, need = sys.argv[1], int(sys.argv[2])
body = {}
for _ in range(120):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as exc:  # 503 while something is missing: still a report
        body = json.load(exc)
    except (OSError, ValueError):
        body = {}
    if body.get("leader") and len(body.get("workers", [])) >= need:
        if need:
            holder, workers = body["leader"]["holder"], ", ".join(body["workers"])
            print(f"fleet: beat {holder} holds the lock; workers: {workers}")
            reason = f": {body['reason']}" if body.get("reason") else ""
            print(f"fleet: /health/scheduler {body['status']}{reason}")
        sys.exit(0)
    time.sleep(0.5)
print(f"fleet: not up after 60 s: {body.get('reason', 'the API does not answer')}", file=sys.stderr)
sys.exit(1)
PY
}

BASE="http://$HOST:$PORT"
start api "$BIN/encore" serve --host "$HOST" --port "$PORT"
start beat "$BIN/encore" beat
start worker1 "$BIN/encore" worker
start worker2 "$BIN/encore" worker
health "$BASE/health/scheduler" 0  # the first beat holds the lock before the standby starts
start standby "$BIN/encore" beat
health "$BASE/health/scheduler" 2
banner "Encore fleet (API, beat + standby, 2 workers) on $BASE, broker $CELERY_BROKER_URL" "$BASE"
echo "  Ctrl-C stops them all."
wait -n "${PIDS[@]}" || true
for i in "${!PIDS[@]}"; do
  kill -0 "${PIDS[$i]}" 2>/dev/null || echo "fleet: ${NAMES[$i]} exited; stopping the others" >&2
done
exit 1
