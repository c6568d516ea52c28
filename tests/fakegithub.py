"""A stateful fake of GitHub's pull-request API on pytest-httpserver.

Serves ``POST /repos/{owner}/{repo}/pulls`` and ``GET /repos/{owner}/{repo}/pulls`` as GitHub
does for the cases the tests need: 401 ``Bad credentials`` without the right bearer token, 404
for an unknown repository, 422 ``Validation Failed`` for a missing field, an unknown branch, no
commits between the branches, or an open pull request that already exists for the same head and
base; 201 with ``number``, ``html_url``, ``issue_url``, ``state`` and ``draft`` otherwise.

A repository's branches come from a callable (``branch -> exists``), so a test can back it with
a real repository of the git server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")


@dataclass
class FakeRepo:
    """One repository: which branches exist, and its pull requests."""

    has_branch: Callable[[str], bool]
    pulls: list[dict[str, Any]] = field(default_factory=list)


class FakeGitHub:
    """GitHub's pull-request endpoints, with state; ``token`` is the only accepted one."""

    def __init__(self, token: str = "ghp_fake-token-1") -> None:
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.url = ""
        self._numbers = 0
        self._lock = threading.Lock()

    def install(self, httpserver: HTTPServer) -> FakeGitHub:
        httpserver.expect_request(re.compile(r"^/repos/")).respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")
        return self

    def add_repo(self, name: str, has_branch: Callable[[str], bool]) -> FakeRepo:
        self.repos[name] = repo = FakeRepo(has_branch)
        return repo

    # -- the API --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.full_path, dict(request.headers)))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _json(401, {"message": "Bad credentials"})
            match = _PULLS.match(request.path)
            repo = self.repos.get(f"{match.group(1)}/{match.group(2)}") if match else None
            if match is None or repo is None:
                return _json(404, {"message": "Not Found"})
            owner, name = match.group(1), match.group(2)
            if request.method == "GET":
                return self._list(repo, owner, request.args)
            if request.method == "POST":
                return self._create(repo, owner, name, request.get_json(silent=True) or {})
            return _json(405, {"message": "Method Not Allowed"})

    def _list(self, repo: FakeRepo, owner: str, args: Any) -> Response:
        chosen = [
            pull
            for pull in repo.pulls
            if pull["state"] == args.get("state", "open")
            and (not args.get("head") or f"{owner}:{pull['head']}" == args["head"])
            and (not args.get("base") or pull["base"] == args["base"])
        ]
        return _json(200, chosen)

    def _create(self, repo: FakeRepo, owner: str, name: str, body: dict[str, Any]) -> Response:
        for key in ("head", "base", "title"):
            if not body.get(key):
                return _invalid({"resource": "PullRequest", "field": key, "code": "missing_field"})
        head = str(body["head"]).removeprefix(f"{owner}:")
        base = str(body["base"])
        for key, branch in (("head", head), ("base", base)):
            if not repo.has_branch(branch):
                return _invalid({"resource": "PullRequest", "field": key, "code": "invalid"})
        if head == base:
            return _invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            )
        if any(
            p["head"] == head and p["base"] == base and p["state"] == "open" for p in repo.pulls
        ):
            return _invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {owner}:{head}.",
                }
            )
        self._numbers += 1
        number = self._numbers
        pull = {
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body"),
            "draft": bool(body.get("draft", False)),
            "head": head,
            "base": base,
            "html_url": f"https://github.example/{owner}/{name}/pull/{number}",
            "issue_url": f"{self.url}/repos/{owner}/{name}/issues/{number}",
        }
        repo.pulls.append(pull)
        return _json(201, pull)


def _invalid(error: dict[str, Any]) -> Response:
    body = {"message": "Validation Failed", "errors": [error]}
    return _json(422, body)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
