#!/usr/bin/env bash
# Runs every benchmark in bench/ at its tiny --smoke size, so none rots (a few seconds each).
# The figures are too small to judge goals by; a bench that no longer runs fails `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 OPENCV_LOG_LEVEL=ERROR
# bench/soak.py --smoke is the 2-minute soak (the real window under xvfb-run, a real server)
for bench in bench/*.py; do
  echo "== $bench --smoke"
  .venv/bin/python "$bench" --smoke
done
