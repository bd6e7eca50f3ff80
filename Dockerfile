# syntax=docker/dockerfile:1
# Build from source. Releases publish a prebuilt image so jobs pull instead of building.

# The base image by digest (of the multi-platform index), so a build is exactly as pinned here;
# `make base-digest` moves it to the tag's current digest (README: "Releases and the prebuilt
# image"). A local build may override it: --build-arg PYTHON_IMAGE=...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:528257d48c1da0dcecc2e725d1ae34498d60c965f1241e39cd6a85a8859bdf84

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, exactly as locked (every file checked against its hash), in their own
# layer: it is rebuilt only when a lock changes. actions-toolkit installs a top-level `tests`
# package, removed. The build backend (hatchling, build.lock) goes into a venv of its own that
# stays in this stage.
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-compile --require-hashes -r requirements/runtime.lock \
    && rm -rf /app/.venv/lib/python3.11/site-packages/tests \
    && /app/.venv/bin/python -m compileall -q -j 0 /app/.venv/lib \
    && python -m venv /build/.venv \
    && /build/.venv/bin/pip install --no-compile --require-hashes -r requirements/build.lock
COPY pyproject.toml README.md ./
COPY src ./src
# Then the project itself, resolving and fetching nothing: its wheel is built by the locked
# backend (no build isolation, which would fetch hatchling unhashed), then installed.
RUN /build/.venv/bin/pip wheel --no-build-isolation --no-deps --wheel-dir /build/wheels . \
    && /app/.venv/bin/pip install --no-compile --no-deps --no-index /build/wheels/promote_action-*.whl \
    && /app/.venv/bin/python -m compileall -q -j 0 /app/.venv/lib

# The sandbox for the self-test workflow (`docker build --target sandbox`): the fakes run from
# the source tree on top of the build stage. They are not in the wheel, so not in the image below.
FROM build AS sandbox
ENV PYTHONPATH=/src/src PYTHONUNBUFFERED=1
ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_sandbox"]

# The action's image: exactly the installed wheel and its locked dependencies.
FROM ${PYTHON_IMAGE}
COPY --from=build /app/.venv /app/.venv
# No USER: the runner mounts the workspace and file-command files owned by root.
# Absolute interpreter: a step's `env:` can override PATH inside the container.
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_action"]
