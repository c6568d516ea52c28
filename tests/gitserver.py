"""A real smart-HTTP Git server for tests: ``git http-backend`` behind a threaded HTTP server.

Every request is handed to ``git http-backend`` as a CGI subprocess, so clients (pygit2 and the
``git`` CLI) talk the real protocol to real bare repositories under ``root``. The server:

- listens on 127.0.0.1 only, on a free port, in a background thread;
- checks HTTP Basic auth against one username/password (``401`` with
  ``WWW-Authenticate: Basic realm="git"`` otherwise) and then sets ``REMOTE_USER``, which is what
  makes ``http-backend`` accept pushes (receive-pack);
- de-chunks ``Transfer-Encoding: chunked`` request bodies (libgit2 sends push bodies chunked) and
  inflates ``Content-Encoding: gzip`` bodies (the git CLI gzips large upload-pack requests);
- records every request in :attr:`GitHttpServer.requests` so tests can count round trips;
- sets ``TCP_NODELAY`` on accepted connections (``nodelay=True``, the default), as production
  servers do: without it every answer (headers, then body: two writes) waits ~40 ms for the
  client's delayed ACK. ``nodelay=False`` serves with Nagle's algorithm on.

Usage::

    server = GitHttpServer(tmp_path, username="git_user", password="s3cr3t-token")
    url = server.url_for("flows.git")   # http://127.0.0.1:<port>/flows.git
    ...
    server.requests.count(repo="flows.git", service="git-upload-pack")
    server.close()

``install_hook(repo_path, "pre-receive", script)`` installs a server-side hook (for push
rejection tests). :class:`BareRemote` creates a bare repository the server serves and commits to
it through pygit2 (no work tree), for tests that need a remote with known content.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pygit2
from pygit2.enums import FileMode

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "BareRemote",
    "GitHttpServer",
    "RecordedRequest",
    "RedirectServer",
    "RequestLog",
    "install_hook",
]

DEFAULT_USERNAME = "git_user"
DEFAULT_PASSWORD = "s3cr3t-token"

_BACKEND_TIMEOUT_S = 120
# Request headers that are not passed on to the CGI as HTTP_* variables.
_HOP_HEADERS = {"authorization", "content-length", "content-type", "transfer-encoding"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered."""

    method: str
    repo: str
    endpoint: str  # "info/refs", "git-upload-pack", "git-receive-pack", "HEAD", ...
    service: str | None  # the git service asked for (from ?service= or the endpoint)
    status: int
    authenticated: bool
    body_bytes: int  # size of the (de-chunked, inflated) request body
    chunked: bool = False  # the body came with Transfer-Encoding: chunked
    gzipped: bool = False  # the body came with Content-Encoding: gzip
    nodelay: bool = False  # the connection that carried it had TCP_NODELAY set (server side)
    authorization: str = ""  # the Authorization header as received ("" when none)


