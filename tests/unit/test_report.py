"""Reporting: outputs by the runner's rules, escaping of untrusted text, masks, summaries."""

from __future__ import annotations

import io
import logging
import re

from promote_action.report import markdown as md
from promote_action.report.workflow import Reporter, install_logging
from runner import parse_github_output


def github_reporter(tmp_path) -> tuple[Reporter, io.StringIO]:
    out = io.StringIO()
    (tmp_path / "out").write_text("")
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "sum")}
    return Reporter(env, stdout=out), out


def test_outputs_cannot_inject_other_outputs(tmp_path):
    reporter, _ = github_reporter(tmp_path)
    evil = "x\nstatus=succeeded\nghadelimiter_1234\nrelease-id=forged"
    reporter.set_outputs({"result": evil, "status": "failed"})
    parsed = parse_github_output((tmp_path / "out").read_text())
    assert parsed == {"result": evil, "status": "failed"}


def test_remote_lines_are_printed_with_commands_stopped(tmp_path):
    reporter, out = github_reporter(tmp_path)
    reporter.untrusted_lines(["::add-mask::oops", "::error::fake"])
    lines = out.getvalue().splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) >= 32
    assert lines[1:] == ["::add-mask::oops", "::error::fake", f"::{token}::"]


def test_log_records_cannot_start_a_command_line(tmp_path):
    reporter, out = github_reporter(tmp_path)
    install_logging(reporter, debug=False)
    logging.getLogger("promote_action.test").error("bad\n::set-output name=x::y")
    logging.getLogger("promote_action.test").info("info\n::add-mask::z")
    assert out.getvalue().splitlines() == [
        "::error title=promote-action::bad%0A::set-output name=x::y",
        "info ::add-mask::z",
    ]


def test_masks_are_registered_per_line_once(tmp_path):
    reporter, out = github_reporter(tmp_path)
    reporter.mask("line-one\nline-two")
    reporter.mask("line-one")
    assert out.getvalue().splitlines() == ["::add-mask::line-one", "::add-mask::line-two"]


def test_release_output_of_parallel_targets_never_interleaves(tmp_path):
    reporter, out = github_reporter(tmp_path)
    remote = reporter.remote
    remote.line("A", "a1")
    remote.line("B", "b1")
    remote.line("A", "a2")
    remote.line("B", "b2")
    remote.finish("B")
    remote.finish("A")
    stop_markers = re.compile(r"^::(stop-commands::)?[0-9a-f]{32}(::)?$")
    text = [line for line in out.getvalue().splitlines() if not stop_markers.match(line)]
    assert text == [
        "::group::A",
        "a1",
        "a2",
        "::endgroup::",
        "::group::B",
        "b1",
        "b2",
        "::endgroup::",
    ]


def test_markdown_text_neutralises_mentions_links_images_and_html():
    rendered = md.text("@acme/admins ![x](https://t.example/p.png) <script>|\n`x`")
    assert "@acme" not in rendered.replace("\\@", "")
    assert "](" not in rendered.replace("\\]\\(", "")
    assert "<script>" not in rendered
    assert "\n" not in rendered
    assert "\\|" in rendered


def test_code_block_fence_is_longer_than_any_backtick_run():
    block = md.code_block("a ``` b ```` c")
    assert block.startswith("`````text\n")
    assert block.endswith("\n`````")


def test_console_mode_prints_outputs_readably_and_as_json():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter({}, stdout=out, stderr=err, json_mode=True)
    reporter.set_outputs({"status": "succeeded"})
    reporter.finish()
    assert out.getvalue().strip() == '{\n  "status": "succeeded"\n}'


def test_markdown_text_escapes_block_markers_only_at_the_start():
    assert md.text("shop-prod-eu v2") == "shop-prod-eu v2"
    assert md.text("- item") == "\\- item"
    assert md.text("1. item") == "1\\. item"
    assert md.text("# heading") == "\\# heading"
    assert md.text("+ field Phone; - field X") == "\\+ field Phone; - field X"


LEGACY = re.compile(r"##\[")


def test_log_lines_cannot_carry_a_command_in_either_form(tmp_path):
    """The runner honours `::cmd::` at a line's start and the legacy `##[cmd]` anywhere."""
    reporter, out = github_reporter(tmp_path)
    install_logging(reporter, debug=True)
    logger = logging.getLogger("promote_action.test")
    payload = "x ##[set-env name=A]b ###[add-mask]c"
    logger.info("::add-mask::z %s", payload)
    logger.info("  ::set-output name=x::y")
    logger.warning("retrying: %s", payload)
    logger.error("%s", payload)
    logger.debug("%s", payload)
    reporter.untrusted_lines(["release says ##[error]boom"])
    reporter.command("group", "app ##[endgroup]")
    lines = out.getvalue().splitlines()
    assert not [line for line in lines if LEGACY.search(line)], lines
    token = next(line for line in lines if line.startswith("::stop-commands::")).split("::")[2]
    ours = ("warning title=", "error title=", "debug::", "stop-commands::", f"{token}::", "group::")
    commands = [line.strip()[2:] for line in lines if line.strip().startswith("::")]
    assert len(commands) == 6, lines
    assert all(command.startswith(ours) for command in commands), commands
    assert "\u2060::add-mask::z x #\u2060#[set-env name=A]b" in lines[0]


def test_remote_text_loses_control_characters_and_is_capped(tmp_path):
    reporter, out = github_reporter(tmp_path)
    install_logging(reporter, debug=False)
    logging.getLogger("promote_action.test").error("boom\x1b[31m\x07 " + "e" * 300_000)
    (line,) = out.getvalue().splitlines()
    assert "\x1b" not in line
    assert "\x07" not in line
    assert len(line.encode()) < 2200
    assert line.endswith("(truncated)")
    assert md.text("a\x1b]8;;evil\x07b") == "a\\]8;;evilb"
    assert "\x1b" not in md.code_block("ok\x1b[2Jline\nnext\tcol")
    assert "next\tcol" in md.code_block("next\tcol")
    reporter.set_outputs({"error": "bad\x1b[0m\x9bthing"})
    assert parse_github_output((tmp_path / "out").read_text()) == {"error": "bad[0mthing"}
