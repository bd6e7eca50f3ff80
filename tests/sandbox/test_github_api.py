"""What every call to the fake GitHub goes through: tokens and who they belong to, the rate
limit and its headers, error bodies (the fake's own and injected faults), both path forms of a
repository, and a request log free of tokens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)

from promote_sandbox import Fault, Sandbox
from promote_sandbox.github import FakeGitHub

TOKEN = "ghs_" + "A" * 36
PAT = "github_pat_" + "B" * 40
OTHER = "ghs_" + "O" * 36
REPO = "acme/shop"
MAIN = "5" * 40


@pytest.fixture
def github(sandbox: Sandbox) -> FakeGitHub:
    """``acme/shop`` for the workflow token; ``acme/ops`` for a person's token, which may not
    see ``acme/shop``; ``acme/other`` for another workflow's token."""
    fake: FakeGitHub | None = getattr(sandbox, "github", None)
    if fake is None:
        fake = FakeGitHub()
        sandbox.mount(fake, prefix="/github")
    fake.add_repo(REPO, TOKEN)
    fake.add_ref(REPO, "main", MAIN)
    fake.add_pull(REPO, 7, "feature", MAIN)
    fake.add_repo("acme/ops", PAT, login="release-manager")
    fake.add_repo("acme/other", OTHER)
    return fake


def _client(sandbox: Sandbox, token: str) -> Github:
    return Github(
        auth=Auth.Token(token),
        base_url=f"{sandbox.url}/github",
        seconds_between_writes=0,
        seconds_between_requests=0,
        retry=None,
    )


@pytest.fixture
def api(sandbox: Sandbox, github: FakeGitHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/github") as client:
        yield client


def _auth(token: str, scheme: str = "token") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def test_unknown_token_gets_bad_credentials(sandbox: Sandbox, github: FakeGitHub) -> None:
    client = _client(sandbox, "ghs_" + "X" * 36)
    with pytest.raises(BadCredentialsException) as refused:
        client.get_repo(REPO)
    assert refused.value.status == 401
    assert refused.value.data == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    client.close()


def test_a_repository_exists_only_for_its_tokens(sandbox: Sandbox, api: httpx.Client) -> None:
    for headers in ({}, _auth(OTHER), _auth(PAT)):
        response = api.get(f"/repos/{REPO}", headers=headers)
        assert response.status_code == 404
        assert response.json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
            "status": "404",
        }
    assert api.get("/repos/acme/ops", headers=_auth(PAT)).json()["full_name"] == "acme/ops"


def test_both_path_forms_and_any_case_name_one_repository(api: httpx.Client) -> None:
    shop = api.get(f"/repos/{REPO}", headers=_auth(TOKEN, "Bearer")).json()
    assert (shop["full_name"], shop["default_branch"], shop["private"]) == (REPO, "main", True)
    assert api.get("/repos/ACME/Shop", headers=_auth(TOKEN)).json()["id"] == shop["id"]
    by_id = api.get(f"/repositories/{shop['id']}/pulls/7", headers=_auth(TOKEN))
    assert by_id.json()["head"]["sha"] == MAIN
    assert api.get(f"/repositories/{shop['id'] + 1}", headers=_auth(TOKEN)).status_code == 404


