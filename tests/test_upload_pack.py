"""A branch that moved is fetched with one upload-pack POST (git/upload_pack.py, git/packfile.py).

On the real smart-HTTP server of tests/gitserver.py (``git http-backend``): a one-change fetch is
two requests and leaves the cache as libgit2's fetch leaves it (refs, shallow file, objects),
which libgit2 and git keep reading and fetching into. A relay in front of that server (a real
HTTP server, forwarding every request) rewrites answers to play a server that declines (libgit2
then fetches) or a hostile one (refused, nothing kept).
"""

from __future__ import annotations

import http.client
import subprocess
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import TYPE_CHECKING

import pygit2
import pytest
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME, BareRemote, GitHttpServer
from packs import delta, entry, flip_last, object_id, pack_of, pkt
from pygit2.enums import FileMode

from kestra_git_tasks.errors import GitError
from kestra_git_tasks.git import Credentials, RepoCache, TransportOptions
from kestra_git_tasks.git.cache import CACHE_REF_PREFIX
from kestra_git_tasks.git.packfile import PackRefusedError
from kestra_git_tasks.git.smart_http import proxy_may_apply

if TYPE_CHECKING:
    from conftest import MakeRemote

CREDS = Credentials(DEFAULT_USERNAME, DEFAULT_PASSWORD)
FILES = {"_flows/a.yml": "id: a\n", "_flows/team/b.yml": "id: b\n", "README.md": "hello\n"}
Tamper = Callable[[bytes], bytes]


