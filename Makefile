# The two set-up commands of the README:
#   make demo   - install what is missing, then run the kiosk with an embedded demo
#   make test   - install what is missing, then run lint, types, every bench at --smoke size and the whole test suite
# Both work on a fresh Debian machine (as root, or with sudo).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint system-deps venv build clean

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: system-deps $(STAMP)

demo: venv
	$(BIN)/cinepass-kiosk --demo

lint: venv
	$(BIN)/ruff check kiosk sync tests bench packaging
	$(BIN)/mypy

test: venv lint
	bash scripts/bench-smoke.sh
	bash scripts/build-and-selftest.sh
	CINEPASS_BUILT_EXE=dist/cinepass-kiosk/cinepass-kiosk bash scripts/run-tests.sh

build: venv
	$(BIN)/python packaging/build.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache
