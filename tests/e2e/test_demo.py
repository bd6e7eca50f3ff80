"""`make demo` shows what a person sees in the GitHub UI; `--raw` shows the runner's stream."""

from __future__ import annotations

import subprocess
import sys

from promote_sandbox.demo import as_shown


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promote_sandbox.demo", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_demo_reads_like_the_github_ui() -> None:
    shown = demo()
    assert shown.returncode == 0, shown.stdout + shown.stderr
    out = shown.stdout
    assert "▸ Plan" in out
    assert "▸ Release phase: demo-production-eu v2" in out
    assert "::" not in out, "no workflow command is shown"
    assert "HRKU-" not in out
    assert "✅ Heroku slug copy: succeeded" in out
    assert "|---" not in out
    assert "\\(" not in out
    assert "status: succeeded" in out


def test_raw_shows_the_runner_stream() -> None:
    raw = demo("--raw")
    assert raw.returncode == 0, raw.stdout + raw.stderr
    assert "::add-mask::" in raw.stdout
    assert "::group::Plan" in raw.stdout
    assert "::stop-commands::" in raw.stdout
    assert "|---|" in raw.stdout


def test_masks_apply_to_later_lines_and_stopped_commands_show_verbatim() -> None:
    stream = [
        "::add-mask::s3cret",
        "token s3cret here",
        "::group::Release phase: app v2",
        "::stop-commands::abc123",
        "::set-output name=x::y",
        "::abc123::",
        "::endgroup::",
        "::error title=promote-action::it failed%0Aon two lines",
        "::debug::hidden",
    ]
    assert list(as_shown(stream)) == [
        "token *** here",
        "\n▸ Release phase: app v2",
        "::set-output name=x::y",
        "Error: it failed\non two lines",
    ]
