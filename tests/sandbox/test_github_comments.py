"""The fake GitHub's pull requests and their conversation comments, driven by PyGithub as the
action's sticky comment drives them: find, create, edit, page through, and the size limit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from github import Auth, Github, GithubException, UnknownObjectException
from github.Repository import Repository

from promote_sandbox import Sandbox
from promote_sandbox.github import FakeGitHub

TOKEN = "ghs_" + "C" * 36
REPO = "acme/shop"
HEAD = "4" * 40
MARKER = "<!-- Sticky Pull Request Comment promote -->"


@pytest.fixture
def github(sandbox: Sandbox) -> FakeGitHub:
    """Pull request #7 from ``feature/login``, where a reviewer already quoted the marker."""
    fake: FakeGitHub | None = getattr(sandbox, "github", None)
    if fake is None:
        fake = FakeGitHub()
        sandbox.mount(fake, prefix="/github")
    fake.add_repo(REPO, TOKEN)
    fake.add_pull(REPO, 7, "feature/login", HEAD)
    fake.add_comment(REPO, 7, f"Why does {MARKER} show up here?", login="octocat")
    return fake


def _client(sandbox: Sandbox, **options: int) -> Github:
    return Github(
        auth=Auth.Token(TOKEN),
        base_url=f"{sandbox.url}/github",
        seconds_between_writes=0,
        seconds_between_requests=0,
        retry=None,
        **options,
    )


@pytest.fixture
def repo(sandbox: Sandbox, github: FakeGitHub) -> Iterator[Repository]:
    client = _client(sandbox)
    yield client.get_repo(REPO)
    client.close()


@pytest.fixture
def rest(sandbox: Sandbox, github: FakeGitHub) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{sandbox.url}/github/repos/{REPO}", headers=headers) as client:
        yield client


def _sticky(repo: Repository, number: int, text: str) -> int:
    """The action's sticky comment: edit its own comment holding the marker, else create one."""
    pull = repo.get_pull(number)
    body = f"{MARKER}\n{text}"
    for comment in pull.get_issue_comments():
        if comment.user.login == "github-actions[bot]" and MARKER in comment.body:
            comment.edit(body)
            return comment.id
    return pull.create_issue_comment(body).id


def test_sticky_comment_is_created_once_then_edited(github: FakeGitHub, repo: Repository) -> None:
    created = _sticky(repo, 7, "Deploying…")
    assert _sticky(repo, 7, "Deployed shop v42") == created
    quoted, ours = github.comments(REPO, 7)
    assert (quoted.login, quoted.body) == ("octocat", f"Why does {MARKER} show up here?")
    assert (ours.id, ours.login, ours.body) == (
        created,
        "github-actions[bot]",
        f"{MARKER}\nDeployed shop v42",
    )
    assert ours.updated_at >= ours.created_at
    [_, wire] = repo.get_pull(7).get_issue_comments()
    assert wire.html_url == f"https://github.com/{REPO}/pull/7#issuecomment-{created}"
    assert wire.user.type == "Bot"
    assert repo.get_issue(7).get_comment(created).body == ours.body


def test_pull_request_and_its_issue(sandbox: Sandbox, repo: Repository, rest: httpx.Client) -> None:
    pull = repo.get_pull(7)
    assert (pull.number, pull.head.sha, pull.head.ref, pull.base.ref) == (
        7,
        HEAD,
        "feature/login",
        "main",
    )
    assert pull.html_url == f"https://github.com/{REPO}/pull/7"
    assert pull.issue_url == f"{sandbox.url}/github/repos/{REPO}/issues/7"
    issue = repo.get_issue(7)
    assert (issue.number, issue.comments) == (7, 1)
    assert issue.pull_request is not None
    assert issue.id != pull.id
    with pytest.raises(UnknownObjectException):
        repo.get_pull(8)
    with pytest.raises(UnknownObjectException):
        repo.get_issue(8)
    lost = rest.post("/issues/8/comments", json={"body": "lost"})
    assert (lost.status_code, lost.json()["message"]) == (404, "Not Found")


