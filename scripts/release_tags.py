"""Which git tags a release creates or moves: the release's own tag, and vX.Y / vX if it leads.

    python scripts/release_tags.py [--prerelease] TAG [EXISTING_TAG ...]

prints the tags to point at release TAG's commit, one per line: always TAG itself; `vX.Y` only
when TAG is the highest release (semver order, no pre-release) of the vX.Y.* series among the
EXISTING_TAGs, and `vX` only when it is the highest of vX.*.*. A backport (v1.4.1 after v1.5.0)
therefore moves v1.4 but not v1, and a pre-release (a `-suffix`, or `--prerelease` when GitHub
marks a plain vX.Y.Z as one) moves nothing but its own tag. An EXISTING_TAG equal to TAG (a
re-run) does not stop anything from moving. Existing tags that are not vX.Y.Z[-pre] (v1, v1.4,
latest) are ignored. An invalid TAG: one line on stderr, exit 2.

    $ python scripts/release_tags.py v1.4.1 v1.5.0 v1.4.0
    v1.4.1
    v1.4
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TAG_PATTERN = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$")


class TagError(ValueError):
    """A release tag is not vX.Y.Z or vX.Y.Z-prerelease."""


@dataclass(frozen=True)
class Version:
    """A release tag vX.Y.Z[-prerelease], ordered by semver 2.0 precedence."""

    tag: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    @classmethod
    def parse(cls, tag: str) -> Version:
        match = TAG_PATTERN.match(tag)
        if match is None:
            raise TagError(f"release tag {tag!r} is not vX.Y.Z or vX.Y.Z-prerelease")
        suffix = match.group(4)
        prerelease = tuple(suffix[1:].split(".")) if suffix else ()
        if any(identifier == "" for identifier in prerelease):
            raise TagError(f"release tag {tag!r} has an empty pre-release identifier")
        major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
        return cls(tag, major, minor, patch, prerelease)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def minor_tag(self) -> str:
        return f"v{self.major}.{self.minor}"

    @property
    def major_tag(self) -> str:
        return f"v{self.major}"

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Sort key: a release sorts after its pre-releases; identifiers per semver 2.0.

        Numeric identifiers compare as numbers and below alphanumeric ones, which compare in
        ASCII order; a longer list of identifiers wins when all before are equal.
        """
        identifiers = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, identifiers)


def parse_existing(tags: Iterable[str]) -> list[Version]:
    """The existing tags that are releases or pre-releases; v1, v1.4 and the like are skipped."""
    versions = []
    for tag in tags:
        try:
            versions.append(Version.parse(tag))
        except TagError:
            continue
    return versions


def tags_to_move(tag: str, existing: Iterable[str], *, prerelease: bool = False) -> list[str]:
    """The tags to create or move to release `tag`'s commit: the tag, then vX.Y, then vX."""
    release = Version.parse(tag)
    if prerelease or release.is_prerelease:
        return [tag]
    releases = [v for v in parse_existing(existing) if not v.is_prerelease]
    same_minor = [v for v in releases if (v.major, v.minor) == (release.major, release.minor)]
    same_major = [v for v in releases if v.major == release.major]
    moved = [tag]
    if all(v.key() <= release.key() for v in same_minor):
        moved.append(release.minor_tag)
    if all(v.key() <= release.key() for v in same_major):
        moved.append(release.major_tag)
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tag", metavar="TAG", help="the release's tag, vX.Y.Z[-prerelease]")
    parser.add_argument("existing", metavar="EXISTING_TAG", nargs="*", help="tags that exist")
    parser.add_argument(
        "--prerelease",
        action="store_true",
        help="the release is marked as a pre-release: only TAG moves, whatever its name",
    )
    options = parser.parse_args(argv)
    try:
        moved = tags_to_move(options.tag, options.existing, prerelease=options.prerelease)
    except TagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in moved:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
