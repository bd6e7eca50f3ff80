# `make demo` and `make test` work on a fresh machine: both create .venv from the registries.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck check-action unit bench clean lock readme base-digest

# Dependencies come from the hash-locked requirements/dev.lock (`make lock` writes it from
# pyproject.toml), then the project itself without resolving anything. The editable install puts
# src/ on the path, so the fakes (src/promote_sandbox, not in the wheel) import in development;
# `promote-sandbox` starts them.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	printf '#!/bin/sh\nexec "%s/python" -m promote_sandbox "$$@"\n' "$$(cd $(BIN) && pwd)" > $(BIN)/promote-sandbox
	chmod +x $(BIN)/promote-sandbox
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m promote_sandbox.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy scripts

check-action: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/*.yml
	$(BIN)/zizmor --offline . examples/*.yml
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

# The locked build backend, as the Dockerfile uses it, for tests/e2e/test_packaging.py: it builds
# the wheel the image installs and checks that no fake is in it.
BUILD_STAMP := .tools/build/.installed
$(BUILD_STAMP): requirements/build.lock
	$(PYTHON) -m venv .tools/build
	.tools/build/bin/python -m pip install --quiet --require-hashes -r requirements/build.lock
	touch $(BUILD_STAMP)

# Most tests wait on the sandbox's simulated latency rather than on the CPU: 4 workers on 2 cores.
unit: $(STAMP) $(HEROKU_CLI_STAMP) $(KINTONE_CLIENT_STAMP) $(BUILD_STAMP)
	$(BIN)/pytest -n 4

test: lint typecheck check-action unit

bench: $(STAMP)
	$(BIN)/python benchmarks/slug_copy.py
	$(BIN)/python benchmarks/pipeline_promote.py --long
	$(BIN)/python benchmarks/kintone_deploy.py
	$(BIN)/python benchmarks/kintone_promote.py
	$(BIN)/python benchmarks/connect_promote.py
	$(BIN)/python benchmarks/startup.py

# Lock files with hashes for every wheel of every platform (linux x86_64 and aarch64 included),
# for Python 3.11: runtime.lock for the image, dev.lock (runtime + the `test` extra, the runtime
# pins kept identical) for .venv, build.lock (the build backend, from build.in) for the image's
# wheel build. Pins already in a lock are kept when they still fit;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions.
UV_VERSION := 0.13.9
UV_STAMP := .tools/uv/.installed-$(UV_VERSION)
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_ARGS)

$(UV_STAMP):
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $(UV_STAMP)

lock: $(UV_STAMP)
	.tools/uv/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements/runtime.lock
	.tools/uv/bin/uv pip compile pyproject.toml --extra test -c requirements/runtime.lock $(LOCK_FLAGS) -o requirements/dev.lock
	.tools/uv/bin/uv pip compile requirements/build.in $(LOCK_FLAGS) -o requirements/build.lock

# The Dockerfile's base image is pinned by digest: this moves the pin to what PYTHON_BASE's tag
# points to now (the multi-platform index). Needs docker with buildx and access to Docker Hub.
PYTHON_BASE := python:3.11-slim-bookworm

base-digest:
	@digest="$$(docker buildx imagetools inspect $(PYTHON_BASE) --format '{{json .Manifest.Digest}}' | tr -d '"')" \
	&& echo "$$digest" | grep -Eqx 'sha256:[0-9a-f]{64}' \
	&& sed -i "s|^ARG PYTHON_IMAGE=.*|ARG PYTHON_IMAGE=$(PYTHON_BASE)@$$digest|" Dockerfile \
	&& grep '^ARG PYTHON_IMAGE=' Dockerfile

# README's Inputs and Outputs tables are generated from action.yml.
readme: $(STAMP)
	$(BIN)/python scripts/readme_tables.py

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache
