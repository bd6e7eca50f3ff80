"""Range paging: 206 + Next-Range sent back verbatim walks every item once; bad ranges are 416."""

from __future__ import annotations

import httpx
import pytest

from promote_sandbox import Sandbox


@pytest.fixture
def many(sandbox: Sandbox, world) -> int:
    """staging-app with 23 releases in all."""
    for _ in range(20):
        sandbox.heroku.add_release("staging-app", slug_id=world.staging_slugs[-1])
    return 23


def _walk(api: httpx.Client, first_range: str) -> tuple[list[dict[str, object]], list[int]]:
    items: list[dict[str, object]] = []
    statuses = []
    next_range: str | None = first_range
    while next_range is not None:
        response = api.get("/apps/staging-app/releases", headers={"Range": next_range})
        statuses.append(response.status_code)
        assert response.headers["Accept-Ranges"] == "id, version"
        items.extend(response.json())
        next_range = response.headers.get("Next-Range")
        assert (next_range is None) == (response.status_code == 200)
    return items, statuses


@pytest.mark.parametrize(
    "first_range", ["version ..; max=5, order=desc", "version ..; max=5,order=desc"]
)
def test_next_range_walks_every_release_once_newest_first(
    api: httpx.Client, many: int, first_range: str
) -> None:
    items, statuses = _walk(api, first_range)
    assert [item["version"] for item in items] == list(range(many, 0, -1))
    assert statuses == [206, 206, 206, 206, 200]


def test_id_ranges_walk_in_id_order(api: httpx.Client, many: int) -> None:
    items, statuses = _walk(api, "id ..; max=10;")
    ids = [item["id"] for item in items]
    assert ids == sorted(ids)
    assert len(set(ids)) == many
    assert statuses == [206, 206, 200]


def test_start_bounds_run_in_the_requested_order(api: httpx.Client, many: int) -> None:
    def versions(range_header: str) -> list[object]:
        response = api.get("/apps/staging-app/releases", headers={"Range": range_header})
        return [item["version"] for item in response.json()]

    assert versions("version 20..; order=asc") == [20, 21, 22, 23]
    assert versions("version ]20..; order=asc") == [21, 22, 23]
    assert versions("version 3..; order=desc") == [3, 2, 1]
    assert versions("version 5..7") == [5, 6, 7]
    assert versions("version ..; max=1, order=desc") == [many]


def test_without_range_pages_hold_200_in_ascending_versions(
    sandbox: Sandbox, api: httpx.Client, world
) -> None:
    for _ in range(198):
        sandbox.heroku.add_release("staging-app", slug_id=world.staging_slugs[0])
    first = api.get("/apps/staging-app/releases")
    assert first.status_code == 206
    assert [item["version"] for item in first.json()] == list(range(1, 201))
    rest = api.get("/apps/staging-app/releases", headers={"Range": first.headers["Next-Range"]})
    assert rest.status_code == 200
    assert [item["version"] for item in rest.json()] == [201]


def test_max_is_capped_at_1000(sandbox: Sandbox, api: httpx.Client, world) -> None:
    for _ in range(998):
        sandbox.heroku.add_release("staging-app", slug_id=world.staging_slugs[0])
    response = api.get("/apps/staging-app/releases", headers={"Range": "version ..; max=5000"})
    assert response.status_code == 206
    assert len(response.json()) == 1000


@pytest.mark.parametrize(
    "range_header",
    [
        "version",
        "bytes=0-",
        "name ..",
        "version ..5",
        "version ..; max=0",
        "version ..; max=ten",
        "version ..; order=up",
        "version abc..",
        "version ..; colour=blue",
        "]..",
    ],
)
def test_unparseable_range_is_416(api: httpx.Client, range_header: str) -> None:
    response = api.get("/apps/staging-app/releases", headers={"Range": range_header})
    assert response.status_code == 416
    assert response.json()["id"] == "requested_range_not_satisfiable"
