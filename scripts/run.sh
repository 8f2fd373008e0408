#!/usr/bin/env bash
# `make run`: migrate, load demo data into an empty database, print where to look, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var
if [ -z "${ENCORE_ADMIN_TOKEN:-}" ]; then
  # A stable admin token for the laptop profile, kept out of git under var/.
  [ -s var/admin-token ] || "$BIN/python" -c "import secrets; print('adm_' + secrets.token_urlsafe(24))" > var/admin-token
  ENCORE_ADMIN_TOKEN="$(cat var/admin-token)"
  export ENCORE_ADMIN_TOKEN
fi
"$BIN/encore" db upgrade
"$BIN/encore" demo-data --if-empty
cat <<TXT

  Encore is starting on http://$HOST:$PORT
    dashboard / sign-in  http://$HOST:$PORT/
    API docs             http://$HOST:$PORT/docs
    scheduler health     http://$HOST:$PORT/health/scheduler
    admin token          $ENCORE_ADMIN_TOKEN

TXT
exec "$BIN/encore" serve --host "$HOST" --port "$PORT"
