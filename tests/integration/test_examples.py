"""examples/*.yml are complete workflows users copy: they must be valid, pass zizmor, and use
only inputs and outputs that action.yml declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from promote_action.registry import OPERATIONS, unread_input
from runner import ACTION

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yml"))
BIN = Path(sys.executable).parent
# How the examples refer to this action; users replace the owner and pin their release's SHA.
OUR_ACTION = re.compile(r"^your-org/promote-action@[0-9a-f]{40}$")


def _our_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    steps = []
    for job in workflow["jobs"].values():
        steps += [step for step in job.get("steps", []) if OUR_ACTION.match(step.get("uses", ""))]
    return steps


def _load(path: Path) -> dict[Any, Any]:
    workflow = yaml.safe_load(path.read_text())
    assert isinstance(workflow, dict)
    return workflow


def test_there_are_examples():
    names = {path.name for path in EXAMPLES}
    assert {
        "production-promotion.yml",
        "pr-preview.yml",
        "kintone-deploy.yml",
        "heroku-connect-release.yml",
        "plan-apply.yml",
    } <= names


def test_examples_are_valid_workflows():
    check = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *EXAMPLES],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_examples_pass_zizmor():
    audit = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", *EXAMPLES],
        check=False,
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_pin_the_action_by_commit_sha_with_a_version_comment(path: Path):
    references = re.findall(r"uses: (\S*promote-action\S*)(.*)", path.read_text())
    assert references
    for reference, rest in references:
        assert OUR_ACTION.match(reference), reference
        assert re.match(r"\s+# v\d+", rest), f"{reference}: no `# vN` comment"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_use_only_declared_inputs(path: Path):
    steps = _our_steps(_load(path))
    assert steps
    used = {name for step in steps for name in step.get("with", {})}
    undeclared = sorted(used - set(ACTION["inputs"]))
    assert not undeclared, f"{path.name} uses inputs action.yml does not declare: {undeclared}"
    for step in steps:
        assert "operation" in step["with"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_read_only_declared_outputs(path: Path):
    workflow = _load(path)
    ids = {step["id"] for step in _our_steps(workflow) if "id" in step}
    text = path.read_text()
    read = {
        (step_id, output)
        for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text)
        if step_id in ids
    }
    undeclared = sorted(output for _, output in read if output not in ACTION["outputs"])
    assert not undeclared, f"{path.name} reads outputs action.yml does not declare: {undeclared}"


def test_readme_lists_every_example():
    readme = (ROOT / "README.md").read_text()
    missing = [path.name for path in EXAMPLES if f"examples/{path.name}" not in readme]
    assert not missing


def test_the_self_test_workflow_uses_only_declared_inputs_and_outputs():
    path = ROOT / ".github" / "workflows" / "self-test.yml"
    workflow = _load(path)
    steps = [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses") == "./"
    ]
    assert len(steps) >= 2
    used = {name for step in steps for name in step.get("with", {})}
    assert used <= set(ACTION["inputs"]), sorted(used - set(ACTION["inputs"]))
    ids = {step["id"] for step in steps}
    read = re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", path.read_text())
    outputs = {output for step_id, output in read if step_id in ids}
    assert outputs <= set(ACTION["outputs"]), sorted(outputs - set(ACTION["outputs"]))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_serialise_runs_per_target_environment(path: Path):
    """Two runs for one target must not meet (issue 11, point 9): a concurrency group, never
    cancelling a production deploy half way."""
    workflow = _load(path)
    groups = [workflow.get("concurrency")] + [
        job.get("concurrency") for job in workflow["jobs"].values()
    ]
    groups = [g for g in groups if g]
    assert groups, f"{path.name} has no concurrency group"


def test_examples_and_self_test_give_only_inputs_their_operation_reads():
    """Inputs the operation and mode would ignore are usage errors now; no example has one."""
    paths = [*EXAMPLES, ROOT / ".github" / "workflows" / "self-test.yml"]
    for path in paths:
        workflow = _load(path)
        steps = [
            step
            for job in workflow["jobs"].values()
            for step in job.get("steps", [])
            if step.get("uses") == "./" or "promote-action" in str(step.get("uses", ""))
        ]
        for step in steps:
            given = step.get("with", {})
            operation = str(given.get("operation", ""))
            if operation not in OPERATIONS:
                continue  # an expression, chosen at run time
            unread = unread_input(
                operation,
                str(given.get("mode", "run")),
                frozenset(given),
                wait=str(given.get("wait", "true")) != "false",
                health_check=str(given.get("health-check", "false")) == "true",
            )
            assert unread is None, f"{path.name}: {unread}"