# -- a relay in front of the real server ----------------------------------------------------------
class Relay:
    """Forwards every request to ``upstream``; ``tamper[endpoint]`` rewrites the next answer
    of that endpoint (``info/refs`` or ``git-upload-pack``), once. ``requests`` lists
    ``(method, endpoint)``."""

    def __init__(self, upstream: GitHttpServer) -> None:
        self.tamper: dict[str, Tamper] = {}
        self.requests: list[tuple[str, str]] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint = self.path.split("?")[0].rsplit("/", 2)
                name = "info/refs" if endpoint[-1] == "refs" else endpoint[-1]
                relay.requests.append((self.command, name))
                connection = http.client.HTTPConnection("127.0.0.1", upstream.port)
                skip = {"host", "content-length", "connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                change = relay.tamper.pop(name, None)
                if change is not None:
                    data = change(data)
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url_for(self, remote: BareRemote) -> str:
        return f"http://127.0.0.1:{self.port}/{remote.name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def relay(git_server: GitHttpServer) -> Iterator[Relay]:
    server = Relay(git_server)
    yield server
    server.close()


def libgit2_only(tmp_path: Path) -> TransportOptions:
    """Options under which the fast path steps aside (``trustedCaPemPath`` set; a plain-HTTP
    server never shows a certificate), so libgit2 does the whole fetch."""
    pem = tmp_path / "any-ca.pem"
    pem.write_text("not used over plain HTTP\n")
    return TransportOptions(trusted_ca_pem_path=str(pem))


def state(cache: RepoCache, url: str) -> dict[str, object]:
    """What a fetch leaves in a cache: refs, shallow roots, FETCH_HEAD's line without its URL,
    and every object reachable from the cached branch."""
    path = cache.path_for(url)
    repo = pygit2.Repository(str(path))
    head = repo.references[f"{CACHE_REF_PREFIX}main"].target
    reachable: set[str] = set()

    def walk(tree: pygit2.Tree) -> None:
        reachable.add(str(tree.id))
        for item in tree:
            reachable.add(str(item.id))
            if isinstance(item, pygit2.Tree):
                walk(item)

    commit = repo[head]
    assert isinstance(commit, pygit2.Commit)
    reachable.add(str(commit.id))
    walk(commit.tree)
    fetch_head = (path / "FETCH_HEAD").read_text().split(" of ")[0]
    return {
        "refs": {name: str(repo.references[name].target) for name in repo.references},
        "shallow": sorted((path / "shallow").read_text().split()),
        "fetch_head": fetch_head,
        "objects": reachable,
    }


def packs_of(cache: RepoCache, url: str) -> set[Path]:
    return set((cache.path_for(url) / "objects" / "pack").glob("*.idx"))


def objects_in(indexes: set[Path]) -> int:
    """Objects the ``.idx`` files list (the last fan-out entry of each)."""
    return sum(int.from_bytes(p.read_bytes()[8 + 255 * 4 : 8 + 256 * 4], "big") for p in indexes)


def files_of(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


# -- on the real server ---------------------------------------------------------------------------
def test_a_one_change_fetch_is_two_requests_and_leaves_what_libgit2_leaves(
    remote: MakeRemote, git_server: GitHttpServer, tmp_path: Path
) -> None:
    repo = remote(files={**FILES, **{f"_flows/many/f{n}.yml": f"id: f{n}\n" for n in range(60)}})
    ours, theirs = RepoCache(tmp_path / "ours"), RepoCache(tmp_path / "theirs")
    libgit2 = libgit2_only(tmp_path)
    ours.fetch_branch(repo.url, "main", CREDS)
    theirs.fetch_branch(repo.url, "main", CREDS, libgit2)
    packs_before = {cache: packs_of(cache, repo.url) for cache in (ours, theirs)}
    new = repo.commit({"_flows/team/b.yml": "id: b\nchanged: 1\n"}, "change")
    git_server.requests.reset()
    assert ours.fetch_branch(repo.url, "main", CREDS) == new
    made = [(r.method, r.endpoint, r.status) for r in git_server.requests.matching(repo=repo.name)]
    assert made == [("GET", "info/refs", 200), ("POST", "git-upload-pack", 200)]
    git_server.requests.reset()
    assert theirs.fetch_branch(repo.url, "main", CREDS, libgit2) == new
    assert git_server.requests.count(repo=repo.name, method="POST") == 2  # libgit2's fetch
    assert state(ours, repo.url) == state(theirs, repo.url)
    # a thin pack over what the cache holds, not the 65 files of the new tree
    ours_new = objects_in(packs_of(ours, repo.url) - packs_before[ours])
    assert ours_new == objects_in(packs_of(theirs, repo.url) - packs_before[theirs])
    assert ours_new < 10
    assert ours.list_tree(repo.url, new, "_flows") == theirs.list_tree(repo.url, new, "_flows")


def test_the_stored_pack_is_what_git_would_index_and_git_finds_the_cache_sound(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files=FILES)
    cache = RepoCache(tmp_path / "cache")
    cache.fetch_branch(repo.url, "main", CREDS)
    packs = cache.path_for(repo.url) / "objects" / "pack"
    before = set(packs.glob("*.idx"))
    repo.commit({"_flows/a.yml": "id: a\nx: 1\n", "_flows/c.yml": "id: c\n"}, "two files")
    cache.fetch_branch(repo.url, "main", CREDS)
    (index,) = set(packs.glob("*.idx")) - before
    ours = index.read_bytes()
    copy = tmp_path / "copy.pack"
    copy.write_bytes(index.with_suffix(".pack").read_bytes())
    subprocess.run(["git", "index-pack", str(copy)], check=True, capture_output=True)
    assert copy.with_suffix(".idx").read_bytes() == ours
    assert not [p for p in packs.iterdir() if p.name.startswith("tmp_")]
    git_dir = str(cache.path_for(repo.url))
    subprocess.run(
        ["git", "--git-dir", git_dir, "fsck", "--strict"], check=True, capture_output=True
    )


def test_a_later_libgit2_fetch_works_on_what_this_path_left(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files=FILES)
    cache = RepoCache(tmp_path / "cache")
    cache.fetch_branch(repo.url, "main", CREDS)
    repo.commit({"_flows/a.yml": "id: a\nv: 2\n"}, "ours")
    cache.fetch_branch(repo.url, "main", CREDS)
    third = repo.commit({"_flows/a.yml": "id: a\nv: 3\n"}, "libgit2's")
    assert cache.fetch_branch(repo.url, "main", CREDS, libgit2_only(tmp_path)) == third
    blobs = cache.list_tree(repo.url, third, "_flows")
    assert blobs is not None
    assert cache.read_blob(repo.url, blobs["a.yml"]) == b"id: a\nv: 3\n"


def test_several_commits_between_runs_come_in_one_request(
    remote: MakeRemote, git_server: GitHttpServer, tmp_path: Path
) -> None:
    repo = remote(files=FILES)
    cache = RepoCache(tmp_path / "cache")
    cache.fetch_branch(repo.url, "main", CREDS)
    for number in range(5):
        head = repo.commit({f"_flows/n{number}.yml": f"id: n{number}\n"}, f"commit {number}")
    git_server.requests.reset()
    assert cache.fetch_branch(repo.url, "main", CREDS) == head
    assert git_server.requests.count(repo=repo.name, method="POST") == 1
    listed = cache.list_tree(repo.url, head, "_flows")
    assert listed is not None and {f"n{n}.yml" for n in range(5)} <= set(listed)
    shallow = (cache.path_for(repo.url) / "shallow").read_text().split()
    assert head in shallow


def force_push(repo: BareRemote, files: dict[str, str]) -> str:
    """``main`` moved to a new root commit holding ``files`` (not a descendant of the old)."""
    bare = repo.repo
    index = pygit2.Index()
    for path, text in files.items():
        index.add(pygit2.IndexEntry(path, bare.create_blob(text.encode()), FileMode.BLOB))
    signature = pygit2.Signature("Force", "force@example.com", 1_800_000_000, 0)
    oid = bare.create_commit(None, signature, signature, "rewrite", index.write_tree(bare), [])
    bare.references["refs/heads/main"].set_target(oid)
    return str(oid)


def test_a_force_push_is_fetched_and_going_back_costs_no_post(
    remote: MakeRemote, git_server: GitHttpServer, tmp_path: Path
) -> None:
    repo = remote(files=FILES)
    cache = RepoCache(tmp_path / "cache")
    first = cache.fetch_branch(repo.url, "main", CREDS)
    rewritten = force_push(repo, {"_flows/z.yml": "id: z\n"})
    assert cache.fetch_branch(repo.url, "main", CREDS) == rewritten
    assert cache.list_tree(repo.url, rewritten, "_flows") is not None
    assert set(cache.list_tree(repo.url, rewritten, "_flows") or {}) == {"z.yml"}
    repo.repo.references["refs/heads/main"].set_target(first)  # and back
    git_server.requests.reset()
    assert cache.fetch_branch(repo.url, "main", CREDS) == first
    assert git_server.requests.count(repo=repo.name) == 1  # the commit is in the cache


def test_a_proxy_from_git_config_leaves_the_fetch_to_libgit2() -> None:
    assert proxy_may_apply(TransportOptions(proxy_url="http://127.0.0.1:9"), False)
    assert not proxy_may_apply(TransportOptions(proxy_url="http://x:9", no_proxy=True), False)


# -- a server that declines: libgit2 fetches --------------------------------------------------------
def without_shallow(advertisement: bytes) -> bytes:
    """The advertisement with ``shallow`` taken out of the first ref's capabilities."""
    start = advertisement.index(b"0000") + 4  # the first ref follows the service's flush
    size = int(advertisement[start : start + 4], 16)
    ref, _, capabilities = advertisement[start + 4 : start + size].partition(b"\0")
    kept = b" ".join(c for c in capabilities.split() if c != b"shallow") + b"\n"
    return advertisement[:start] + pkt(ref + b"\0" + kept) + advertisement[start + size :]


def err_line(_: bytes) -> bytes:
    return pkt(b"ERR upload-pack: not our ref 0123\n")


@pytest.mark.parametrize(
    ("endpoint", "change"),
    [("info/refs", without_shallow), ("git-upload-pack", err_line)],
    ids=["no-shallow-capability", "err-line"],
)
def test_a_server_that_declines_is_left_to_libgit2(
    remote: MakeRemote, relay: Relay, tmp_path: Path, endpoint: str, change: Tamper
) -> None:
    repo = remote(files=FILES)
    cache, url = RepoCache(tmp_path / "cache"), relay.url_for(repo)
    cache.fetch_branch(url, "main", CREDS)
    new = repo.commit({"_flows/a.yml": "id: a\nnew: 1\n"}, "change")
    relay.requests.clear()
    relay.tamper[endpoint] = change
    assert cache.fetch_branch(url, "main", CREDS) == new
    assert relay.requests[0] == ("GET", "info/refs")
    assert relay.requests.count(("GET", "info/refs")) == 2  # libgit2 asked again
    listed = cache.list_tree(url, new, "_flows")
    assert listed is not None
    assert cache.read_blob(url, listed["a.yml"]) == b"id: a\nnew: 1\n"


# -- crafted answers: refused, nothing kept --------------------------------------------------------
def answer(
    pack: bytes, *, shallow: list[str], ack: str, bands: bytes = b"", unshallow: str = ""
) -> bytes:
    out = b"".join(pkt(f"shallow {oid}".encode()) for oid in shallow)
    out += pkt(f"unshallow {unshallow}".encode()) if unshallow else b""
    out += b"0000"
    out += pkt(ack.encode() + b"\n")
    for at in range(0, len(pack), 60000):
        out += pkt(b"\x01" + pack[at : at + 60000])
    return out + bands + b"0000"


class Crafted:
    """A new commit ``want`` over the cached one ``have``, holding one file ``new.yml`` with
    ``blob``; the test packs its objects as it likes. ``have_blob`` is a blob the cache holds
    (README.md) and ``have_blob_data`` its content."""

    def __init__(self, cache_repo: pygit2.Repository, have: str, blob: bytes) -> None:
        self.have: str = have
        old = cache_repo[have]
        assert isinstance(old, pygit2.Commit)
        self.have_blob: pygit2.Oid = next(e for e in old.tree if e.name == "README.md").id
        self.have_blob_data: bytes = cache_repo[self.have_blob].data
        self.blob: bytes = blob
        self.tree: bytes = b"100644 new.yml\0" + pygit2.hash(blob).raw
        self.commit: bytes = (
            f"tree {object_id('tree', self.tree)}\nparent {have}\n"
            "author A <a@b> 1800000000 +0000\ncommitter A <a@b> 1800000000 +0000\n\ncrafted\n"
        ).encode()
        self.want: str = object_id("commit", self.commit)

    def objects(self) -> list[bytes]:
        return [entry(1, self.commit), entry(2, self.tree), entry(3, self.blob)]

    def publish(self, repo: BareRemote) -> None:
        """The server's ``main`` names the crafted commit (its objects stored there)."""
        bare = repo.repo
        for kind, data in ((3, self.blob), (2, self.tree), (1, self.commit)):
            bare.odb.write(kind, data)
        bare.references["refs/heads/main"].set_target(self.want)


HOSTILE: dict[str, Callable[[Crafted], bytes]] = {
    "bad-checksum": lambda c: answer(
        flip_last(pack_of(*c.objects())), shallow=[c.want], ack=f"ACK {c.have}"
    ),
    "count-too-high": lambda c: answer(
        pack_of(*c.objects(), count=4), shallow=[c.want], ack=f"ACK {c.have}"
    ),
    "unknown-type": lambda c: answer(
        pack_of(*c.objects(), entry(5, b"x")), shallow=[c.want], ack=f"ACK {c.have}"
    ),
    "decompression-bomb": lambda c: answer(
        pack_of(*c.objects(), entry(3, b"\0" * 5_000_000, declared=10)),
        shallow=[c.want],
        ack=f"ACK {c.have}",
    ),
    "delta-building-more-than-declared": lambda c: answer(
        pack_of(
            *c.objects(),
            entry(7, delta(c.have_blob_data, b"ab", b"\x05hello"), base=c.have_blob.raw),
        ),
        shallow=[c.want],
        ack=f"ACK {c.have}",
    ),
    "delta-copying-outside-its-base": lambda c: answer(
        pack_of(
            *c.objects(),
            entry(7, delta(c.have_blob_data, b"x" * 16, b"\x91\xf0\x10"), base=c.have_blob.raw),
        ),
        shallow=[c.want],
        ack=f"ACK {c.have}",
    ),
    "ref-delta-to-an-unknown-base": lambda c: answer(
        pack_of(*c.objects(), entry(7, delta(b"abc", b"abc", b"\x03abc"), base=b"\x42" * 20)),
        shallow=[c.want],
        ack=f"ACK {c.have}",
    ),
    "shallow-line-for-another-commit": lambda c: answer(
        pack_of(*c.objects()), shallow=[c.want, str(c.have_blob)], ack=f"ACK {c.have}"
    ),
    "unshallow-line": lambda c: answer(
        pack_of(*c.objects()), shallow=[c.want], ack=f"ACK {c.have}", unshallow=c.have
    ),
    "ack-of-what-was-not-offered": lambda c: answer(
        pack_of(*c.objects()), shallow=[c.want], ack=f"ACK {c.have_blob!s}"
    ),
    "wanted-commit-missing": lambda c: answer(
        pack_of(entry(2, c.tree), entry(3, c.blob)), shallow=[c.want], ack=f"ACK {c.have}"
    ),
    "tree-of-the-commit-missing": lambda c: answer(
        pack_of(entry(1, c.commit), entry(3, c.blob)), shallow=[c.want], ack=f"ACK {c.have}"
    ),
    "garbage-after-the-end": lambda c: (
        answer(pack_of(*c.objects()), shallow=[c.want], ack=f"ACK {c.have}") + b"0005x"
    ),
    "not-pkt-lines": lambda c: b"HTTP/1.1 200 OK\r\n\r\nPACK",
}


REASONS = {
    "ack-of-what-was-not-offered": "which was not offered",
    "bad-checksum": "trailing checksum does not match",
    "count-too-high": "fewer objects than the 4 it declares",
    "decompression-bomb": "inflates to more than the 10 bytes it declares",
    "delta-building-more-than-declared": "builds more than the size it declares",
    "delta-copying-outside-its-base": "copies from outside its base",
    "garbage-after-the-end": "goes on after its end",
    "not-pkt-lines": "not made of pkt-lines",
    "ref-delta-to-an-unknown-base": "neither in the pack nor in the cache",
    "shallow-line-for-another-commit": "not what was asked",
    "tree-of-the-commit-missing": "holds the tree of",
    "unknown-type": "unknown type 5",
    "unshallow-line": "made a commit deeper",
    "wanted-commit-missing": "does not hold the commit",
}


def crafted_setup(
    remote: MakeRemote, relay: Relay, tmp_path: Path, blob: Callable[[bytes], bytes] | None = None
) -> tuple[RepoCache, str, Crafted]:
    """A cache fetched through the relay, and a crafted commit published on the server;
    ``blob(README's content)`` is the new file's content."""
    repo = remote(files=FILES)
    cache, url = RepoCache(tmp_path / "cache"), relay.url_for(repo)
    have = cache.fetch_branch(url, "main", CREDS)
    readme = FILES["README.md"].encode()
    crafted = Crafted(cache.repository(url), have, blob(readme) if blob else b"new flow\n")
    crafted.publish(repo)
    return cache, url, crafted


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_answer_is_refused_and_nothing_is_kept(
    remote: MakeRemote, relay: Relay, tmp_path: Path, case: str
) -> None:
    cache, url, crafted = crafted_setup(remote, relay, tmp_path)
    path = cache.path_for(url)
    before = files_of(path)
    shallow = (path / "shallow").read_text()
    relay.tamper["git-upload-pack"] = lambda _: HOSTILE[case](crafted)
    with pytest.raises(PackRefusedError) as caught:
        cache.fetch_branch(url, "main", CREDS)
    message = str(caught.value)
    assert url in message and "was refused" in message and REASONS[case] in message
    assert DEFAULT_PASSWORD not in message
    assert files_of(path) == before
    assert (path / "shallow").read_text() == shallow
    assert str(cache.repository(url).references[f"{CACHE_REF_PREFIX}main"].target) == crafted.have


def test_a_well_formed_crafted_answer_with_a_delta_on_a_cached_blob_is_stored(
    remote: MakeRemote, relay: Relay, tmp_path: Path
) -> None:
    cache, url, crafted = crafted_setup(remote, relay, tmp_path, lambda base: base + b"more\n")
    base = crafted.have_blob_data
    ops = bytes([0x90, len(base), 5]) + b"more\n"  # copy all of the base, then insert
    thin = pack_of(
        entry(1, crafted.commit),
        entry(2, crafted.tree),
        entry(7, delta(base, crafted.blob, ops), base=crafted.have_blob.raw),
    )
    relay.tamper["git-upload-pack"] = lambda _: answer(
        thin, shallow=[crafted.want], ack=f"ACK {crafted.have}"
    )
    assert cache.fetch_branch(url, "main", CREDS) == crafted.want
    listed = cache.list_tree(url, crafted.want, "")
    assert listed is not None
    assert cache.read_blob(url, listed["new.yml"]) == b"hello\nmore\n"
    assert crafted.want in (cache.path_for(url) / "shallow").read_text().split()


def test_a_server_error_on_side_band_3_names_the_url_and_what_the_server_said(
    remote: MakeRemote, relay: Relay, tmp_path: Path
) -> None:
    cache, url, crafted = crafted_setup(remote, relay, tmp_path)
    password_url = url.replace("http://", f"http://{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}@")
    error = pkt(b"\x03upload-pack: disk quota exceeded\n")
    relay.tamper["git-upload-pack"] = lambda _: answer(
        pack_of(*crafted.objects())[:20], shallow=[crafted.want], ack="NAK", bands=error
    )
    with pytest.raises(GitError) as caught:
        cache.fetch_branch(password_url, "main")
    message = str(caught.value)
    assert "disk quota exceeded" in message and url in message
    assert DEFAULT_PASSWORD not in message and DEFAULT_USERNAME not in message
    assert not isinstance(caught.value, PackRefusedError)
