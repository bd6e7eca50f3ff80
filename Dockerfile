# syntax=docker/dockerfile:1
# Build from source. Releases publish a prebuilt image so jobs pull instead of building.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-compile . \
    && /app/.venv/bin/python -m compileall -q -j 0 /app/.venv/lib \
    && rm -rf /app/.venv/lib/python3.11/site-packages/tests

FROM python:3.11-slim-bookworm
COPY --from=build /app/.venv /app/.venv
# No USER: the runner mounts the workspace and file-command files owned by root.
# Absolute interpreter: a step's `env:` can override PATH inside the container.
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_action"]
