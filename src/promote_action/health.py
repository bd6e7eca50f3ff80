"""Health checks of a deployed app: its own URL must answer as expected, with patience.

A release can succeed while the app fails to boot; preboot and dyno restarts take time, so the
probe retries with backoff until `health-check-timeout`, and reports what it saw last.
"""

from __future__ import annotations

import httpx

from promote_action.errors import PromoteError, WaitTimeout
from promote_action.http import interruptible
from promote_action.waiting import CancelToken, Deadline, PollSchedule, format_duration, wait_for

REQUEST_TIMEOUT = 10.0
"""One health request's longest wait, shortened to what is left of the patience."""
HEALTH_SCHEDULE = PollSchedule(first_delay=0.0, min_interval=1.0, fraction=0.2, max_interval=15.0)


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
    with httpx.Client(timeout=httpx.Timeout(10.0), follow_redirects=True, trust_env=True) as client:

        def healthy() -> str | None:
            limit = max(0.1, min(REQUEST_TIMEOUT, patience.remaining()))
            try:
                response = interruptible(
                    lambda: client.get(url, timeout=limit), cancel, "the health check"
                )
            except httpx.HTTPError as exc:
                seen[0] = f"no answer ({type(exc).__name__})"
                return None
            seen[0] = f"HTTP {response.status_code}"
            if response.status_code != expected_status:
                return None
            if text and text not in response.text:
                seen[0] += f" without {text!r} in the body"
                return None
            return seen[0]

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