class RequestLog:
    """Thread-safe record of the requests a :class:`GitHttpServer` answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def count(
        self,
        *,
        repo: str | None = None,
        service: str | None = None,
        endpoint: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many recorded requests match every filter given."""
        return len(
            self.matching(
                repo=repo, service=service, endpoint=endpoint, method=method, status=status
            )
        )

    def matching(
        self,
        *,
        repo: str | None = None,
        service: str | None = None,
        endpoint: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.all()
            if (repo is None or r.repo == repo)
            and (service is None or r.service == service)
            and (endpoint is None or r.endpoint == endpoint)
            and (method is None or r.method == method)
            and (status is None or r.status == status)
        ]

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.all())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Set by GitHttpServer before serving.
    project_root: Path
    username: str | None
    password: str | None
    log: RequestLog
    backend_env: dict[str, str]
    errors: list[str]
    nodelay: bool

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (e.g. a TLS hello sent to this plain-HTTP port) are normal; any
        other exception is kept in ``errors`` for tests to inspect, and printed."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        self.errors.append("".join(traceback.format_exc()))
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        if self.server.nodelay:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the request log is the record."""

    # -- request handling ---------------------------------------------------------------------

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path_info = parts.path
        repo, endpoint = _split_repo_path(path_info)
        service = _service_of(endpoint, parts.query)
        body = self._read_body()
        user = self._authenticated_user()

        if user is None:
            self._record(repo, endpoint, service, 401, False, body)
            payload = b"Authentication required\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return

        status, headers, out = self._run_backend(path_info, parts.query, body, user)
        self._record(repo, endpoint, service, status, True, body)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in {"status", "content-length", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _record(
        self,
        repo: str,
        endpoint: str,
        service: str | None,
        status: int,
        authenticated: bool,
        body: bytes,
    ) -> None:
        self.server.log.add(
            RecordedRequest(
                self.command,
                repo,
                endpoint,
                service,
                status,
                authenticated,
                len(body),
                chunked="chunked" in self.headers.get("Transfer-Encoding", "").lower(),
                gzipped=self.headers.get("Content-Encoding", "").lower() in {"gzip", "x-gzip"},
                nodelay=bool(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)),
                authorization=self.headers.get("Authorization", ""),
            )
        )

    def _authenticated_user(self) -> str | None:
        expected_user, expected_password = self.server.username, self.server.password
        if expected_user is None:
            return "anonymous"
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        ok_user = hmac.compare_digest(user.encode(), expected_user.encode())
        ok_password = hmac.compare_digest(password.encode(), (expected_password or "").encode())
        return user if ok_user and ok_password else None

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() in {"gzip", "x-gzip"}:
            body = gzip.decompress(body)
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline()
            if not size_line:
                raise ConnectionError("client closed the connection inside a chunked body")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Trailers (usually none) end with an empty line.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _run_backend(
        self, path_info: str, query: str, body: bytes, user: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        env = dict(self.server.backend_env)
        env.update(
            {
                "GIT_PROJECT_ROOT": str(self.server.project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path_info,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "SERVER_PROTOCOL": "HTTP/1.1",
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
        )
        for name, value in self.headers.items():
            if name.lower() in _HOP_HEADERS or name.lower() == "content-encoding":
                continue
            env["HTTP_" + name.upper().replace("-", "_")] = value
        completed = subprocess.run(
            ["git", "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            timeout=_BACKEND_TIMEOUT_S,
            check=False,
        )
        if completed.returncode != 0 and not completed.stdout:
            message = completed.stderr or b"git http-backend failed\n"
            return 500, [("Content-Type", "text/plain")], message
        return _parse_cgi_output(completed.stdout)


def _split_repo_path(path_info: str) -> tuple[str, str]:
    """``/flows.git/info/refs`` -> (``flows.git``, ``info/refs``)."""
    path = path_info.lstrip("/")
    for marker in ("/info/", "/objects/", "/git-upload-pack", "/git-receive-pack", "/HEAD"):
        index = path.find(marker)
        if index >= 0:
            return path[:index], path[index + 1 :]
    return path, ""


def _service_of(endpoint: str, query: str) -> str | None:
    if endpoint in {"git-upload-pack", "git-receive-pack"}:
        return endpoint
    services = parse_qs(query).get("service")
    return services[0] if services else None


def _parse_cgi_output(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split a CGI response into (status, headers, body); ``Status:`` sets the status."""
    crlf, lf = output.find(b"\r\n\r\n"), output.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        head, body = output[:crlf], output[crlf + 4 :]
    elif lf >= 0:
        head, body = output[:lf], output[lf + 2 :]
    else:
        head, body = output, b""
    status = 200
    headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        headers.append((name, value))
    return status, headers, body