def test_get_user_answers_people_but_not_the_workflow_token(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    """An installation token such as GITHUB_TOKEN cannot ask who it is."""
    with pytest.raises(GithubException) as refused:
        _ = _client(sandbox, TOKEN).get_user().login
    assert refused.value.status == 403
    assert refused.value.data == {
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
        "status": "403",
    }
    person = _client(sandbox, PAT).get_user()
    assert (person.login, person.type) == ("release-manager", "User")
    anonymous = api.get("/user")
    assert (anonymous.status_code, anonymous.json()["message"]) == (401, "Requires authentication")


def test_every_answer_carries_a_request_id_and_the_rate_limit(api: httpx.Client) -> None:
    first = api.get(f"/repos/{REPO}", headers=_auth(TOKEN))
    second = api.get(f"/repos/{REPO}/pulls/7", headers=_auth(TOKEN))
    assert first.headers["X-GitHub-Request-Id"] != second.headers["X-GitHub-Request-Id"]
    assert first.headers["X-RateLimit-Limit"] == "1000"  # a workflow token's hourly budget
    assert first.headers["X-RateLimit-Resource"] == "core"
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert int(second.headers["X-RateLimit-Remaining"]) == remaining - 1
    assert second.headers["X-RateLimit-Used"] == str(1000 - remaining + 1)
    assert api.get("/repos/acme/ops", headers=_auth(PAT)).headers["X-RateLimit-Limit"] == "5000"
    assert "X-RateLimit-Limit" not in api.get("/user").headers
    assert api.get("/user").headers["X-GitHub-Request-Id"]


def test_an_exhausted_rate_limit_refuses_requests(
    sandbox: Sandbox, github: FakeGitHub, api: httpx.Client
) -> None:
    github.set_rate_limit(TOKEN, remaining=1)
    client = _client(sandbox, TOKEN)
    repo = client.get_repo(REPO)
    with pytest.raises(RateLimitExceededException) as refused:
        repo.get_pull(7)
    assert refused.value.status == 403
    assert refused.value.data["message"].startswith("API rate limit exceeded for installation ID")
    assert refused.value.headers["x-ratelimit-remaining"] == "0"
    client.close()
    assert api.get("/repos/acme/ops", headers=_auth(PAT)).status_code == 200
    github.set_rate_limit(TOKEN, remaining=1000)
    assert api.get(f"/repos/{REPO}", headers=_auth(TOKEN)).status_code == 200


def test_faults_answer_in_github_s_error_shape(
    sandbox: Sandbox, github: FakeGitHub, api: httpx.Client
) -> None:
    secondary = (
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    )
    sandbox.add_fault(Fault(match=r"^POST /github/.*/deployments$", status=502, times=1))
    sandbox.add_fault(
        Fault(
            match=r"^POST /github/.*/comments$",
            status=403,
            message=secondary,
            retry_after="60",
            times=1,
        )
    )
    client = _client(sandbox, TOKEN)
    repo = client.get_repo(REPO)
    with pytest.raises(GithubException) as failed:
        repo.create_deployment("main", auto_merge=False, required_contexts=[])
    assert failed.value.status == 502
    assert failed.value.data == {
        "message": "Server Error",
        "documentation_url": "https://docs.github.com/rest",
        "status": "502",
    }
    assert failed.value.headers["x-ratelimit-limit"] == "1000"
    pull = repo.get_pull(7)
    with pytest.raises(RateLimitExceededException) as throttled:
        pull.create_issue_comment("Deployed")
    assert throttled.value.headers["retry-after"] == "60"
    assert throttled.value.data["message"] == secondary
    assert github.deployments(REPO) == []
    assert github.comments(REPO, 7) == []
    assert repo.create_deployment("main", auto_merge=False, required_contexts=[]).sha == MAIN
    client.close()
    unknown = api.get("/repos/acme/shop/releases", headers=_auth(TOKEN))
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Not Found")


def test_the_request_log_never_holds_a_token(
    sandbox: Sandbox, github: FakeGitHub, api: httpx.Client
) -> None:
    client = _client(sandbox, TOKEN)
    repo = client.get_repo(REPO)
    deployment = repo.create_deployment(
        "main", auto_merge=False, required_contexts=[], payload={"leak": TOKEN}
    )
    deployment.create_status("success", description=f"token {TOKEN}")
    repo.get_pull(7).create_issue_comment(f"Deployed with {TOKEN} and {PAT}")
    client.close()
    api.get(f"/repos/{REPO}", headers=_auth(PAT, "Bearer"), params={"access_token": OTHER})
    log = sandbox.request_log_text()
    assert sandbox.requests
    assert all(r.service == "github" for r in sandbox.requests)
    for secret in (TOKEN, PAT, OTHER):
        assert secret not in log
    assert {r.headers["Authorization"] for r in sandbox.requests} == {"[REDACTED]"}
    comment = next(r for r in sandbox.requests if r.path.endswith("/issues/7/comments"))
    assert comment.body == {"body": "Deployed with [REDACTED] and [REDACTED]"}


def test_unknown_objects_raise_unknown_object(sandbox: Sandbox, github: FakeGitHub) -> None:
    client = _client(sandbox, TOKEN)
    with pytest.raises(UnknownObjectException):
        client.get_repo("acme/missing")
    with pytest.raises(UnknownObjectException):
        client.get_repo(REPO).get_deployment(1)
    client.close()
