"""scripts/release_check_image.sh with a stand-in `docker`: the anonymous pull and start check.

release.yml runs it before any tag moves; here `docker` is a script that records how it was
called (and whether any credentials were in reach) and answers as the registry would.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release_check_image.sh"
REF = "ghcr.io/owner/promote-action@sha256:" + "ab" * 32

FAKE_DOCKER = """#!/usr/bin/env bash
# Records argv and what DOCKER_CONFIG holds; FAKE_PULL / FAKE_RUN_EXIT choose the answers.
printf '%s|config=%s|files=%s\\n' "$*" "${DOCKER_CONFIG:-unset}" \
    "$(ls -A "${DOCKER_CONFIG:-/nonexistent}" 2>/dev/null | tr '\\n' ' ')" >> "${FAKE_LOG}"
case "$1" in
  pull)
    case "${FAKE_PULL}" in
      ok) echo "${@: -1}" ;;
      denied) echo 'Error response from daemon: Head "https://ghcr.io/v2/owner/promote-action/manifests/sha256:abab": denied' >&2; exit 1 ;;
      unknown) echo 'Error response from daemon: manifest unknown' >&2; exit 1 ;;
      arm64-denied) [[ "$*" == *linux/arm64* ]] && { echo 'unauthorized: authentication required' >&2; exit 1; }; echo ok ;;
    esac ;;
  run) exit "${FAKE_RUN_EXIT}" ;;
esac
"""


def check(tmp_path: Path, *, pull: str = "ok", run_exit: int = 2, ref: str = REF):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    log.write_text("")
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    (home / ".docker" / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "eDp5"}}}')
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),  # a logged-in client: must not be used
        "FAKE_LOG": str(log),
        "FAKE_PULL": pull,
        "FAKE_RUN_EXIT": str(run_exit),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), ref], env=env, check=False, capture_output=True, text=True
    )
    return result, log.read_text().splitlines()


def test_both_platforms_are_pulled_without_credentials_then_started(tmp_path: Path):
    result, calls = check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [call.split("|")[0] for call in calls] == [
        f"pull --quiet --platform linux/amd64 {REF}",
        f"run --rm --pull never --platform linux/amd64 {REF}",
        f"pull --quiet --platform linux/arm64 {REF}",
        f"run --rm --pull never --platform linux/arm64 {REF}",
    ]
    for call in calls:
        _, config, files = call.split("|")
        assert config != f"config={tmp_path / 'home' / '.docker'}"
        assert files == "files="  # an empty DOCKER_CONFIG: no credentials, no helpers
    assert "starts and rejects a run without inputs" in result.stdout


@pytest.mark.parametrize("pull", ["denied", "arm64-denied"])
def test_a_denied_pull_fails_with_the_fix(tmp_path: Path, pull: str):
    result, calls = check(tmp_path, pull=pull)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert "make the package public" in errors[0].lower()
    assert "re-run the failed job" in errors[0]
    assert "No tag has moved" in errors[0]
    if pull == "denied":
        assert len(calls) == 1  # nothing is started after a failed pull


def test_another_pull_failure_is_not_blamed_on_visibility(tmp_path: Path):
    result, _ = check(tmp_path, pull="unknown")
    assert result.returncode == 1
    assert "manifest unknown" in result.stdout
    assert "could not pull" in result.stdout
    assert "public" not in result.stdout


@pytest.mark.parametrize("run_exit", [0, 1, 125, 139])
def test_an_image_that_does_not_reject_an_empty_run_fails(tmp_path: Path, run_exit: int):
    result, calls = check(tmp_path, run_exit=run_exit)
    assert result.returncode == 1
    assert f"exited {run_exit}" in result.stdout
    assert len(calls) == 2  # stops at amd64


@pytest.mark.parametrize("ref", ["ghcr.io/owner/promote-action:v1", "ghcr.io/o/r@sha256:abc", ""])
def test_only_a_digest_is_checked(tmp_path: Path, ref: str):
    result, calls = check(tmp_path, ref=ref)
    assert result.returncode == 1
    assert calls == []
