#!/usr/bin/env bash
# `make run`: migrate, load demo data into an empty database, print where to look, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var
source scripts/lib.sh
admin_token
"$BIN/encore" db upgrade
"$BIN/encore" demo-data --if-empty
banner "Encore is starting on http://$HOST:$PORT" "http://$HOST:$PORT"
exec "$BIN/encore" serve --host "$HOST" --port "$PORT"
