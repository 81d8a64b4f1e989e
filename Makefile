# make run    serve the app (with no VIDEO_API_BASE_URL: against the built-in demo API)
# make test   install what the tests need (venv, packages, Chromium, nginx, PostgreSQL, SeaweedFS, LiteLLM's proxy),
#             lint, and run every test
# make lint   ruff (lint, import order, format), import-linter (the layer rule) and pyright, configured in pyproject.toml
# make bench  run the benchmarks (against nginx and minimal Flask apps) and write bench/REPORT.md
# make demo-api  run only the demo video API on 127.0.0.1:8001
# make translations  compile the catalogues (translations/*/LC_MESSAGES/messages.po -> .mo)
# make messages  extract the texts from the code and update the catalogues (then translate the new ones)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# LiteLLM's proxy, a real relay the tests put between the studio and the demo API; its own pins fight ours.
LITELLM_VENV := .venv-litellm

.PHONY: run test lint bench demo-api browser relay clean translations messages

CATALOGUES := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED   := $(CATALOGUES:.po=.mo)
EXTRACT    := $(BIN)/pybabel -q extract -F babel.cfg -k N_ -k _l -k lazy_gettext --no-location --sort-output \
              --project video-studio --version 1

%.mo: %.po $(VENV)/.runtime
	$(BIN)/pybabel -q compile -i $< -o $@

translations: $(COMPILED)

messages: $(VENV)/.runtime
	$(EXTRACT) -o translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime translations
	$(BIN)/python scripts/serve.py

demo-api: $(VENV)/.runtime
	$(BIN)/python -m demo_api --port $${DEMO_API_PORT:-8001} --data-dir $${DATA_DIR:-data}/demo_api

# Debian's Chromium (and a CJK font for screenshots), PostgreSQL 15 (DATABASE_URL's tests start a throwaway
# cluster) and nginx (the slow-client test puts it in front of
# the app), when missing and installable; otherwise those tests are skipped with a reason
# (REQUIRE_BROWSER=1, set by .ci/run, turns that into a failure).
SYSTEM_PACKAGES := chromium fonts-dejavu-core fonts-wqy-microhei nginx postgresql-15
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/sbin/nginx ] && [ -x /usr/lib/postgresql/15/bin/initdb ] && \
	  fc-list 2>/dev/null | grep -qi wqy; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing $(SYSTEM_PACKAGES) with apt-get..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     $(SYSTEM_PACKAGES) >/dev/null) || echo "apt-get could not install $(SYSTEM_PACKAGES)"; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     $(SYSTEM_PACKAGES) >/dev/null) || echo "apt-get could not install $(SYSTEM_PACKAGES)"; \
	else echo "Chromium, nginx or PostgreSQL is missing and cannot be installed here: those tests will be skipped"; fi

$(LITELLM_VENV)/.installed: requirements-litellm.txt
	test -x $(LITELLM_VENV)/bin/python || $(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-litellm.txt
	touch $@

relay: $(LITELLM_VENV)/.installed

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(BIN)/pyright

test: lint browser translations relay
	$(BIN)/python -m pytest

bench: $(VENV)/.dev browser translations
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LITELLM_VENV) .pytest_cache bench/report.txt $(COMPILED)
