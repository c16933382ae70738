#!/usr/bin/env bash
# Builds the counter app (packaging/build.py) and runs the built executable's
# self-test and --version in a clean environment, as a counter PC would start it.
# Exits non-zero if the build, the self-test or --version fails. Run by `make test` (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" packaging/build.py --report
exe=dist/cinepass-kiosk/cinepass-kiosk
clean_env=(env -i PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen HOME="$(mktemp -d)")
echo "== $exe --version"
"${clean_env[@]}" "$exe" --version
echo "== $exe --self-test"
start=$(date +%s%N)
"${clean_env[@]}" "$exe" --self-test
echo "self-test took $(( ($(date +%s%N) - start) / 1000000 )) ms"
