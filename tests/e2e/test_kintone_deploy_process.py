"""kintone deploy: the entrypoint started as a process, as the runner starts the container
(signals, interleaving with other writers, the CLI outside GitHub)."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from kintone_world import (
    KintoneWorld,
    kintone_world_fixture,  # noqa: F401 - the `kintone` fixture
)
from promote_sandbox import Fault
from runner import finish, start_action


def test_settings_changed_between_plan_and_deploy_are_not_deployed(kintone: KintoneWorld):
    """The deploy carries the planned revisions, so kintone refuses it (GAIA_CO03)."""
    app = kintone.apps[1]
    live_reads = r"^GET /k/v1/app/settings.json$"
    kintone.sandbox.add_fault(Fault(match=live_reads, delay_seconds=0.5, times=3))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(kintone.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not any(
            r.path == "/k/v1/app/settings.json" for r in kintone.sandbox.requests_in_flight()
        ):
            assert time.monotonic() < deadline, "the plan never read production settings"
            time.sleep(0.01)
        kintone.sandbox.kintone.change_preview(app, name="Sneaky change")
        run = finish(process, tmp)
    assert run.exit_code == 1, run.stdout
    line = run.error_lines()[0]
    assert "GAIA_CO03" in line
    assert f"app {app} planned at revision 6, now 7" in line
    assert all(kintone.sandbox.kintone.app(a).live_revision == 5 for a in kintone.apps)


def test_cancellation_reports_that_kintone_finishes_the_deploy(kintone: KintoneWorld):
    kintone.sandbox.kintone.set_deploy_behaviour(processing_seconds=60)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(kintone.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not kintone.deploy_posts():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        # A ceiling far below what the action waits for (60 s), not a timing: it stopped
        # because of the signal, and says so below. (No wall-clock race in the assertions.)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"
    assert "kintone completes it on its own" in run.error_lines()[0]