class GitHttpServer:
    """Smart-HTTP Git server over the bare repositories in ``root`` (loopback only).

    ``username=None`` turns authentication off (anyone may fetch and push). With
    ``ssl_context`` (a server-side context holding a certificate for 127.0.0.1) it serves HTTPS.
    ``nodelay=False`` leaves Nagle's algorithm on for accepted connections (the benchmarks'
    ``--server-nodelay`` off); by default they get ``TCP_NODELAY``, as production servers answer.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str | None = DEFAULT_USERNAME,
        password: str | None = DEFAULT_PASSWORD,
        ssl_context: ssl.SSLContext | None = None,
        nodelay: bool = True,
    ) -> None:
        if shutil.which("git") is None:
            raise RuntimeError("the git CLI (with git-http-backend) is needed for the test server")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        self.nodelay = nodelay
        self.requests = RequestLog()
        home = self.root.parent / f".{self.root.name}-backend-home"
        home.mkdir(exist_ok=True)
        backend_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.scheme = "https" if ssl_context is not None else "http"
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._server.project_root = self.root
        self._server.username = username
        self._server.password = password
        self._server.log = self.requests
        self._server.backend_env = backend_env
        self._server.errors = []
        self._server.nodelay = nodelay
        self.errors = self._server.errors  # tracebacks of requests the server failed to handle
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"git-http-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url_for(self, repo_name: str) -> str:
        """The HTTP URL of ``root/<repo_name>`` (no credentials in it)."""
        return f"{self.base_url}/{repo_name}"

    def authenticated_url_for(self, repo_name: str) -> str:
        """The URL with ``user:password@`` in it, for the git CLI in tests."""
        if self.username is None:
            return self.url_for(repo_name)
        userinfo = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}"
        return f"{self.scheme}://{userinfo}@127.0.0.1:{self.port}/{repo_name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GitHttpServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def install_hook(repo_path: Path, name: str, script: str) -> Path:
    """Install an executable server-side hook (e.g. ``pre-receive``) in a bare repository.

    ``script`` is the whole file, shebang included, e.g.
    ``"#!/bin/sh\\necho 'rejected by policy' >&2\\nexit 1\\n"``.
    """
    hooks = Path(repo_path) / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / name
    hook.write_text(script)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return hook


class BareRemote:
    """A bare repository served by a :class:`GitHttpServer`, written to through pygit2.

    Commits have a fixed author and committer (``Kestra Test <test@kestra.io>``) and
    deterministic, increasing timestamps.
    """

    AUTHOR_NAME = "Kestra Test"
    AUTHOR_EMAIL = "test@kestra.io"
    _EPOCH = 1_700_000_000

    def __init__(self, server: GitHttpServer, name: str, *, branch: str = "main") -> None:
        if not name.endswith(".git"):
            name += ".git"
        self.server = server
        self.name = name
        self.path = server.root / name
        self.url = server.url_for(name)
        self.authenticated_url = server.authenticated_url_for(name)
        self.default_branch = branch
        self._commits = 0
        pygit2.init_repository(str(self.path), bare=True, initial_head=branch)

    @property
    def repo(self) -> pygit2.Repository:
        """A fresh handle on the repository (sees pushes made since)."""
        return pygit2.Repository(str(self.path))

    def commit(
        self,
        files: Mapping[str, bytes | str] | None = None,
        message: str = "Update files",
        *,
        delete: list[str] | tuple[str, ...] = (),
        branch: str | None = None,
    ) -> str:
        """Commit ``files`` (path -> content) and remove ``delete`` (files or folders) on
        ``branch``; returns the new commit sha. The branch is created when missing."""
        repo = self.repo
        ref_name = f"refs/heads/{branch or self.default_branch}"
        ref = repo.references.get(ref_name)
        parents: list[pygit2.Oid] = []
        index = pygit2.Index()
        if ref is not None:
            parent = repo[ref.target]
            assert isinstance(parent, pygit2.Commit)
            index.read_tree(parent.tree)
            parents.append(parent.id)
        for path in delete:
            if any(entry.path == path for entry in index):
                index.remove(path)
            else:
                index.remove_directory(path)
        for path, content in (files or {}).items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), FileMode.BLOB))
        tree = index.write_tree(repo)
        self._commits += 1
        when = self._EPOCH + 60 * self._commits
        signature = pygit2.Signature(self.AUTHOR_NAME, self.AUTHOR_EMAIL, when, 0)
        oid = repo.create_commit(ref_name, signature, signature, message, tree, parents)
        return str(oid)

    def head(self, branch: str | None = None) -> str | None:
        """The commit sha ``branch`` points to, None when it does not exist."""
        ref = self.repo.references.get(f"refs/heads/{branch or self.default_branch}")
        return None if ref is None else str(ref.target)

    def head_commit(self, branch: str | None = None) -> pygit2.Commit:
        """The commit ``branch`` (default: the remote's branch) points to."""
        commit = self.repo.revparse_single(f"refs/heads/{branch or self.default_branch}")
        assert isinstance(commit, pygit2.Commit)
        return commit

    def files(self, branch: str | None = None) -> dict[str, bytes]:
        """Every file of ``branch``'s tip, ``{path: content}`` (empty for a missing branch)."""
        repo = self.repo
        sha = self.head(branch)
        if sha is None:
            return {}
        commit = repo[sha]
        assert isinstance(commit, pygit2.Commit)
        out: dict[str, bytes] = {}

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for entry in tree:
                if isinstance(entry, pygit2.Tree):
                    walk(entry, f"{prefix}{entry.name}/")
                elif isinstance(entry, pygit2.Blob):
                    out[f"{prefix}{entry.name}"] = entry.data

        walk(commit.tree, "")
        return out


class _RedirectHandler(BaseHTTPRequestHandler):
    server: _RedirectHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: :attr:`RedirectServer.authorizations` is the record."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        authorization = self.headers.get("Authorization", "")
        self.server.authorizations.append(authorization)
        challenge = self.server.challenge_first and not authorization
        self.send_response(401 if challenge else self.server.status)
        if challenge:
            self.send_header("WWW-Authenticate", 'Basic realm="redirector"')
        else:
            self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _RedirectHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    target: str
    status: int
    challenge_first: bool
    authorizations: list[str]


class RedirectServer:
    """An HTTP server on 127.0.0.1 that redirects every request to ``target`` + its path.

    ``challenge_first=True`` first answers a request without ``Authorization`` with a Basic
    challenge (so a client sends its credentials here, then gets redirected). Every request's
    ``Authorization`` header ("" when none) is kept in :attr:`authorizations`.
    """

    def __init__(self, target: str, *, status: int = 302, challenge_first: bool = False) -> None:
        self._server = _RedirectHTTPServer(("127.0.0.1", 0), _RedirectHandler)
        self._server.target = target.rstrip("/")
        self._server.status = status
        self._server.challenge_first = challenge_first
        self._server.authorizations = []
        self.authorizations = self._server.authorizations
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"redirect-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def url_for(self, repo_name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo_name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RedirectServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
