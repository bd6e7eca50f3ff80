"""The release workflow's git steps, so that tests run exactly what release.yml runs.

    python scripts/release_git.py resolve TAG [--prerelease]
    python scripts/release_git.py publish TAG --image-ref IMAGE@sha256:DIGEST [--prerelease]

Both run in a clone that has every tag of the remote (actions/checkout with `fetch-depth: 0` and
`ref: ${{ github.sha }}`), with HEAD at the commit the release's tag pointed to when the event was
sent. They print `key=value` lines for $GITHUB_OUTPUT on stdout, and what they did on stderr.

A *release commit* is a child of the released commit that changes only action.yml's
`  image: Dockerfile` into `  image: docker://IMAGE@sha256:DIGEST`. The released commit is HEAD,
or HEAD's parent when HEAD is already a release commit: the tag of a pre-release that is later
marked as a release, or of a release that is published again, points at its release commit.

resolve: checks the precondition (the released commit's action.yml has exactly one
`  image: Dockerfile` line) before anything is built, and finds the release commit made by an
earlier run for this tag, if any (`pinned=IMAGE@DIGEST`: nothing needs building).
Prints source=, pinned=, tags=.

publish: makes the release commit (unless an earlier run made it: then it is left as it is),
points the tags from release_tags.py (given every `v*` tag of the repository) at it and pushes
them at once (`--atomic`), each only if the remote still has the value this clone saw. Tags that
are already in place are not pushed, so a re-run changes nothing and succeeds. The commit's
identity comes from GIT_AUTHOR_NAME/EMAIL and GIT_COMMITTER_NAME/EMAIL. Prints commit=, tags=.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release_tags import TagError, Version, tags_to_move

ACTION = "action.yml"
UNPINNED_LINE = "  image: Dockerfile"
IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$")
PINNED_LINE = re.compile(r"^  image: docker://(\S+)$", re.MULTILINE)


class ReleaseError(Exception):
    """The repository is not in a state this release can be published from."""


def git(*args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run git with a fixed argv; its stdout without the final newline."""
    result = subprocess.run(["git", *args], check=False, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.rstrip("\n")


def log(message: str) -> None:
    print(message, file=sys.stderr)


def commit_of(rev: str) -> str | None:
    """The commit `rev` names, or None when it names nothing."""
    out = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return out or None


def action_yml(commit: str) -> str | None:
    result = subprocess.run(
        ["git", "show", f"{commit}:{ACTION}"], check=False, capture_output=True, text=True
    )
    return result.stdout if result.returncode == 0 else None


def pin(text: str, image_ref: str) -> str:
    """action.yml with its one `  image: Dockerfile` line pointing at the prebuilt image."""
    lines = text.split("\n")
    at = [i for i, line in enumerate(lines) if line == UNPINNED_LINE]
    if len(at) != 1:
        raise ReleaseError(
            f"{ACTION} must have exactly one line `{UNPINNED_LINE}`, found {len(at)}"
        )
    lines[at[0]] = f"  image: docker://{image_ref}"
    return "\n".join(lines)


def check_precondition(commit: str) -> str:
    """The released commit's action.yml, which must say `image: Dockerfile` exactly once."""
    text = action_yml(commit)
    if text is None:
        raise ReleaseError(f"the released commit {commit} has no {ACTION}")
    try:
        pin(text, "ghcr.io/check@sha256:" + "0" * 64)
    except ReleaseError as exc:
        raise ReleaseError(f"the released commit {commit}: {exc}") from None
    return text


def release_commit(commit: str) -> tuple[str, str] | None:
    """(released commit, image ref) when `commit` is a release commit, else None."""
    text = action_yml(commit)
    refs = PINNED_LINE.findall(text or "")
    parents = git("rev-list", "--parents", "-n", "1", commit).split()[1:]
    if len(refs) != 1 or not IMAGE_REF.match(refs[0]) or len(parents) != 1:
        return None
    try:
        expected = pin(action_yml(parents[0]) or "", refs[0])
    except ReleaseError:
        return None
    changed = git("diff", "--name-only", parents[0], commit).split("\n")
    if expected != text or changed != [ACTION]:
        return None
    return parents[0], refs[0]


@dataclass(frozen=True)
class Resolution:
    source: str  # the released commit, whose action.yml says `image: Dockerfile`
    release_commit: str | None  # its release commit for this tag, made by an earlier run
    pinned: str | None  # the image that release commit runs
    tags: list[str]  # the tags to point at the release commit


def resolve(tag: str, *, prerelease: bool) -> Resolution:
    Version.parse(tag)
    head = commit_of("HEAD")
    if head is None:
        raise ReleaseError("no HEAD commit")
    found = release_commit(head)
    if found is not None:
        source, pinned = found
        made: str | None = head
        log(f"HEAD {head} is the release commit of {source}, pinning {pinned}")
    else:
        source, made, pinned = head, None, None
        tagged = commit_of(f"refs/tags/{tag}")
        if tagged is not None and tagged != head:
            found = release_commit(tagged)
            if found is not None and found[0] == source:
                made, pinned = tagged, found[1]
                log(f"{tag} already points at the release commit {tagged}, pinning {pinned}")
    check_precondition(source)
    existing = git("tag", "--list", "v*").split()
    return Resolution(source, made, pinned, tags_to_move(tag, existing, prerelease=prerelease))


def make_release_commit(source: str, tag: str, image_ref: str) -> str:
    """A child of `source` whose action.yml runs `image_ref`; no work tree or index is touched."""
    text = pin(check_precondition(source), image_ref)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin", f"--path={ACTION}"],
        input=text,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    mode = git("ls-tree", source, "--", ACTION).split()[0]
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git("read-tree", source, env=env)
        git("update-index", "--cacheinfo", f"{mode},{blob},{ACTION}", env=env)
        tree = git("write-tree", env=env)
    message = f"Release {tag}: run the prebuilt image\n\nruns.image: docker://{image_ref}\n"
    return git("commit-tree", tree, "-p", source, "-m", message)


def publish(tag: str, image_ref: str, *, prerelease: bool, remote: str, push: bool) -> list[str]:
    if not IMAGE_REF.match(image_ref):
        raise ReleaseError(f"--image-ref must be IMAGE@sha256:<64 hex>, not {image_ref!r}")
    found = resolve(tag, prerelease=prerelease)
    if found.release_commit is not None:
        if found.pinned != image_ref:
            raise ReleaseError(
                f"{tag}'s release commit {found.release_commit} already runs {found.pinned}, "
                f"not {image_ref}; it is left as it is"
            )
        commit = found.release_commit
        log(f"the release commit {commit} exists already and is left as it is")
    else:
        commit = make_release_commit(found.source, tag, image_ref)
        log(f"made the release commit {commit} on {found.source}")
    leases, refspecs = [], []
    for name in found.tags:
        ref = f"refs/tags/{name}"
        if commit_of(ref) == commit:
            log(f"{name} already points at {commit}")
            continue
        old = git("rev-parse", "--verify", "--quiet", ref, check=False)  # maybe a tag object
        git("update-ref", ref, commit, *([old] if old else []))
        leases.append(f"--force-with-lease={ref}:{old}")
        refspecs.append(f"{ref}:{ref}")
        log(f"{name}: {old or '(new)'} -> {commit}")
    if refspecs and push:
        git("push", "--atomic", "--quiet", *leases, remote, *refspecs)
        log(f"pushed {len(refspecs)} tag(s) to {remote}")
    elif not refspecs:
        log("every tag is in place already: nothing to push")
    return [f"commit={commit}", f"tags={' '.join(found.tags)}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("resolve", "publish"):
        command = commands.add_parser(name)
        command.add_argument("tag", metavar="TAG")
        command.add_argument(
            "--prerelease", action="store_true", help="GitHub marks the release as a pre-release"
        )
    publish_command = commands.choices["publish"]
    publish_command.add_argument("--image-ref", required=True, help="IMAGE@sha256:DIGEST")
    publish_command.add_argument("--remote", default="origin")
    publish_command.add_argument(
        "--no-push", dest="push", action="store_false", help="move the tags locally only"
    )
    options = parser.parse_args(argv)
    try:
        if options.command == "resolve":
            found = resolve(options.tag, prerelease=options.prerelease)
            lines = [
                f"source={found.source}",
                f"pinned={found.pinned or ''}",
                f"tags={' '.join(found.tags)}",
            ]
        else:
            lines = publish(
                options.tag,
                options.image_ref,
                prerelease=options.prerelease,
                remote=options.remote,
                push=options.push,
            )
    except (ReleaseError, TagError) as exc:
        print(f"::error::{exc}", file=sys.stderr)
        return 1 if isinstance(exc, ReleaseError) else 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
