"""``io.kestra.plugin.github.pulls.Create``: open a pull request on GitHub."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, SecretStr
from pydantic.config import JsonDict

from ...errors import ConfigError
from ...github import DEFAULT_ENDPOINT, GitHub
from .._base import Output as TaskOutput
from .._base import Task, secret_value

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["CreatePullRequest"]

_AUTH: JsonDict = {"group": "auth", "secret": True}


class CreatePullRequest(Task):
    """Open a pull request from `sourceBranch` into `targetBranch` of a GitHub repository.

    The pull request is opened with GitHub's REST API (`endpoint`, for GitHub Enterprise
    `https://<host>/api/v3`), authenticated with `oauthToken` (a personal access token),
    `jwtToken` or `appInstallationToken`; without any, anonymously (GitHub then refuses). When
    an open pull request from the same branch into the same target exists already, it is
    returned instead of failing. Pair it with a push to a feature branch (PushFlows,
    PushNamespaceFiles, NamespaceSync with `sourceOfTruth: KESTRA`) for changes that go
    through review.

    Examples:

    Push the `dev` flows to a feature branch, then open a pull request for review:

    ```yaml
    id: push_then_review
    namespace: system
    tasks:
      - id: push
        type: io.kestra.plugin.git.PushFlows
        url: https://github.com/kestra-io/scripts
        sourceNamespace: dev
        branch: "review-{{ execution.id }}"
        username: github_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        commitMessage: flows changed in dev
      - id: pull_request
        type: io.kestra.plugin.github.pulls.Create
        oauthToken: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        repository: kestra-io/scripts
        sourceBranch: "review-{{ execution.id }}"
        targetBranch: main
        title: Flows changed in dev
        body: "Commit {{ outputs.push.commitURL }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.github.pulls.Create"

    repository: str = Field(description="The repository, as `owner/name`.")
    source_branch: str = Field(description="The branch holding the changes (head).")
    target_branch: str = Field(description="The branch the changes go into (base).")
    title: str = Field(description="Title of the pull request.")
    body: str | None = Field(default=None, description="Markdown description.")
    draft: bool = Field(default=False, description="Open it as a draft.")
    maintainer_can_modify: bool = Field(
        default=False, description="Whether maintainers can modify the pull request."
    )
    oauth_token: SecretStr | None = Field(
        default=None,
        description="GitHub personal access token (alone, or with `login`).",
        json_schema_extra=_AUTH,
    )
    jwt_token: SecretStr | None = Field(
        default=None, description="GitHub App JWT.", json_schema_extra=_AUTH
    )
    app_installation_token: SecretStr | None = Field(
        default=None, description="GitHub App installation token.", json_schema_extra=_AUTH
    )
    login: str | None = Field(
        default=None, description="GitHub login; accepted for Kestra parity (the token decides)."
    )
    endpoint: str | None = Field(
        default=None,
        description=f"GitHub API base URL ({DEFAULT_ENDPOINT}; for GitHub Enterprise "
        "`https://<host>/api/v3`).",
    )
    url: str | None = Field(
        default=None, description="Former name of `endpoint`, accepted for older flows."
    )

    class Output(TaskOutput):
        """Outputs of pulls.Create."""

        number: int = Field(description="Number of the pull request.")
        pull_request_url: str = Field(description="Web URL of the pull request.")
        issue_url: str = Field(description="API URL of the pull request's issue.")
        existing: bool = Field(description="True when it was already open and is reused.")

    def run(self, ctx: RunContext) -> Output:
        tokens = [
            value
            for value in map(
                secret_value, (self.oauth_token, self.jwt_token, self.app_installation_token)
            )
            if value
        ]
        if len(tokens) > 1:
            raise ConfigError("set only one of `oauthToken`, `jwtToken` and `appInstallationToken`")
        for token in tokens:
            ctx.masker.add(token)
        if self.endpoint and self.url and self.endpoint != self.url:
            raise ConfigError("set `endpoint` (or its former name `url`), not both")
        endpoint = self.endpoint or self.url or DEFAULT_ENDPOINT
        with GitHub(endpoint, token=tokens[0] if tokens else None) as github:
            pull = github.create_pull(
                self.repository,
                head=self.source_branch,
                base=self.target_branch,
                title=self.title,
                body=self.body,
                draft=self.draft,
                maintainer_can_modify=self.maintainer_can_modify,
            )
        verb = "already open" if pull.existing else "opened"
        ctx.info(f"pull request #{pull.number} {verb}: {pull.url}")
        return self.Output(
            number=pull.number,
            pull_request_url=pull.url,
            issue_url=pull.issue_url,
            existing=pull.existing,
        )
