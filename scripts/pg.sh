#!/usr/bin/env bash
# scripts/pg.sh start  -> prints postgresql://...#dir=DIR   (a private cluster on a free port)
# scripts/pg.sh stop DIR
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL is not installed" >&2; exit 1; }
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$1" in
start)
  dir=$(mktemp -d /tmp/cinepass-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run "$bindir/initdb" -D "$dir/data" -U cinepass --auth=trust -E UTF8 >/dev/null
  run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" start >/dev/null
  run "$bindir/createdb" -h 127.0.0.1 -p "$port" -U cinepass cinepass_test
  echo "postgresql+psycopg://cinepass@127.0.0.1:$port/cinepass_test#dir=$dir"
  ;;
stop)
  run "$bindir/pg_ctl" -D "$2/data" -m immediate stop >/dev/null || true
  rm -rf "$2"
  ;;
esac
