"""Health checks of a deployed app: its own URL must answer as expected, with patience.

A release can succeed while the app fails to boot; preboot and dyno restarts take time, so the
probe retries with backoff until `health-check-timeout`, and reports what it saw last.
"""

from __future__ import annotations

import time

import httpx

from promote_action.errors import PromoteError, WaitTimeout
from promote_action.http import interruptible
from promote_action.waiting import CancelToken, Deadline, PollSchedule, format_duration, wait_for

REQUEST_TIMEOUT = 10.0
"""One health request's longest wait, shortened to what is left of the patience."""
HEALTH_SCHEDULE = PollSchedule(first_delay=0.0, min_interval=1.0, fraction=0.2, max_interval=15.0)
SOAK_PROBES = 10
"""A soak probes about this many times over its period..."""
SOAK_MIN_INTERVAL = 0.5
"""...but never more often than this: a soak must not load the app it watches."""


class HealthCheckFailed(PromoteError):
    """The app did not answer as expected within the health-check timeout."""


def probe(
    url: str,
    *,
    expected_status: int,
    text: str | None,
    timeout: float,
    deadline: Deadline,
    cancel: CancelToken,
) -> str:
    """Return what the healthy answer was, or raise HealthCheckFailed with the last answer.

    The probe lives under the run's deadline and cancel token like every other wait: each
    request is bounded by what is left of the patience and abandoned on a cancel. When the
    run's deadline (not `health-check-timeout`) ends it, that is a WaitTimeout: the run timed
    out, the app was not proven unhealthy.
    """
    bounded_by_run = deadline.remaining() < timeout
    patience = Deadline(min(timeout, deadline.remaining()))
    seen = ["no answer"]
    with _client() as client:

        def healthy() -> str | None:
            limit = max(0.1, min(REQUEST_TIMEOUT, patience.remaining()))
            ok, seen[0] = _ask(client, url, expected_status, text, cancel=cancel, limit=limit)
            return seen[0] if ok else None

        try:
            return wait_for(
                healthy,
                what=f"{url} to be healthy",
                deadline=patience,
                cancel=cancel,
                schedule=HEALTH_SCHEDULE,
            )
        except WaitTimeout:
            if bounded_by_run:
                raise WaitTimeout(
                    f"timed out after {format_duration(deadline.seconds)} during the health "
                    f"check of {url} (it answered {seen[0]})"
                ) from None
            raise HealthCheckFailed(
                f"health check failed: {url} answered {seen[0]} "
                f"(expected HTTP {expected_status}) for {format_duration(patience.seconds)}"
            ) from None


def soak(
    url: str,
    *,
    expected_status: int,
    text: str | None,
    period: float,
    deadline: Deadline,
    cancel: CancelToken,
) -> str:
    """After a healthy answer, keep asking for `period` seconds: every answer must be healthy.

    An app that boots and then crashes (a leak, a bad migration hit by the first real traffic)
    passes one probe; a soak catches it before the next wave ships. One bad answer fails it.
    """
    interval = max(SOAK_MIN_INTERVAL, period / SOAK_PROBES)
    started = time.monotonic()
    probes = 0
    with _client() as client:
        while True:
            left = period - (time.monotonic() - started)
            if deadline.remaining() < min(interval, max(left, 0.0)):
                raise WaitTimeout(
                    f"timed out after {format_duration(deadline.seconds)} during the "
                    f"health-check soak of {url}"
                )
            cancel.sleep(min(interval, max(left, 0.0)))
            limit = max(0.1, min(REQUEST_TIMEOUT, deadline.remaining()))
            ok, answer = _ask(client, url, expected_status, text, cancel=cancel, limit=limit)
            probes += 1
            healthy_for = time.monotonic() - started
            if not ok:
                raise HealthCheckFailed(
                    f"health check failed during the soak: {url} answered {answer} "
                    f"(expected HTTP {expected_status}) after {format_duration(healthy_for)} "
                    "healthy"
                )
            if healthy_for >= period:
                return f"healthy for {format_duration(period)} ({probes} probes)"


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(REQUEST_TIMEOUT), follow_redirects=True, trust_env=True
    )


def _ask(
    client: httpx.Client,
    url: str,
    expected_status: int,
    text: str | None,
    *,
    cancel: CancelToken,
    limit: float,
) -> tuple[bool, str]:
    """One probe: is the answer healthy, and what was it (for the report). It waits at most
    `limit` seconds and is abandoned on a cancel, like every request of the run."""
    try:
        response = interruptible(
            lambda: client.get(url, timeout=limit), cancel, f"the health check of {url}"
        )
    except httpx.HTTPError as exc:
        return False, f"no answer ({type(exc).__name__})"
    seen = f"HTTP {response.status_code}"
    if response.status_code != expected_status:
        return False, seen
    if text and text not in response.text:
        return False, f"{seen} without {text!r} in the body"
    return True, seen
