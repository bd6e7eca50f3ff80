"""The fake GitHub's Deployments API, driven by PyGithub as the action drives it: creation and
GitHub's defaults (the 409 trap), statuses and their validation, ``auto_inactive``, listing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from github import Auth, Github, GithubException, UnknownObjectException
from github.Repository import Repository

from promote_sandbox import Sandbox
from promote_sandbox.github import FakeGitHub

TOKEN = "ghs_" + "D" * 36
REPO = "acme/shop"
MAIN = "1" * 40
RED = "2" * 40
PENDING = "3" * 40


@pytest.fixture
def github(sandbox: Sandbox) -> FakeGitHub:
    """The sandbox's fake GitHub (mounted here while ``Sandbox`` does not mount one itself):
    ``main`` is green, ``red`` has a failing check, ``wip`` a pending one."""
    fake: FakeGitHub | None = getattr(sandbox, "github", None)
    if fake is None:
        fake = FakeGitHub()
        sandbox.mount(fake, prefix="/github")
    fake.add_repo(REPO, TOKEN)
    fake.add_ref(REPO, "main", MAIN, statuses=["success", "success"])
    fake.add_ref(REPO, "red", RED, statuses=["success", "failure"])
    fake.add_ref(REPO, "wip", PENDING, statuses=["pending"])
    return fake


@pytest.fixture
def repo(sandbox: Sandbox, github: FakeGitHub) -> Iterator[Repository]:
    client = Github(
        auth=Auth.Token(TOKEN),
        base_url=f"{sandbox.url}/github",
        seconds_between_writes=0,
        seconds_between_requests=0,
        retry=None,
    )
    yield client.get_repo(REPO)
    client.close()


@pytest.fixture
def rest(sandbox: Sandbox, github: FakeGitHub) -> Iterator[httpx.Client]:
    """A bare client for bodies PyGithub would never send."""
    headers = {"Authorization": f"token {TOKEN}"}
    with httpx.Client(base_url=f"{sandbox.url}/github/repos/{REPO}", headers=headers) as client:
        yield client


def test_deployment_and_statuses_as_the_action_creates_them(
    sandbox: Sandbox, github: FakeGitHub, repo: Repository
) -> None:
    deployment = repo.create_deployment(
        "main",
        auto_merge=False,
        required_contexts=[],
        environment="pr-7",
        transient_environment=True,
        production_environment=False,
        description="Promote shop-staging v42",
    )
    assert (deployment.sha, deployment.ref, deployment.task) == (MAIN, "main", "deploy")
    assert (deployment.environment, deployment.original_environment) == ("pr-7", "pr-7")
    assert deployment.transient_environment is True
    assert deployment.production_environment is False
    assert deployment.creator.login == "github-actions[bot]"
    assert deployment.payload == {}
    assert deployment.url == f"{sandbox.url}/github/repos/{REPO}/deployments/{deployment.id}"
    assert deployment.statuses_url == f"{deployment.url}/statuses"

    deployment.create_status("in_progress", description="Copying the slug")
    done = deployment.create_status(
        "success",
        target_url="https://github.com/acme/shop/actions/runs/1",
        environment_url="https://shop-pr-7.herokuapp.com/",
        auto_inactive=True,
    )
    assert (done.state, done.environment, done.description) == ("success", "pr-7", "")
    assert done.environment_url == "https://shop-pr-7.herokuapp.com/"
    assert done.target_url == done.log_url == "https://github.com/acme/shop/actions/runs/1"
    assert [s.state for s in deployment.get_statuses()] == ["success", "in_progress"]
    assert deployment.get_status(done.id).id == done.id

    [seen] = github.deployments(REPO)
    assert (seen.id, seen.environment, seen.description) == (
        deployment.id,
        "pr-7",
        "Promote shop-staging v42",
    )
    statuses = github.statuses(REPO, deployment.id)
    assert [(s.state, s.creator, s.automatic) for s in statuses] == [
        ("in_progress", "github-actions[bot]", False),
        ("success", "github-actions[bot]", False),
    ]
    assert statuses[0].description == "Copying the slug"


def test_production_is_the_default_environment(repo: Repository) -> None:
    plain = repo.create_deployment("main", auto_merge=False, required_contexts=[])
    assert (plain.environment, plain.production_environment) == ("production", True)
    staging = repo.create_deployment(
        "main", auto_merge=False, required_contexts=[], environment="staging"
    )
    assert staging.production_environment is False
    marked = repo.create_deployment(
        "main",
        auto_merge=False,
        required_contexts=[],
        environment="live",
        production_environment=True,
        payload={"app": "shop-prod"},
    )
    assert (marked.production_environment, marked.payload) == (True, {"app": "shop-prod"})


@pytest.mark.parametrize(
    ("ref", "contexts"),
    [
        ("red", [{"context": "ci/1", "state": "success"}, {"context": "ci/2", "state": "failure"}]),
        ("wip", [{"context": "ci/1", "state": "pending"}]),
    ],
)
def test_api_defaults_refuse_a_ref_whose_checks_are_not_green(
    github: FakeGitHub, repo: Repository, ref: str, contexts: list[dict[str, str]]
) -> None:
    with pytest.raises(GithubException) as refused:
        repo.create_deployment(ref, environment="production")
    assert refused.value.status == 409
    assert refused.value.data["message"] == f"Conflict: Commit status checks failed for {ref}."
    assert refused.value.data["errors"] == [
        {
            "resource": "Deployment",
            "field": "required_contexts",
            "code": "invalid",
            "contexts": contexts,
        }
    ]
    assert github.deployments(REPO) == []
    created = repo.create_deployment(ref, auto_merge=False, required_contexts=[])
    assert created.sha == (RED if ref == "red" else PENDING)


def test_required_contexts_pick_the_checks_that_matter(repo: Repository) -> None:
    assert repo.create_deployment("main").sha == MAIN  # all green: the defaults pass
    assert repo.create_deployment("red", required_contexts=["ci/1"]).sha == RED
    for required in (["ci/2"], ["ci/9"]):  # failing, never reported
        with pytest.raises(GithubException) as refused:
            repo.create_deployment("red", auto_merge=False, required_contexts=required)
        assert refused.value.status == 409


def test_seeding_a_commit_again_replaces_its_check_states(
    github: FakeGitHub, repo: Repository
) -> None:
    github.add_ref(REPO, "red", RED, statuses=["success", "success"])
    assert repo.create_deployment("red").sha == RED


def test_refs_resolve_by_name_full_name_or_sha(repo: Repository) -> None:
    args = {"auto_merge": False, "required_contexts": []}
    assert repo.create_deployment("refs/heads/main", **args).sha == MAIN
    assert repo.create_deployment(RED, **args).ref == RED
    for unknown in ("nope", "1" * 12, "f" * 40):
        with pytest.raises(GithubException) as refused:
            repo.create_deployment(unknown, **args)
        assert refused.value.status == 422
        assert refused.value.data["message"] == f"No ref found for: {unknown}"


def test_bad_status_requests_get_422(github: FakeGitHub, repo: Repository) -> None:
    deployment = repo.create_deployment("main", auto_merge=False, required_contexts=[])
    cases = {
        ("done", ""): [
            {
                "resource": "DeploymentStatus",
                "code": "custom",
                "field": "state",
                "message": "state is not included in the list",
            }
        ],
        ("success", "x" * 141): [
            {
                "resource": "DeploymentStatus",
                "code": "custom",
                "field": "description",
                "message": "description is too long (maximum is 140 characters)",
            }
        ],
    }
    for (state, description), errors in cases.items():
        with pytest.raises(GithubException) as refused:
            deployment.create_status(state, description=description)
        assert refused.value.status == 422
        assert refused.value.data["message"] == "Validation Failed"
        assert refused.value.data["errors"] == errors
    with pytest.raises(GithubException) as refused:
        deployment.create_status("success", target_url="ftp://logs", environment_url="shop.io")
    assert [e["message"] for e in refused.value.data["errors"]] == [
        "environment_url must use http(s) scheme",
        "target_url must use http(s) scheme",
    ]
    assert github.statuses(REPO, deployment.id) == []
    assert deployment.create_status("success", description="x" * 140).state == "success"


def test_auto_inactive_retires_older_successes_of_the_environment(
    github: FakeGitHub, repo: Repository
) -> None:
    def deploy(environment: str, state: str = "success", **flags: bool) -> int:
        deployment = repo.create_deployment(
            "main", auto_merge=False, required_contexts=[], environment=environment, **flags
        )
        deployment.create_status(state, target_url=f"https://ci.example/{deployment.id}")
        return deployment.id

    first = deploy("staging")
    failed = deploy("staging", "failure")
    transient = deploy("staging", transient_environment=True)
    production = deploy("staging", production_environment=True)
    elsewhere = deploy("qa")
    latest = deploy("staging")

    def states(deployment_id: int) -> list[str]:
        return [s.state for s in github.statuses(REPO, deployment_id)]

    assert states(first) == ["success", "inactive"]
    assert states(failed) == ["failure"]
    assert states(transient) == states(production) == states(elsewhere) == ["success"]
    assert states(latest) == ["success"]
    retired = github.statuses(REPO, first)[-1]
    assert retired.automatic
    assert (retired.creator, retired.environment) == ("github-actions[bot]", "staging")
    assert retired.log_url == f"https://ci.example/{first}"

    kept = repo.get_deployment(latest)
    newer = repo.create_deployment("main", auto_merge=False, required_contexts=[])
    newer.create_status("success", environment="staging", auto_inactive=False)
    assert states(latest) == ["success"]
    assert kept.get_statuses()[0].state == "success"


def test_a_status_can_move_a_deployment_to_another_environment(repo: Repository) -> None:
    deployment = repo.create_deployment(
        "main", auto_merge=False, required_contexts=[], environment="staging"
    )
    deployment.create_status("queued")
    deployment.create_status("in_progress", environment="qa")
    deployment.create_status("success")
    moved = repo.get_deployment(deployment.id)
    assert (moved.environment, moved.original_environment) == ("qa", "staging")
    assert [s.environment for s in moved.get_statuses()] == ["qa", "qa", "staging"]


def test_listing_is_newest_first_and_filters(repo: Repository) -> None:
    args = {"auto_merge": False, "required_contexts": []}
    first = repo.create_deployment("main", environment="staging", **args)
    second = repo.create_deployment("red", environment="staging", **args)
    third = repo.create_deployment(
        "main", environment="production", task="deploy:migrations", **args
    )
    assert [d.id for d in repo.get_deployments()] == [third.id, second.id, first.id]
    assert [d.id for d in repo.get_deployments(sha=MAIN)] == [third.id, first.id]
    assert [d.id for d in repo.get_deployments(ref="red")] == [second.id]
    assert [d.id for d in repo.get_deployments(environment="staging")] == [second.id, first.id]
    assert [d.id for d in repo.get_deployments(task="deploy:migrations")] == [third.id]
    with pytest.raises(UnknownObjectException):
        repo.get_deployment(first.create_status("success").id)  # a status id is not a deployment's


def test_a_deployment_takes_at_most_100_statuses(rest: httpx.Client, repo: Repository) -> None:
    deployment = repo.create_deployment("main", auto_merge=False, required_contexts=[])
    path = f"/deployments/{deployment.id}/statuses"
    assert {rest.post(path, json={"state": "queued"}).status_code for _ in range(100)} == {201}
    refused = rest.post(path, json={"state": "success"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "resource": "DeploymentStatus",
            "code": "custom",
            "message": "This deployment has reached the maximum number of statuses.",
        }
    ]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 422, 'Invalid request.\n\n"ref" wasn\'t supplied.'),
        (
            {"ref": "main", "auto_merge": "no"},
            422,
            "Invalid request.\n\nFor 'properties/auto_merge', \"no\" is not a boolean.",
        ),
        (
            {"ref": "main", "required_contexts": "ci/1"},
            422,
            "Invalid request.\n\nFor 'properties/required_contexts', \"ci/1\" is not an array "
            "of strings.",
        ),
        (["main"], 400, "Body should be a JSON object"),
    ],
)
def test_malformed_deployment_requests(
    rest: httpx.Client, body: object, status: int, message: str
) -> None:
    response = rest.post("/deployments", json=body)
    assert response.status_code == status
    assert response.json() == {
        "message": message,
        "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
        "status": str(status),
    }
    broken = rest.post(
        "/deployments", content=b"{ref", headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["message"]) == (400, "Problems parsing JSON")


def test_created_objects_point_at_themselves(rest: httpx.Client) -> None:
    created = rest.post(
        "/deployments", json={"ref": "main", "auto_merge": False, "required_contexts": []}
    )
    assert created.status_code == 201
    assert created.headers["Location"] == created.json()["url"]
    assert rest.get(created.headers["Location"]).json() == created.json()
    assert rest.get("/deployments/999").status_code == 404


def test_a_state_of_the_wrong_type_is_just_not_in_the_list(
    rest: httpx.Client, repo: Repository
) -> None:
    deployment = repo.create_deployment("main", auto_merge=False, required_contexts=[])
    for state in (None, ["success"], {"state": "success"}, 1):
        refused = rest.post(f"/deployments/{deployment.id}/statuses", json={"state": state})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["message"] == "state is not included in the list"
