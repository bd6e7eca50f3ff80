"""scripts/release_git.py against a local bare repository: the release workflow's git steps.

Each "run" is what release.yml does: a fresh clone of the remote with every tag, HEAD detached
at the commit the release's tag pointed to when GitHub sent the event (actions/checkout with
`fetch-depth: 0` and `ref: ${{ github.sha }}`), then `resolve` and `publish`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release_git.py"

ACTION_YML = "name: demo\nruns:\n  using: docker\n  image: Dockerfile\n"
IMAGE = "ghcr.io/owner/promote-action"


def image_ref(n: int) -> str:
    return f"{IMAGE}@sha256:{n:064x}"


@dataclass
class Remote:
    """A bare repository standing in for GitHub, and a developer's clone of it."""

    tmp: Path
    env: dict[str, str]
    bare: Path
    dev: Path
    runs: int = 0

    def git(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.dev,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def commit(self, message: str, *, action: str = ACTION_YML) -> str:
        (self.dev / "action.yml").write_text(action)
        (self.dev / "CHANGES").write_text(message + "\n")
        self.git("add", "action.yml", "CHANGES")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def create_release_tag(self, tag: str, commit: str) -> None:
        """What publishing a GitHub release for a new tag does: a lightweight tag on a commit."""
        self.git("push", "--quiet", "origin", f"{commit}:refs/tags/{tag}")

    def tags(self) -> dict[str, str]:
        """Every tag of the remote, peeled to its commit."""
        out = self.git("ls-remote", "--tags", str(self.bare))
        refs = dict(line.split("\t")[::-1] for line in out.splitlines())
        return {
            ref.removeprefix("refs/tags/"): refs.get(f"{ref}^{{}}", sha)
            for ref, sha in refs.items()
            if not ref.endswith("^{}")
        }

    def all_refs(self) -> str:
        return self.git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.bare)

    def objects(self) -> int:
        return len(self.git("rev-list", "--all", "--objects", cwd=self.bare).splitlines())

    def checkout(self, commit: str) -> Path:
        self.runs += 1
        work = self.tmp / f"run-{self.runs}"
        self.git("clone", "--quiet", str(self.bare), str(work), cwd=self.tmp)
        self.git("checkout", "--quiet", "--detach", commit, cwd=work)
        return work

    def script(self, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            cwd=work,
            env=self.env,
            check=False,
            capture_output=True,
            text=True,
        )

    def release(
        self, tag: str, head: str, image: str, *, prerelease: bool = False
    ) -> dict[str, str]:
        """One workflow run for release `tag`: resolve, then publish. Its outputs, both steps'."""
        work = self.checkout(head)
        flags = ["--prerelease"] if prerelease else []
        resolved = self.script(work, "resolve", tag, *flags)
        assert resolved.returncode == 0, resolved.stderr
        outputs = dict(line.split("=", 1) for line in resolved.stdout.splitlines())
        published = self.script(work, "publish", tag, "--image-ref", image, *flags)
        assert published.returncode == 0, published.stderr
        outputs.update(line.split("=", 1) for line in published.stdout.splitlines())
        outputs["log"] = published.stderr
        return outputs

    def action_at(self, commit: str) -> str:
        show = ["git", "show", f"{commit}:action.yml"]
        return subprocess.run(
            show, cwd=self.bare, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def parent(self, commit: str) -> str:
        return self.git("rev-parse", f"{commit}^", cwd=self.bare)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "github-actions[bot]",
        "GIT_AUTHOR_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
        "GIT_COMMITTER_NAME": "github-actions[bot]",
        "GIT_COMMITTER_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
        "LC_ALL": "C",
    }
    bare, dev = tmp_path / "origin.git", tmp_path / "dev"
    r = Remote(tmp_path, env, bare, dev)
    r.git("init", "--quiet", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    r.git("init", "--quiet", "-b", "main", str(dev), cwd=tmp_path)
    r.git("remote", "add", "origin", str(bare))
    return r


def released(r: Remote, tag: str, image: str, *, prerelease: bool = False) -> dict[str, str]:
    """Commit on main, push, publish a release for it."""
    source = r.commit(f"work for {tag}")
    r.git("push", "--quiet", "origin", "main")
    r.create_release_tag(tag, source)
    return r.release(tag, source, image, prerelease=prerelease)


def test_a_release_commit_pins_the_image_on_top_of_the_released_commit(remote: Remote):
    source = remote.commit("first")
    remote.git("push", "--quiet", "origin", "main")
    remote.create_release_tag("v1.0.0", source)
    out = remote.release("v1.0.0", source, image_ref(1))

    assert out["source"] == source
    assert out["pinned"] == ""
    assert out["tags"] == "v1.0.0 v1.0 v1"
    commit = out["commit"]
    assert remote.tags() == {"v1.0.0": commit, "v1.0": commit, "v1": commit}
    assert remote.parent(commit) == source
    assert remote.action_at(commit) == ACTION_YML.replace(
        "image: Dockerfile", f"image: docker://{image_ref(1)}"
    )
    assert remote.git("diff", "--name-only", source, commit, cwd=remote.bare) == "action.yml"
    message = remote.git("log", "-1", "--format=%B", commit, cwd=remote.bare)
    assert message.startswith("Release v1.0.0: run the prebuilt image")
    # main never names a digest.
    assert remote.git("ls-remote", str(remote.bare), "refs/heads/main").split()[0] == source


def test_a_rerun_is_idempotent(remote: Remote):
    first = released(remote, "v1.0.0", image_ref(1))
    source, commit = first["source"], first["commit"]
    refs, objects = remote.all_refs(), remote.objects()

    # "Re-run all jobs": same event, so the same github.sha (the released commit). The image job
    # learns from resolve that nothing needs building; publish leaves everything as it is.
    again = remote.release("v1.0.0", source, image_ref(1))
    assert again["pinned"] == image_ref(1)
    assert again["commit"] == commit
    assert again["tags"] == "v1.0.0 v1.0 v1"
    assert "left as it is" in again["log"]
    assert "nothing to push" in again["log"]
    assert remote.all_refs() == refs
    assert remote.objects() == objects

    # Publishing the release again: the tag now points at the release commit.
    republished = remote.release("v1.0.0", commit, image_ref(1))
    assert republished["source"] == source
    assert republished["pinned"] == image_ref(1)
    assert republished["commit"] == commit
    assert remote.all_refs() == refs
    assert remote.objects() == objects


def test_a_release_commit_pinning_another_image_is_left_as_it_is(remote: Remote):
    first = released(remote, "v1.0.0", image_ref(1))
    refs = remote.all_refs()
    work = remote.checkout(first["source"])
    result = remote.script(work, "publish", "v1.0.0", "--image-ref", image_ref(2))
    assert result.returncode == 1
    assert "::error::" in result.stderr
    assert "left as it is" in result.stderr
    assert remote.all_refs() == refs


def test_a_backport_does_not_move_the_major_tag_backwards(remote: Remote):
    v140 = released(remote, "v1.4.0", image_ref(140))
    v150 = released(remote, "v1.5.0", image_ref(150))
    assert v150["tags"] == "v1.5.0 v1.5 v1"

    # v1.4.1: a fix on a branch from v1.4.0's released commit, published after v1.5.0.
    remote.git("checkout", "--quiet", "-b", "release-1.4", v140["source"])
    fix = remote.commit("fix for 1.4")
    remote.git("push", "--quiet", "origin", "release-1.4")
    remote.create_release_tag("v1.4.1", fix)
    v141 = remote.release("v1.4.1", fix, image_ref(141))

    assert v141["tags"] == "v1.4.1 v1.4"
    assert remote.tags() == {
        "v1.4.0": v140["commit"],
        "v1.4.1": v141["commit"],
        "v1.4": v141["commit"],
        "v1.5.0": v150["commit"],
        "v1.5": v150["commit"],
        "v1": v150["commit"],
    }
    assert image_ref(141) in remote.action_at(v141["commit"])
    assert image_ref(150) in remote.action_at(remote.tags()["v1"])


def test_a_prerelease_then_marked_as_release_moves_the_minor_and_major_tags(remote: Remote):
    v150 = released(remote, "v1.5.0", image_ref(150))

    # Published as a pre-release (GitHub's checkbox; the tag has no suffix): only its own tag.
    pre = released(remote, "v1.6.0", image_ref(160), prerelease=True)
    assert pre["tags"] == "v1.6.0"
    commit = pre["commit"]
    assert remote.tags()["v1"] == v150["commit"]
    assert "v1.6" not in remote.tags()
    objects = remote.objects()

    # Later marked as a release: a `released` event, whose github.sha is what the tag points
    # to now, the release commit. Nothing is built or committed; v1.6 and v1 move to it.
    final = remote.release("v1.6.0", commit, image_ref(160))
    assert final["source"] == pre["source"]
    assert final["pinned"] == image_ref(160)
    assert final["commit"] == commit
    assert final["tags"] == "v1.6.0 v1.6 v1"
    tags = remote.tags()
    assert tags["v1.6.0"] == tags["v1.6"] == tags["v1"] == commit
    assert tags["v1.5"] == v150["commit"]
    assert remote.objects() == objects

    # And a re-run of that event changes nothing.
    refs = remote.all_refs()
    assert remote.release("v1.6.0", commit, image_ref(160))["commit"] == commit
    assert remote.all_refs() == refs


def test_a_suffixed_prerelease_moves_only_its_own_tag(remote: Remote):
    v150 = released(remote, "v1.5.0", image_ref(150))
    rc = released(remote, "v2.0.0-rc.1", image_ref(200))
    assert rc["tags"] == "v2.0.0-rc.1"
    tags = remote.tags()
    assert tags["v2.0.0-rc.1"] == rc["commit"]
    assert tags["v1"] == v150["commit"]
    assert "v2" not in tags
    assert "v2.0" not in tags

    # The final release is a new tag: it takes v2.0 and v2, the rc is no obstacle.
    final = released(remote, "v2.0.0", image_ref(201))
    assert final["tags"] == "v2.0.0 v2.0 v2"


@pytest.mark.parametrize(
    "action",
    [
        "runs:\n  using: docker\n  image: docker://ghcr.io/x/y:latest\n",
        "runs:\n  using: docker\n  image: Dockerfile\n# image: Dockerfile\n  image: Dockerfile\n",
        "runs:\n  using: docker\n  image: 'Dockerfile'\n",
    ],
)
def test_the_precondition_is_checked_before_anything_is_built(remote: Remote, action: str):
    source = remote.commit("odd action.yml", action=action)
    remote.git("push", "--quiet", "origin", "main")
    remote.create_release_tag("v1.0.0", source)
    refs = remote.all_refs()
    work = remote.checkout(source)
    for args in (["resolve", "v1.0.0"], ["publish", "v1.0.0", "--image-ref", image_ref(1)]):
        result = remote.script(work, *args)
        assert result.returncode == 1
        assert result.stdout == ""
        assert "::error::" in result.stderr
        assert "image: Dockerfile" in result.stderr
    assert remote.all_refs() == refs


def test_an_invalid_tag_or_image_ref_is_refused(remote: Remote):
    remote.commit("first")
    invalid = remote.script(remote.dev, "resolve", "release-1")
    assert invalid.returncode == 2
    assert len(invalid.stderr.splitlines()) == 1
    bad = remote.script(remote.dev, "publish", "v1.0.0", "--image-ref", f"{IMAGE}:v1")
    assert bad.returncode == 1
    assert "sha256" in bad.stderr


def test_tags_moved_by_someone_else_meanwhile_are_not_overwritten(remote: Remote):
    v150 = released(remote, "v1.5.0", image_ref(150))
    source = remote.commit("work for v1.6.0")
    remote.git("push", "--quiet", "origin", "main")
    remote.create_release_tag("v1.6.0", source)
    work = remote.checkout(source)
    # After this run's checkout, v1 moves on the remote (another run, a maintainer).
    remote.git("push", "--quiet", "--force", "origin", f"{source}:refs/tags/v1")
    result = remote.script(work, "publish", "v1.6.0", "--image-ref", image_ref(160))
    assert result.returncode == 1
    assert "stale info" in result.stderr
    tags = remote.tags()
    # --atomic: none of the release's tags moved.
    assert tags["v1.6.0"] == source
    assert "v1.6" not in tags
    assert tags["v1"] == source
    assert tags["v1.5"] == v150["commit"]
