"""kintone-promote as a process: a cancel after the deploy was sent says what kintone does."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from kintone_promote_world import (
    PromoteWorld,
    promote_world_fixture,  # noqa: F401 - the `promote` fixture
)
from runner import finish, start_action


def test_cancel_during_the_deploy(promote: PromoteWorld):
    promote.sandbox.kintone.set_deploy_behaviour(processing_seconds=60)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(promote.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not promote.deploy_posts():
            assert time.monotonic() < deadline, "the deploy was never sent"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"
    [error] = run.error_lines()
    assert "kintone completes it on its own" in error
    assert "production was not verified against the source" in error
    assert [d.body["revert"] for d in promote.deploy_posts()] == [False], "nothing reverted"
