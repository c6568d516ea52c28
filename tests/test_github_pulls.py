"""io.kestra.plugin.github.pulls.Create against a stateful fake GitHub API (tests/fakegithub.py),
and the feature-branch-then-pull-request flow of flows/ against the real git server.

Kestra's GitHub plugin tests need a real GitHub; here: create, a duplicate (the open pull request
is returned), 401, 404, 422 (unknown branch, no commits), and the token never leaking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fakegithub import FakeGitHub
from pytest_httpserver import HTTPServer

from kestra_git_tasks import LocalInstance, RunContext, run_flow
from kestra_git_tasks.errors import ConfigError, GitAuthError, GitError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.tasks.github.pulls_create import CreatePullRequest

if TYPE_CHECKING:
    from gitserver import BareRemote

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ghp_fake-token-1"
BRANCHES = {"main", "feature"}


@pytest.fixture
def github(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN).install(httpserver)
    fake.add_repo("acme/flows", BRANCHES.__contains__)
    yield fake
    httpserver.check_handler_errors()


def create(github: FakeGitHub, tmp_path: Path, **properties: Any) -> CreatePullRequest.Output:
    properties = {
        "repository": "acme/flows",
        "source_branch": "feature",
        "target_branch": "main",
        "title": "Review me",
        "oauth_token": TOKEN,
        "endpoint": github.url,
        **properties,
    }
    task = CreatePullRequest(id="pr", **properties)
    ctx = RunContext.create(home=tmp_path / "home")
    output = task.run(ctx)
    assert isinstance(output, CreatePullRequest.Output)
    return output


def test_create_opens_a_pull_request_with_its_number_and_url(
    github: FakeGitHub, tmp_path: Path
) -> None:
    output = create(github, tmp_path, body="please", draft=True)
    assert output.number == 1
    assert output.pull_request_url == "https://github.example/acme/flows/pull/1"
    assert output.issue_url.endswith("/repos/acme/flows/issues/1")
    assert output.existing is False
    pull = github.repos["acme/flows"].pulls[0]
    assert (pull["head"], pull["base"], pull["body"], pull["draft"]) == (
        "feature",
        "main",
        "please",
        True,
    )
    assert output.to_dict()["pullRequestUrl"] == output.pull_request_url


def test_a_duplicate_returns_the_open_pull_request(github: FakeGitHub, tmp_path: Path) -> None:
    first = create(github, tmp_path)
    again = create(github, tmp_path, title="Again")
    assert (again.number, again.existing) == (first.number, True)
    assert len(github.repos["acme/flows"].pulls) == 1


def test_a_wrong_token_is_an_auth_error_that_does_not_show_it(
    github: FakeGitHub, tmp_path: Path
) -> None:
    with pytest.raises(GitAuthError, match="Bad credentials") as raised:
        create(github, tmp_path, oauth_token="ghp_wrong-secret")
    assert "ghp_wrong-secret" not in str(raised.value)
    with pytest.raises(GitAuthError):
        create(github, tmp_path, oauth_token=None)


def test_an_unknown_repository_names_it(github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"'acme/missing' not found"):
        create(github, tmp_path, repository="acme/missing")


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"source_branch": "nope"}, "head invalid"),
        ({"target_branch": "nope"}, "base invalid"),
        ({"source_branch": "main"}, "No commits between main and main"),
    ],
)
def test_validation_failures_carry_githubs_messages(
    github: FakeGitHub, tmp_path: Path, properties: dict[str, str], message: str
) -> None:
    with pytest.raises(GitError, match=r"\(422\)") as raised:
        create(github, tmp_path, **properties)
    assert message in str(raised.value)
    assert github.repos["acme/flows"].pulls == []


@pytest.mark.parametrize("repository", ["acme", "acme/flows/x", "../flows", "/flows"])
def test_a_malformed_repository_is_refused_before_any_request(
    github: FakeGitHub, tmp_path: Path, repository: str
) -> None:
    with pytest.raises(ConfigError, match="owner/name"):
        create(github, tmp_path, repository=repository)
    assert github.requests == []


def test_only_one_token_kind_may_be_set(github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only one"):
        create(github, tmp_path, jwt_token="jwt")


def test_the_token_travels_only_in_the_authorization_header(
    github: FakeGitHub, tmp_path: Path
) -> None:
    create(github, tmp_path)
    for _, path, headers in github.requests:
        assert TOKEN not in path
        assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_seed_flow_pushes_to_a_feature_branch_then_opens_the_pull_request(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    from gitserver import BareRemote, GitHttpServer

    text = (ROOT / "flows" / "push_then_pull_request.yml").read_text()
    with GitHttpServer(tmp_path / "repos", username="github_username", password=TOKEN) as server:
        repo: BareRemote = BareRemote(server, "scripts")
        repo.commit({"README.md": "scripts\n"}, "init")
        fake = FakeGitHub(TOKEN).install(httpserver)
        fake.add_repo("kestra-io/scripts", lambda branch: repo.head(branch) is not None)
        flow = tmp_path / "flow.yml"
        flow.write_text(
            text.replace("https://github.com/kestra-io/scripts", repo.url).replace(
                "https://api.github.com", fake.url
            )
        )
        with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
            instance.put_flow(
                "id: hello\nnamespace: dev\ntasks:\n  - id: log\n"
                "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
            )
            execution = run_flow(
                flow,
                instance=instance,
                home=tmp_path / "home",
                secrets={"GITHUB_ACCESS_TOKEN": TOKEN},
            )
        assert execution.state == "SUCCESS", execution.error
        branch = f"review-{execution.id}"
        assert "_flows/hello.yml" in repo.files(branch)
        pull = fake.repos["kestra-io/scripts"].pulls[0]
        assert (pull["head"], pull["base"]) == (branch, "main")
        assert execution.outputs["push"]["commitId"] == repo.head(branch)
        assert f"Review commit {repo.head(branch)} " in pull["body"]
        assert execution.outputs["pull_request"]["number"] == 1
    assert TOKEN not in json.dumps(execution.to_dict())
    httpserver.check_handler_errors()
