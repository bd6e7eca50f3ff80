"""connect: the entrypoint started as a process, as the runner starts the container
(signals, interleaving with other writers, the CLI outside GitHub)."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from connect_world import (
    ConnectWorld,
    connect_world_fixture,  # noqa: F401 - the `world` fixture
)
from runner import finish, start_action


def test_pause_waits_for_pending_work(world: ConnectWorld):
    world.sandbox.connect.set_state(world.production, "POLLING_DB_CHANGES")
    process_inputs = world.inputs("connect-pause")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(process_inputs, tmp)
        time.sleep(2.5)
        world.sandbox.connect.set_state(world.production, "IDLE")
        run = finish(process, tmp)
    assert run.exit_code == 0, run.stdout
    assert "waiting for pending work" in run.stdout
    assert world.sandbox.connect.connection(world.production).state == "PAUSED"


def test_cancellation_says_what_was_changed(world: ConnectWorld):
    world.sandbox.connect.set_timing(lag_seconds=60)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(world.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not [r for r in world.writes() if r.path.endswith("/actions/import")]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        # A ceiling far below what the action waits for (60 s), not a timing: it stopped
        # because of the signal, and says so below. (No wall-clock race in the assertions.)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert "configuration imported" in run.error_lines()[0]
