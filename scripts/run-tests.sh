#!/usr/bin/env bash
# Runs the whole test suite; starts a throw-away PostgreSQL so the server tests run on it too.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 OPENCV_LOG_LEVEL=ERROR
pgdir=""
cleanup() { [ -n "$pgdir" ] && bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [ -z "${CINEPASS_TEST_PG_URL:-}" ]; then
  if url=$(bash scripts/pg.sh start 2>/tmp/cinepass-pg.log); then
    pgdir=$(echo "$url" | sed -n 's/.*#dir=//p'); export CINEPASS_TEST_PG_URL="${url%%#*}"
  else
    echo "warning: could not start PostgreSQL (see /tmp/cinepass-pg.log); PostgreSQL tests will fail" >&2
  fi
fi
.venv/bin/python -m pytest "$@"
