# `make demo` and `make test` work on a fresh machine: both create .venv from the registries.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck check-action unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m promote_action.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check-action: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline .
	$(BIN)/hadolint Dockerfile

# The official Heroku CLI, pinned, for tests/sandbox/test_official_cli.py: it proves the sandbox
# speaks Heroku's wire format to a client we did not write.
HEROKU_CLI_VERSION := 11.10.0
HEROKU_CLI_STAMP := .tools/heroku-cli/.installed-$(HEROKU_CLI_VERSION)

$(HEROKU_CLI_STAMP):
	npm install --prefix .tools/heroku-cli --no-audit --no-fund --loglevel=error heroku@$(HEROKU_CLI_VERSION)
	touch $(HEROKU_CLI_STAMP)

# The official kintone REST API client, pinned, for tests/sandbox/test_official_kintone_client.py:
# it proves the fake kintone speaks kintone's wire format to a client we did not write.
KINTONE_CLIENT_VERSION := 6.2.1
KINTONE_CLIENT_STAMP := .tools/kintone-client/.installed-$(KINTONE_CLIENT_VERSION)

$(KINTONE_CLIENT_STAMP):
	npm install --prefix .tools/kintone-client --no-audit --no-fund --loglevel=error @kintone/rest-api-client@$(KINTONE_CLIENT_VERSION)
	touch $(KINTONE_CLIENT_STAMP)

unit: $(STAMP) $(HEROKU_CLI_STAMP) $(KINTONE_CLIENT_STAMP)
	$(BIN)/pytest -n 2

test: lint typecheck check-action unit

bench: $(STAMP)
	$(BIN)/python benchmarks/slug_copy.py
	$(BIN)/python benchmarks/pipeline_promote.py --long

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache
