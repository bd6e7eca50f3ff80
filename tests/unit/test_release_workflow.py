"""release.yml's order of things, and the action.yml line a release replaces.

The workflow itself only runs on GitHub; these tests hold it to what the issue requires: the
precondition before the build, a push by digest, the anonymous pull check before any tag moves,
the git steps and the tag decision in the scripts the other tests exercise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
JOBS: dict[str, Any] = WORKFLOW["jobs"]


def runs(step: dict[str, Any]) -> str:
    return str(step.get("run", ""))


def step_index(steps: list[dict[str, Any]], predicate: Any) -> int:
    matches = [i for i, step in enumerate(steps) if predicate(step)]
    assert len(matches) == 1, matches
    return matches[0]


def job_running(text: str) -> str:
    names = [name for name, job in JOBS.items() if any(text in runs(s) for s in job["steps"])]
    assert len(names) == 1, (text, names)
    return names[0]


def needs(name: str) -> set[str]:
    """Every job `name` waits for, directly or not."""
    direct = JOBS[name].get("needs", [])
    direct = [direct] if isinstance(direct, str) else direct
    return set(direct).union(*(needs(n) for n in direct))


def test_action_yml_on_main_builds_the_dockerfile_in_exactly_one_line():
    lines = (ROOT / "action.yml").read_text().splitlines()
    assert lines.count("  image: Dockerfile") == 1
    assert [line for line in lines if "image:" in line] == ["  image: Dockerfile"]
    assert yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"] == "Dockerfile"


def test_released_and_prereleases_published_are_handled_once():
    triggers = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads `on` as true
    assert sorted(triggers["release"]["types"]) == ["published", "released"]
    condition = " ".join(JOBS["image"]["if"].split())
    assert condition == (
        "github.event.action == 'released' || "
        "(github.event.action == 'published' && github.event.release.prerelease)"
    )
    # Every other job waits for the image job, so a skipped event does nothing.
    assert all("image" in needs(name) for name in JOBS if name != "image")


def test_the_precondition_is_checked_before_the_build_and_the_push_is_by_digest():
    steps = JOBS["image"]["steps"]
    resolve = step_index(steps, lambda s: "scripts/release_git.py resolve" in runs(s))
    build = step_index(
        steps, lambda s: str(s.get("uses", "")).startswith("docker/build-push-action@")
    )
    assert resolve < build
    checkout = step_index(steps, lambda s: str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout < resolve
    assert steps[checkout]["with"]["ref"] == "${{ github.sha }}"
    assert steps[checkout]["with"]["fetch-depth"] == 0
    # Nothing is built when an earlier run's release commit pins an image already.
    assert steps[build]["if"] == "steps.resolve.outputs.pinned == ''"
    with_ = steps[build]["with"]
    assert "tags" not in with_
    assert "push-by-digest=true" in with_["outputs"]
    assert with_["platforms"] == "linux/amd64,linux/arm64"


def test_no_tag_moves_before_anyone_could_pull_and_start_the_image():
    verify = job_running("scripts/release_check_image.sh")
    assert JOBS[verify].get("permissions") == {"contents": "read"}  # no registry login
    publish = job_running("scripts/release_git.py publish")
    image_tags = job_running("docker buildx imagetools create")
    assert verify in needs(publish)
    assert verify in needs(image_tags)
    # The only jobs that may write are those that must.
    writers = {
        name: permissions
        for name, job in JOBS.items()
        if "write" in (permissions := job.get("permissions", {})).values()
    }
    assert writers == {
        "image": {"contents": "read", "packages": "write"},
        publish: {"contents": "write"},
        image_tags: {"packages": "write"},
    }
    assert WORKFLOW["permissions"] == {}


def test_the_git_steps_are_the_scripts_not_inline_shell():
    for job in JOBS.values():
        for step in job["steps"]:
            text = runs(step)
            for inline in ("git tag", "git push", "git commit", "sed -i", "BASH_REMATCH"):
                assert inline not in text, (step.get("name"), inline)
