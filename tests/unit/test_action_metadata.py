"""action.yml, the Inputs model, the outputs we write and README must not drift apart."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from promote_action.inputs import Inputs, load_inputs
from promote_action.urls import check_api_url
from runner import ACTION, runner_env

ROOT = Path(__file__).resolve().parents[2]


def test_every_input_is_declared_in_both_places():
    declared = set(ACTION["inputs"])
    modelled = {name.replace("_", "-") for name in Inputs.model_fields}
    assert declared == modelled


def test_action_yml_defaults_parse_to_the_model_defaults():
    from_action = load_inputs({}, runner_env({}))
    assert from_action.model_dump() == Inputs.model_construct().model_dump()


def test_underscore_spelling_is_accepted():
    environ = {"INPUT_SOURCE_APP": "shop-staging", "INPUT_TARGET-APPS": "a-prod\nb-prod,a-prod"}
    inputs = load_inputs({}, environ)
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


# README's tables are generated from action.yml by scripts/readme_tables.py (`make readme`).

README_TABLES = ROOT / "scripts" / "readme_tables.py"


def _readme_tables():  # the script is not a package module: load it from its path
    spec = importlib.util.spec_from_file_location("readme_tables", README_TABLES)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_generated_from_action_yml():
    check = subprocess.run(
        [sys.executable, str(README_TABLES), "--check"], check=False, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr + "(run `make readme`)"


def test_readme_tables_escape_pipes_and_keep_one_line_per_row():
    tables = _readme_tables()
    action = {
        "inputs": {
            "a|b": {"description": "x | y\nand `z|w`", "default": "1|2", "required": True},
            "plain": {"description": "no default"},
        },
        "outputs": {"out": {"description": "one\n\ntwo | three"}},
    }
    readme = "intro\n<!-- inputs:start -->\nold\n<!-- inputs:end -->\n<!-- outputs:start -->\n<!-- outputs:end -->\nend\n"
    rendered = tables.render(readme, action)
    assert rendered.startswith("intro\n<!-- inputs:start -->\n| Input | Default | Required |")
    assert rendered.endswith("<!-- outputs:end -->\nend\n")
    assert "old" not in rendered
    assert "| `a\\|b` | `1\\|2` | yes | x \\| y and `z\\|w` |" in rendered
    assert "| `plain` |  |  | no default |" in rendered
    assert "| `out` | one two \\| three |" in rendered
    assert tables.code("has `tick`") == "`` has `tick` ``"
    assert tables.code("a`b") == "``a`b``"
    assert tables.render(rendered, action) == rendered


def test_readme_tables_check_mode_fails_on_drift_and_write_mode_fixes_it(tmp_path: Path):
    readme, action = tmp_path / "README.md", tmp_path / "action.yml"
    readme.write_text((ROOT / "README.md").read_text())
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    spec["inputs"]["brand-new-input"] = {"description": "Added without `make readme`."}
    action.write_text(yaml.safe_dump(spec))
    args = [sys.executable, str(README_TABLES), "--readme", str(readme), "--action", str(action)]
    stale = subprocess.run([*args, "--check"], check=False, capture_output=True, text=True)
    assert stale.returncode == 1
    assert "make readme" in stale.stderr
    assert subprocess.run(args, check=False, capture_output=True).returncode == 0
    assert "`brand-new-input`" in readme.read_text()
    assert subprocess.run([*args, "--check"], check=False).returncode == 0


def test_readme_tables_refuse_missing_markers(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    run = subprocess.run(
        [sys.executable, str(README_TABLES), "--check", "--readme", str(readme)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "inputs:start" in run.stderr


# Installs are reproducible: requirements/*.lock pin every package with hashes (`make lock`).


def _lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """Package -> (version, hashes) of a `uv pip compile --generate-hashes` lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = (pin.group(2), [])
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current][1].append(digest.group(1))
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{name}: unexpected line {line!r}")
    return pins


def _assert_satisfied(requirements: list[str], pins: dict[str, tuple[str, list[str]]]) -> None:
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not locked: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} does not satisfy {text!r}: run `make lock`"
        )


def test_lock_files_pin_every_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = _lock("runtime.lock"), _lock("dev.lock")
    _assert_satisfied(project["dependencies"], runtime)
    _assert_satisfied(project["dependencies"] + project["optional-dependencies"]["test"], dev)
    for pins in (runtime, dev):
        assert all(hashes for _, hashes in pins.values())
    # The image runs exactly what the tests ran.
    assert {name: pins[0] for name, pins in runtime.items()} == {
        name: dev[name][0] for name in runtime
    }


def test_installs_use_the_lock_files():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\):.*requirements/dev\.lock", makefile, re.M)
    assert "pip install --quiet --require-hashes -r requirements/dev.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements/runtime.lock requirements/build.lock ./requirements/" in dockerfile
    assert "pip install --no-compile --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "pip wheel --no-build-isolation --no-deps" in dockerfile  # the locked build backend
    assert "pip install --no-compile --no-deps --no-index /build/wheels/" in dockerfile
    assert "site-packages/tests" in dockerfile  # actions-toolkit's stray top-level package
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "!requirements/runtime.lock" in dockerignore


def test_plain_http_only_to_loopback_or_explicitly_allowed_hosts(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ValueError, match="plain http is allowed only"):
        check_api_url("http://172.17.0.2:8080")
    monkeypatch.setenv("PROMOTE_ACTION_ALLOW_HTTP_HOSTS", "172.17.0.2, sandbox")
    assert check_api_url("http://172.17.0.2:8080/") == "http://172.17.0.2:8080"
    assert check_api_url("http://sandbox:8080") == "http://sandbox:8080"
    with pytest.raises(ValueError, match="plain http is allowed only"):
        check_api_url("http://sandbox.evil.com")
    with pytest.raises(ValueError, match="without credentials"):
        check_api_url("http://user:pw@sandbox:8080")
