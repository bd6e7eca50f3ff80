"""Heroku Platform API client: requests and typed responses, nothing about waiting or output.

Wire facts (shared/reference/API_NOTES.md section 1): `Accept: application/vnd.heroku+json;
version=3`, Bearer auth, errors `{"id", "message"}`, Range paging with 206 and `Next-Range`
sent back verbatim, `RateLimit-Remaining` on every response.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import ValidationError

from promote_action.heroku.models import (
    App,
    Coupling,
    Pipeline,
    Promotion,
    PromotionTarget,
    Release,
    Slug,
)
from promote_action.http import HttpClient
from promote_action.waiting import CancelToken, Deadline

ACCEPT = "application/vnd.heroku+json; version=3"
ACCEPT_PIPELINES = "application/vnd.heroku+json; version=3.pipelines"
NEWEST_FIRST = "version ..; max={max}, order=desc"
MAX_PAGES = 10


def decode_heroku_error(response: httpx.Response) -> tuple[str, str]:
    """Heroku errors carry a stable `id` to branch on and a human `message`."""
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}", _non_json(response)
    if isinstance(body, dict):
        return str(body.get("id") or f"http_{response.status_code}"), str(body.get("message", ""))
    return f"http_{response.status_code}", "unexpected error body"


def heroku_refused(response: httpx.Response, code: str) -> bool:
    """Heroku refused the request before acting on it: rate limited, or its API answered
    `unavailable` with its own error body (maintenance, overload). Such a write is safe to
    send again. A 5xx without Heroku's error body (a router timeout, a dropped connection)
    stays ambiguous: the request may have been acted on."""
    return response.status_code == 429 or (response.status_code == 503 and code == "unavailable")


def _non_json(response: httpx.Response) -> str:
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    return f"non-JSON response ({kind})"


def _segment(value: str) -> str:
    """App names and ids are validated, but quote anyway: a path must never be reshaped."""
    return quote(value, safe="")


class HerokuClient:
    """One instance per run; safe to share between the threads that follow targets."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def connect(
        cls,
        api_url: str,
        api_key: str,
        *,
        deadline: Deadline,
        cancel: CancelToken,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> HerokuClient:
        http = HttpClient(
            platform="Heroku",
            base_url=api_url,
            deadline=deadline,
            cancel=cancel,
            decode_error=decode_heroku_error,
            auth_headers={"Authorization": f"Bearer {api_key}"},
            default_headers={"Accept": ACCEPT, "User-Agent": "promote-action"},
            rate_limit_header="RateLimit-Remaining",
            is_rejection=heroku_refused,
            warning_headers=("Warning-Message", "X-Heroku-Warning"),
            transport=transport,
            verify=verify,
        )
        return cls(http)

    def close(self) -> None:
        self.http.close()

    def app(self, app: str) -> App:
        return App.model_validate(self.http.get_json(f"/apps/{_segment(app)}"))

    def release(self, app: str, release: str) -> Release:
        """`release` is a release id or a version number: the API accepts either."""
        path = f"/apps/{_segment(app)}/releases/{_segment(release)}"
        return Release.model_validate(self.http.get_json(path))

    def newest_releases(self, app: str, *, page_size: int = 10) -> Iterator[Release]:
        """Releases newest first, a page at a time, so finding a recent one costs one request."""
        pages = self._pages(f"/apps/{_segment(app)}/releases", NEWEST_FIRST.format(max=page_size))
        for item in pages:
            yield Release.model_validate(item)

    def _pages(
        self, path: str, range_header: str | None, headers: dict[str, str] | None = None
    ) -> Iterator[Any]:
        """Items of a list, following `Next-Range` verbatim while the answer is 206."""
        for _ in range(MAX_PAGES):
            page_headers = dict(headers or {})
            if range_header:
                page_headers["Range"] = range_header
            response = self.http.request("GET", path, headers=page_headers)
            yield from response.json()
            range_header = response.headers.get("Next-Range")
            if response.status_code != 206 or not range_header:
                return

    def recent_releases(self, app: str, count: int = 10) -> list[Release]:
        """The newest `count` releases in one request (no further pages)."""
        return list(islice(self.newest_releases(app, page_size=count), count))

    def current_release(self, app: str) -> Release | None:
        """The release the app runs now: `current` when the API marks it, else the newest
        succeeded one (responses from before `current` existed)."""
        newest_succeeded = None
        for release in self.newest_releases(app):
            if release.current:
                return release
            if release.current is None and release.status == "succeeded":
                newest_succeeded = newest_succeeded or release
        return newest_succeeded

    def slug(self, app: str, slug_id: str) -> Slug:
        return Slug.model_validate(self.http.get_json(f"/apps/{_segment(app)}/slugs/{slug_id}"))

    def config_var_keys(self, app: str) -> set[str]:
        """Only the names: the values are secrets and are dropped as soon as they arrive."""
        values = self.http.get_json(f"/apps/{_segment(app)}/config-vars")
        return set(values) if isinstance(values, dict) else set()

    def create_release(self, app: str, *, slug_id: str, description: str) -> Release:
        """POST once; a lost response surfaces as AmbiguousWriteError for the caller to settle."""
        response = self.http.request(
            "POST",
            f"/apps/{_segment(app)}/releases",
            json={"slug": slug_id, "description": description},
        )
        return Release.model_validate(response.json())

    def rollback(self, app: str, release_id: str) -> Release:
        """A new release that restores `release_id`'s code and config vars."""
        response = self.http.request(
            "POST", f"/apps/{_segment(app)}/releases", json={"release": release_id}
        )
        return Release.model_validate(response.json())

    # -- pipelines --------------------------------------------------------------------------------

    def app_coupling(self, app: str) -> Coupling:
        """Which pipeline and stage `app` is in (an app is in at most one pipeline)."""
        return Coupling.model_validate(
            self.http.get_json(f"/apps/{_segment(app)}/pipeline-couplings")
        )

    def pipeline_couplings(self, pipeline_id: str) -> list[Coupling]:
        path = f"/pipelines/{_segment(pipeline_id)}/pipeline-couplings"
        return [Coupling.model_validate(item) for item in self._pages(path, None)]

    def pipeline(self, pipeline_id: str) -> Pipeline:
        return Pipeline.model_validate(self.http.get_json(f"/pipelines/{_segment(pipeline_id)}"))

    def pipelines_named(self, name: str) -> list[Pipeline]:
        """Pipeline names are not unique. The filter is the one the CLI uses, with its Accept
        variant; results are filtered again here in case a server ignores the filter."""
        items = self._pages(
            "/pipelines?" + urlencode({"eq[name]": name}),
            None,
            headers={"Accept": ACCEPT_PIPELINES},
        )
        found = [Pipeline.model_validate(item) for item in items]
        return [pipeline for pipeline in found if pipeline.name == name]

    def pipeline_latest_releases(self, pipeline_id: str) -> list[Release]:
        """The newest release of each app of a pipeline, in one request ("Pipeline Release List"
        of the Platform API). That each item is a release object naming its app is UNVERIFIED
        (API_NOTES 1.7): items that do not parse as one are left out, and callers match each on
        its app and release id, reading per app what is missing."""
        path = f"/pipelines/{_segment(pipeline_id)}/latest-releases"
        releases = []
        for item in self._pages(path, None):
            try:
                releases.append(Release.model_validate(item))
            except ValidationError:
                continue
        return releases

    def create_promotion(
        self, *, pipeline_id: str, source_app_id: str, source_release_id: str, targets: list[str]
    ) -> Promotion:
        """POST once, pinned to the planned source release so exactly what was planned ships."""
        body = {
            "pipeline": {"id": pipeline_id},
            "source": {"app": {"id": source_app_id}, "release": {"id": source_release_id}},
            "targets": [{"app": {"id": target}} for target in targets],
        }
        response = self.http.request("POST", "/pipeline-promotions", json=body)
        return Promotion.model_validate(response.json())

    def promotion_targets(self, promotion_id: str) -> list[PromotionTarget]:
        """Every target of a promotion in one request, however many there are."""
        path = f"/pipeline-promotions/{_segment(promotion_id)}/promotion-targets"
        return [PromotionTarget.model_validate(item) for item in self._pages(path, None)]

    @contextmanager
    def output_stream(self, url: str, *, offset: int) -> Iterator[httpx.Response]:
        """The release-phase log. The URL is a capability: it is fetched without our key."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.http.stream(url, headers=headers) as response:
            yield response
