"""scripts/release_tags.py: which git tags a release creates or moves (release.yml calls it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release_tags.py"


def _module():  # the script is not a package module: load it from its path
    spec = importlib.util.spec_from_file_location("release_tags", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("release_tags", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


release_tags = _module()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The issue's three examples, exactly.
        (["v1.4.1", "v1.5.0", "v1.4.0"], ["v1.4.1", "v1.4"]),
        (["v2.0.0-rc.1", "v1.5.0"], ["v2.0.0-rc.1"]),
        (["v1.6.0", "v1.5.0"], ["v1.6.0", "v1.6", "v1"]),
    ],
)
def test_the_issue_examples(argv: list[str], expected: list[str]):
    result = run(*argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("tag", "existing", "expected"),
    [
        # The first release of a repository, and of a new major series.
        ("v1.0.0", [], ["v1.0.0", "v1.0", "v1"]),
        ("v2.0.0", ["v1.9.9", "v1", "v1.9"], ["v2.0.0", "v2.0", "v2"]),
        # A re-run: the release's own tag exists already and moves nothing back.
        ("v1.5.0", ["v1.4.0", "v1.5.0", "v1", "v1.5"], ["v1.5.0", "v1.5", "v1"]),
        # Components compare as numbers, not text.
        ("v1.10.0", ["v1.9.0", "v1.2.0"], ["v1.10.0", "v1.10", "v1"]),
        ("v1.9.1", ["v1.10.0", "v1.9.0"], ["v1.9.1", "v1.9"]),
        ("v1.2.10", ["v1.2.9"], ["v1.2.10", "v1.2", "v1"]),
        # A backport to an older minor moves only its own minor; older series stay.
        ("v1.3.7", ["v1.4.1", "v1.5.0", "v1.3.6"], ["v1.3.7", "v1.3"]),
        # A release of an older major leaves the newer major alone, and its own major moves.
        ("v1.5.1", ["v2.0.0", "v1.5.0"], ["v1.5.1", "v1.5", "v1"]),
        # Pre-releases never hold vX.Y or vX, so they never stop a release from taking them.
        ("v2.0.0", ["v2.0.0-rc.2", "v2.1.0-beta", "v1.5.0"], ["v2.0.0", "v2.0", "v2"]),
        ("v1.6.0-rc.1", ["v1.5.0"], ["v1.6.0-rc.1"]),
        # Non-release tags are ignored for comparisons.
        ("v1.4.0", ["v9", "v9.9", "latest", "v1.x", "v1.5.0.1"], ["v1.4.0", "v1.4", "v1"]),
    ],
)
def test_tags_to_move(tag: str, existing: list[str], expected: list[str]):
    assert release_tags.tags_to_move(tag, existing) == expected
    assert run(tag, *existing).stdout.splitlines() == expected


def test_a_release_marked_as_prerelease_moves_only_its_tag():
    assert run("--prerelease", "v1.6.0", "v1.5.0").stdout.splitlines() == ["v1.6.0"]
    assert release_tags.tags_to_move("v1.6.0", ["v1.5.0"], prerelease=True) == ["v1.6.0"]


def test_semver_precedence():
    # The example order of semver 2.0, section 11.
    ordered = [
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.0.1",
        "v1.1.0",
        "v1.10.0",
        "v2.0.0",
    ]
    keys = [release_tags.Version.parse(tag).key() for tag in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "tag", ["1.2.3", "v1.2", "v1", "v1.2.3+build", "v1.2.3-", "v1.2.3-rc..1", "v1.2.3 ", "latest"]
)
def test_an_invalid_tag_is_one_line_on_stderr_and_exit_2(tag: str):
    result = run(tag, "v1.0.0")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert tag.strip() in result.stderr