def test_the_pull_head_is_a_deployable_ref(repo: Repository) -> None:
    for ref in ("feature/login", "refs/pull/7/head", HEAD):
        deployment = repo.create_deployment(ref, auto_merge=False, required_contexts=[])
        assert deployment.sha == HEAD


def test_comments_come_in_pages_with_github_links(
    sandbox: Sandbox, github: FakeGitHub, rest: httpx.Client
) -> None:
    for n in range(2, 121):
        github.add_comment(REPO, 7, f"comment {n}", login="octocat")
    client = _client(sandbox, per_page=30)
    repo = client.get_repo(REPO)
    pull = repo.get_pull(7)
    sandbox.clear_requests()
    comments = list(pull.get_issue_comments())
    assert len(comments) == 120
    assert comments[-1].body == "comment 120"
    pages = [r for r in sandbox.requests if r.path.endswith("/comments")]
    assert len(pages) == 4  # 30 a page, each next page from the Link header
    assert pull.get_issue_comments().totalCount == 120
    client.close()

    where = f"{sandbox.url}/github/repositories/{repo.id}/issues/7/comments"

    def links(page: int) -> dict[str, str]:
        response = rest.get("/issues/7/comments", params={"per_page": 30, "page": page})
        assert len(response.json()) == 30
        found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
        return {rel: url for url, rel in found}

    assert links(1) == {
        "next": f"{where}?per_page=30&page=2",
        "last": f"{where}?per_page=30&page=4",
    }
    assert links(2) == {
        "prev": f"{where}?per_page=30&page=1",
        "next": f"{where}?per_page=30&page=3",
        "last": f"{where}?per_page=30&page=4",
        "first": f"{where}?per_page=30&page=1",
    }
    assert set(links(4)) == {"prev", "first"}
    default = rest.get("/issues/7/comments")
    assert len(default.json()) == 30  # GitHub's default page size
    assert len(rest.get("/issues/7/comments", params={"per_page": 500}).json()) == 100
    followed = rest.get(f"{where}?per_page=30&page=4")
    assert [c["body"] for c in followed.json()][-1] == "comment 120"
    assert rest.get("/issues/7/comments", params={"per_page": 100, "page": 9}).json() == []


def test_a_comment_holds_at_most_65536_characters(github: FakeGitHub, repo: Repository) -> None:
    pull = repo.get_pull(7)
    fits = pull.create_issue_comment("x" * 65536)
    with pytest.raises(GithubException) as refused:
        pull.create_issue_comment("x" * 65537)
    too_long = {
        "resource": "IssueComment",
        "code": "custom",
        "field": "body",
        "message": "body is too long (maximum is 65536 characters)",
    }
    assert refused.value.status == 422
    assert refused.value.data["errors"] == [too_long]
    with pytest.raises(GithubException) as refused:
        fits.edit("y" * 65537)
    assert refused.value.data["errors"] == [too_long]
    assert github.comments(REPO, 7)[-1].body == "x" * 65536


def test_comment_bodies_are_checked(rest: httpx.Client) -> None:
    missing = rest.post("/issues/7/comments", json={})
    assert (missing.status_code, missing.json()["message"]) == (
        422,
        'Invalid request.\n\n"body" wasn\'t supplied.',
    )
    blank = rest.post("/issues/7/comments", json={"body": "  "})
    assert blank.json()["errors"] == [
        {"resource": "IssueComment", "code": "missing_field", "field": "body"}
    ]
    wrong = rest.patch("/issues/comments/1", json={"body": "x"})
    assert wrong.status_code == 404
    created = rest.post("/issues/7/comments", json={"body": "hello"})
    assert created.status_code == 201
    assert rest.get(created.headers["Location"]).json()["body"] == "hello"
    one_page = rest.get("/issues/7/comments")
    assert len(one_page.json()) == 2
    assert "Link" not in one_page.headers


def test_anyone_who_may_write_may_edit_anyone_s_comment(
    github: FakeGitHub, repo: Repository
) -> None:
    """As on GitHub: keeping to its own comments is the client's job."""
    [theirs] = repo.get_pull(7).get_issue_comments()
    theirs.edit("overwritten")
    assert github.comments(REPO, 7)[0].body == "overwritten"
