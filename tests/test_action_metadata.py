"""action.yml, the Inputs model, the outputs we write and README must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promote_action.inputs import Inputs, load_inputs
from runner import ACTION, runner_env

ROOT = Path(__file__).resolve().parent.parent


def test_every_input_is_declared_in_both_places():
    declared = set(ACTION["inputs"])
    modelled = {name.replace("_", "-") for name in Inputs.model_fields}
    assert declared == modelled


def test_action_yml_defaults_parse_to_the_model_defaults(monkeypatch: pytest.MonkeyPatch):
    for variable, value in runner_env({}).items():
        monkeypatch.setenv(variable, value)
    from_action = load_inputs({})
    assert from_action.model_dump() == Inputs.model_construct().model_dump()


def test_underscore_spelling_is_accepted(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INPUT_SOURCE_APP", "shop-staging")
    monkeypatch.setenv("INPUT_TARGET-APPS", "a-prod\nb-prod,a-prod")
    inputs = load_inputs({})
    assert inputs.source_app == "shop-staging"
    assert inputs.target_apps == ["a-prod", "b-prod"]


def test_readme_documents_every_input_and_output():
    readme = (ROOT / "README.md").read_text()
    missing = [
        name for name in [*ACTION["inputs"], *ACTION["outputs"]] if f"`{name}`" not in readme
    ]
    assert not missing


def test_docker_entrypoint_is_absolute_and_the_image_has_no_secrets():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/app/.venv/bin/python", "-m", "promote_action"]' in dockerfile
    assert not re.search(r"(?i)(api[_-]?key|token|password)\s*=", dockerfile)
