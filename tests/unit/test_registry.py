"""The registry is the one table of operations: action.yml, the inputs model and the code
must all agree with it."""

from __future__ import annotations

import re

import pytest

from promote_action.inputs import Inputs, load_inputs
from promote_action.registry import COMMON_INPUTS, OPERATION_NAMES, OPERATIONS, REGISTRY
from promote_action.status import Status
from runner import ACTION


def test_action_yml_lists_exactly_the_registered_operations():
    described = ACTION["inputs"]["operation"]["description"]
    listed = re.findall(r"[a-z]+(?:-[a-z]+)+", described)
    assert listed == list(OPERATION_NAMES)


def test_every_input_is_read_by_some_operation_and_every_read_input_exists():
    declared = set(ACTION["inputs"])
    read = set(COMMON_INPUTS).union(*(spec.reads for spec in REGISTRY))
    assert read == declared
    assert {name.replace("_", "-") for name in Inputs.model_fields} == declared


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda spec: spec.name)
def test_every_row_loads_an_operation_with_a_plan_type(spec):
    cls = spec.load()
    assert hasattr(cls.plan_type, "model_validate")
    assert callable(cls.pinned_inputs)
    for method in ("plan", "drift", "apply", "result", "close"):
        assert callable(getattr(cls, method)), (spec.name, method)


def test_the_operation_input_accepts_only_registered_names():
    assert load_inputs({"operation": "slug-copy"}, {}).operation == "slug-copy"
    with pytest.raises(Exception, match="expected one of: " + ", ".join(OPERATION_NAMES)):
        load_inputs({"operation": "slug-paste"}, {})
    assert set(OPERATIONS) == set(OPERATION_NAMES)


def test_status_values_are_the_strings_users_script_against():
    assert Status.TIMED_OUT == "timed-out"
    assert f"{Status.DRY_RUN}" == "dry-run"
    assert all(status.icon for status in Status)
