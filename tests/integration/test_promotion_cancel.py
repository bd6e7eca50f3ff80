"""Cancelled after the promotion was created, before its releases exist: the report says a
promotion was started, for which targets, and that releases may still appear (issue 11,
point 5)."""

from __future__ import annotations

import json

from pipeline_world import (
    PipelineWorld,
    pipeline_world_fixture,  # noqa: F401 - the `world` fixture
)
from runner import cancel_when, run_action


def test_cancel_before_the_promotions_releases_exist(world: PipelineWorld):
    world.sandbox.heroku.set_promotion_behaviour(pending_seconds=60)
    with cancel_when(world.sandbox, lambda path: "promotion-targets" in path) as cancel:
        run = run_action(world.inputs(), cancel=cancel)
    promotion = world.sandbox.heroku.promotions()[0]
    assert len(world.promotion_posts()) == 1
    assert run.exit_code == 130, run.stdout
    assert run.outputs["status"] == "cancelled"
    assert run.outputs["promotion-id"] == promotion.id
    line = run.error_lines()[0]
    assert f"Promotion {promotion.id} was started" in line
    assert "releases may still appear" in line
    assert "Releases created: none" not in line
    assert f"Promotion {promotion.id} was started" in run.summary.replace("\\", "")
    assert "unchanged" not in json.dumps(json.loads(run.outputs["result"])["targets"])
