# make run    serve the app (with no VIDEO_API_BASE_URL: against the built-in demo API)
# make test   install what the tests need (venv, packages, Chromium) and run them all
# make bench  run the benchmarks and write bench/report.txt
# make demo-api  run only the demo video API on 127.0.0.1:8001

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench demo-api browser clean

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python scripts/serve.py

demo-api: $(VENV)/.runtime
	$(BIN)/python -m demo_api --port $${DEMO_API_PORT:-8001} --data-dir $${DATA_DIR:-data}/demo_api

test: $(VENV)/.dev
	$(BIN)/python -m pytest

bench: $(VENV)/.dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache bench/report.txt
