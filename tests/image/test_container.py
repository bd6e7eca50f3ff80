"""The action's image, run the way the runner starts a Docker container action, against the
sandbox on the host's loopback (`make image-test` builds the image and sets PROMOTE_IMAGE).

As the runner does: every input as `INPUT_*` with its hyphens, secrets passed by name only
(`-e NAME`, value from the environment), `/github/file_commands` and `/github/workspace`
mounted, `--workdir /github/workspace`, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY in
`/github/file_commands`. `--network host` stands in for the job network so that the sandbox on
127.0.0.1 is reachable (the action accepts plain http only for loopback).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from promote_sandbox import Sandbox, demo_fixture

IMAGE = os.environ.get("PROMOTE_IMAGE", "")
pytestmark = pytest.mark.skipif(not IMAGE, reason="make image-test builds the image and runs this")


@dataclass
class Container:
    name: str
    file_commands: Path
    output_name: str
    summary_name: str

    def outputs(self) -> dict[str, str]:
        """The runner's heredoc format: name<<DELIMITER, value lines, DELIMITER."""
        text = (self.file_commands / self.output_name).read_text()
        outputs, lines = {}, iter(text.splitlines())
        for line in lines:
            name, _, delimiter = line.partition("<<")
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
        return outputs

    def summary(self) -> str:
        return (self.file_commands / self.summary_name).read_text()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., tuple[Container, subprocess.Popen[str]]]]:
    names: list[str] = []

    def start(
        inputs: dict[str, str], secrets: dict[str, str]
    ) -> tuple[Container, subprocess.Popen[str]]:
        file_commands, workspace = tmp_path / "file_commands", tmp_path / "workspace"
        file_commands.mkdir(exist_ok=True)
        workspace.mkdir(exist_ok=True)
        container = Container(
            f"promote-image-test-{uuid.uuid4().hex[:12]}",
            file_commands,
            f"set_output_{uuid.uuid4()}",
            f"step_summary_{uuid.uuid4()}",
        )
        for name in (container.output_name, container.summary_name):
            (file_commands / name).write_text("")
        names.append(container.name)
        env_args: list[str] = []
        for name, value in inputs.items():
            env_args += ["-e", f"INPUT_{name.upper()}={value}"]
        for name in secrets:
            env_args += ["-e", f"INPUT_{name.upper()}"]
        env_args += [
            "-e", "GITHUB_ACTIONS=true",
            "-e", "CI=true",
            "-e", f"GITHUB_OUTPUT=/github/file_commands/{container.output_name}",
            "-e", f"GITHUB_STEP_SUMMARY=/github/file_commands/{container.summary_name}",
        ]  # fmt: skip
        command = [
            "docker", "run", "--name", container.name, "--network", "host",
            "--workdir", "/github/workspace",
            "-v", f"{file_commands}:/github/file_commands",
            "-v", f"{workspace}:/github/workspace",
            *env_args, IMAGE,
        ]  # fmt: skip
        environ = os.environ | {f"INPUT_{k.upper()}": v for k, v in secrets.items()}
        process = subprocess.Popen(
            command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return container, process

    yield start
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_a_slug_copy_succeeds_and_writes_outputs_and_summary(start) -> None:
    with Sandbox() as sb:
        fixture = demo_fixture(sb)
        started = time.monotonic()
        container, process = start(
            {
                "operation": "slug-copy",
                "heroku-api-url": sb.url,
                "source-app": fixture["source_app"],
                "target-apps": fixture["targets"],
                "timeout": "2m",
            },
            {"heroku-api-key": fixture["token"]},
        )
        log, _ = process.communicate(timeout=120)
        first_request = min(r.received_at for r in sb.requests)
        # Container start as Docker records it (wall clock, ns): from then on it is our code.
        started_at = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.StartedAt}}", container.name],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        wall_offset = time.time() - time.monotonic()
        container_started = datetime.fromisoformat(started_at[:26] + "+00:00").timestamp()
    print(
        f"docker run to first request: {first_request - started:.2f}s; "
        f"container start to first request: {first_request + wall_offset - container_started:.2f}s"
    )
    assert process.returncode == 0, log
    outputs = container.outputs()
    assert outputs["status"] == "succeeded", log
    assert set(json.loads(outputs["release-version"])) == set(fixture["targets"].split(","))
    assert "demo-production-eu" in container.summary()
    # The key shows only where it is registered as a mask, before anything else is printed.
    assert log.startswith(f"::add-mask::{fixture['token']}\n"), log
    assert fixture["token"] not in log.split("\n", 1)[1] + container.summary() + str(outputs)


def test_docker_stop_during_the_wait_ends_it_cancelled(start) -> None:
    with Sandbox() as sb:
        fixture = demo_fixture(sb)
        for target in fixture["targets"].split(","):
            sb.heroku.set_release_behaviour(target, pending_seconds=600)
        container, process = start(
            {
                "operation": "slug-copy",
                "heroku-api-url": sb.url,
                "source-app": fixture["source_app"],
                "target-apps": fixture["targets"],
                "timeout": "15m",
            },
            {"heroku-api-key": fixture["token"]},
        )
        # Both releases created: the action is now waiting on them.
        for _ in range(1200):
            created = [
                r for r in sb.writes() if r.method == "POST" and r.path.endswith("/releases")
            ]
            if len(created) == 2 or process.poll() is not None:
                break
            time.sleep(0.1)
        assert len(created) == 2, process.communicate(timeout=10)[0]
        subprocess.run(
            ["docker", "stop", "-t", "2", container.name], check=True, capture_output=True
        )
        log, _ = process.communicate(timeout=30)
    # 130: it exited by itself on SIGTERM; 137 would be Docker's SIGKILL after the 2 s.
    assert process.returncode == 130, log
    assert container.outputs()["status"] == "cancelled", log
    assert "cancelled" in container.summary()
