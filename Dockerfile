# syntax=docker/dockerfile:1
# Build from source. Releases publish a prebuilt image so jobs pull instead of building.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, exactly as locked (every file checked against its hash), in their own
# layer: it is rebuilt only when the lock changes. actions-toolkit installs a top-level `tests`
# package, removed.
COPY requirements/runtime.lock ./requirements/
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-compile --require-hashes -r requirements/runtime.lock \
    && rm -rf /app/.venv/lib/python3.11/site-packages/tests \
    && /app/.venv/bin/python -m compileall -q -j 0 /app/.venv/lib
COPY pyproject.toml README.md ./
COPY src ./src
# Then the project itself, resolving nothing.
RUN /app/.venv/bin/pip install --no-compile --no-deps . \
    && /app/.venv/bin/python -m compileall -q -j 0 /app/.venv/lib

# The sandbox for the self-test workflow (`docker build --target sandbox`): the fakes run from
# the source tree on top of the build stage. They are not in the wheel, so not in the image below.
FROM build AS sandbox
ENV PYTHONPATH=/src/src PYTHONUNBUFFERED=1
ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_sandbox.fixed"]

# The action's image: exactly the installed wheel and its locked dependencies.
FROM python:3.11-slim-bookworm
COPY --from=build /app/.venv /app/.venv
# No USER: the runner mounts the workspace and file-command files owned by root.
# Absolute interpreter: a step's `env:` can override PATH inside the container.
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_action"]
