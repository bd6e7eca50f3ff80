"""pipeline promote: the entrypoint started as a process, as the runner starts the container
(signals, interleaving with other writers, the CLI outside GitHub)."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from pipeline_world import (
    PipelineWorld,
    pipeline_world_fixture,  # noqa: F401 - the `world` fixture
)
from runner import finish, start_action


def test_sigterm_reports_the_promotion_it_started(world: PipelineWorld):
    world.sandbox.heroku.set_promotion_behaviour(pending_seconds=60)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        process = start_action(world.inputs(), tmp)
        deadline = time.monotonic() + 20
        while not world.promotion_posts():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        # A ceiling far below what the action waits for (60 s), not a timing: it stopped
        # because of the signal, and says so below. (No wall-clock race in the assertions.)
        run = finish(process, tmp, timeout=10)
    assert run.exit_code == 130
    assert run.outputs["status"] == "cancelled"
    assert run.outputs["promotion-id"] == world.sandbox.heroku.promotions()[0].id
