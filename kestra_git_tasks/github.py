"""GitHub's REST API, the part Kestra's GitHub plugin tasks use: opening a pull request.

The only module that talks HTTP to GitHub (the tasks under ``tasks/github/`` call it), and the
one place its errors are translated:

* 401 and 403 -> :class:`~kestra_git_tasks.errors.GitAuthError` (the token is missing, wrong,
  or may not open pull requests there);
* 404 -> :class:`~kestra_git_tasks.errors.GitError` naming the repository (GitHub answers 404,
  not 403, for a private repository the token cannot see);
* 422 -> :class:`~kestra_git_tasks.errors.GitError` with GitHub's own messages (no commits
  between the branches, a missing branch...); a pull request that already exists for the same
  head and base is not an error: :meth:`GitHub.create_pull` returns it, marked ``existing``;
* no answer -> :class:`~kestra_git_tasks.errors.GitNetworkError`.

A token is sent only as the ``Authorization`` header of requests to ``endpoint``; it is never
part of a URL or a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .errors import ConfigError, GitAuthError, GitError, GitNetworkError

__all__ = ["DEFAULT_ENDPOINT", "GitHub", "PullRequest"]

DEFAULT_ENDPOINT = "https://api.github.com"
_ALREADY_EXISTS = "a pull request already exists"


@dataclass(frozen=True)
class PullRequest:
    """What GitHub says about a pull request."""

    number: int
    url: str
    issue_url: str
    state: str
    draft: bool
    existing: bool = False


class GitHub:
    """A client of one GitHub (or GitHub Enterprise) API ``endpoint``."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = endpoint.strip().rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ConfigError(
                f"GitHub API endpoint '{endpoint}' must be an http(s) URL, e.g. "
                "https://api.github.com or https://github.example.com/api/v3"
            )
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "kestra-git-tasks",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.endpoint = root
        self._client = httpx.Client(
            base_url=root, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_pull(
        self,
        repository: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None = None,
        draft: bool = False,
        maintainer_can_modify: bool = False,
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``; the open one when it exists."""
        owner, name = _split(repository)
        payload: dict[str, Any] = {
            "head": head,
            "base": base,
            "title": title,
            "draft": draft,
            "maintainer_can_modify": maintainer_can_modify,
        }
        if body is not None:
            payload["body"] = body
        response = self._call("POST", f"/repos/{owner}/{name}/pulls", repository, json=payload)
        if response.status_code == 422 and _ALREADY_EXISTS in _messages(response).lower():
            existing = self.find_open_pull(repository, head=head, base=base)
            if existing is not None:
                return existing
        data = self._check(response, repository, f"open a pull request from '{head}' to '{base}'")
        return _pull(data)

    def find_open_pull(self, repository: str, *, head: str, base: str) -> PullRequest | None:
        """The open pull request from ``head`` into ``base``, or None."""
        owner, name = _split(repository)
        qualified = head if ":" in head else f"{owner}:{head}"
        params = {"state": "open", "head": qualified, "base": base}
        response = self._call("GET", f"/repos/{owner}/{name}/pulls", repository, params=params)
        data = self._check(response, repository, "list its pull requests")
        if not isinstance(data, list) or not data:
            return None
        return _pull(data[0], existing=True)

    # -- transport and errors ------------------------------------------------------------------
    def _call(self, method: str, path: str, repository: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise GitNetworkError(
                f"GitHub API {self.endpoint} did not answer in time for {repository}: {exc}"
            ) from exc
        except httpx.HTTPError as exc:
            raise GitNetworkError(
                f"cannot reach the GitHub API {self.endpoint} for {repository}: {exc}"
            ) from exc

    def _check(self, response: httpx.Response, repository: str, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise GitAuthError(
                f"GitHub refused to {what} in {repository} ({status}: {_messages(response)}). "
                "Check `oauthToken` (or `jwtToken`): it must be valid and allowed to open pull "
                "requests in that repository."
            )
        if status == 404:
            raise GitError(
                f"GitHub repository '{repository}' not found at {self.endpoint} (404): check "
                "`repository` (owner/name), and that the token can see it."
            )
        if status >= 400:
            raise GitError(
                f"GitHub could not {what} in {repository} ({status}): {_messages(response)}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise GitError(f"GitHub answered {status} with a body that is not JSON") from exc


def _split(repository: str) -> tuple[str, str]:
    owner, slash, name = repository.strip().partition("/")
    if not (owner and slash and name) or "/" in name or owner in (".", "..") or name in (".", ".."):
        raise ConfigError(
            f"`repository` must be 'owner/name' (e.g. kestra-io/kestra), got {repository!r}"
        )
    return owner, name


def _messages(response: httpx.Response) -> str:
    """GitHub's error message and the messages of its ``errors`` list, on one line."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:200]
    parts = [str(data.get("message") or response.reason_phrase)]
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            text = error.get("message") or " ".join(
                str(error[key]) for key in ("resource", "field", "code") if key in error
            )
            parts.append(str(text))
    return "; ".join(parts)


def _pull(data: Any, *, existing: bool = False) -> PullRequest:
    if not isinstance(data, dict) or not isinstance(data.get("number"), int):
        raise GitError("GitHub answered without a pull request number")
    return PullRequest(
        number=data["number"],
        url=str(data.get("html_url") or data.get("url") or ""),
        issue_url=str(data.get("issue_url") or ""),
        state=str(data.get("state") or "open"),
        draft=bool(data.get("draft", False)),
        existing=existing,
    )
