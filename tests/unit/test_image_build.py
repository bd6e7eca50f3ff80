"""The image is exactly as locked: base image by digest, build backend and dependencies hashed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PINNED_BASE = re.compile(r"^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}$")


def lock_entries(path: Path) -> dict[str, str]:
    """name -> the entry's text (pin line and its --hash lines) of a `uv pip compile` lock."""
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        first = block.split("\n", 1)[0]
        if "==" in first:
            entries[first.split("==")[0].lower()] = block
    return entries


def test_the_base_image_is_pinned_by_digest_and_can_be_overridden():
    lines = DOCKERFILE.splitlines()
    args = [i for i, line in enumerate(lines) if line.startswith("ARG PYTHON_IMAGE=")]
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(args) == 1
    assert PINNED_BASE.match(lines[args[0]]), lines[args[0]]
    assert args[0] < froms[0]
    # Every stage starts from the pinned base, directly or through the build stage.
    assert [lines[i] for i in froms] == [
        "FROM ${PYTHON_IMAGE} AS build",
        "FROM build AS sandbox",
        "FROM ${PYTHON_IMAGE}",
    ]


def test_the_wheel_is_built_by_the_hash_locked_backend_without_build_isolation():
    build_lock = ROOT / "requirements" / "build.lock"
    entries = lock_entries(build_lock)
    assert "hatchling" in entries
    assert all("--hash=sha256:" in entry for entry in entries.values()), entries
    # build.in asks for what pyproject.toml's build system requires.
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    wanted = [
        line
        for line in (ROOT / "requirements" / "build.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert wanted == requires
    assert "pip install --no-compile --require-hashes -r requirements/build.lock" in DOCKERFILE
    assert "pip wheel --no-build-isolation --no-deps" in DOCKERFILE
    assert "--require-hashes -r requirements/runtime.lock" in DOCKERFILE
    # Every pip install is from a lock with hashes, or the wheel just built, with nothing fetched.
    for install in re.findall(r"pip install [^\n\\&]*", DOCKERFILE):
        assert "--require-hashes" in install or "--no-index" in install, install


def test_the_build_context_has_the_lock_files():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :].count("!requirements/build.lock") == 1
    assert "!requirements/runtime.lock" in ignore
    assert "COPY requirements/runtime.lock requirements/build.lock ./requirements/" in DOCKERFILE


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_base_digest_moves_the_pin(tmp_path: Path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    new = "sha256:" + "c0ffee" * 10 + "abcd"
    fake = bin_dir / "docker"
    fake.write_text(f'#!/bin/sh\necho "$*" > "{tmp_path}/argv"\necho \'"{new}"\'\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["make", "--quiet", "base-digest"], cwd=tmp_path, env=env, check=True)
    argv = (tmp_path / "argv").read_text().split()
    assert argv[:4] == ["buildx", "imagetools", "inspect", "python:3.11-slim-bookworm"]
    rewritten = (tmp_path / "Dockerfile").read_text()
    assert f"ARG PYTHON_IMAGE=python:3.11-slim-bookworm@{new}\n" in rewritten
    assert rewritten.replace(new, "X") == re.sub(r"sha256:[0-9a-f]{64}", "X", DOCKERFILE, count=1)

    # Anything but a digest leaves the Dockerfile as it was and fails.
    fake.write_text("#!/bin/sh\necho 'no such manifest'\n")
    failed = subprocess.run(["make", "--quiet", "base-digest"], cwd=tmp_path, env=env, check=False)
    assert failed.returncode != 0
    assert (tmp_path / "Dockerfile").read_text() == rewritten
