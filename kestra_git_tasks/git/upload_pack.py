"""A branch that moved, fetched in one request right after :mod:`.smart_http`'s GET.

libgit2 cannot be handed an advertisement it did not fetch, and negotiates a shallow fetch in
two POSTs: a one-change sync cost four requests. :func:`fetch_shallow` makes the one POST
itself, in protocol v0's stateless form (what smart HTTP speaks)::

    want <new> ofs-delta side-band-64k thin-pack no-progress shallow agent=kestra-git-tasks
    shallow <root>            one per line of the cache's ``shallow`` file
    deepen 1
    0000
    have <old>                what the cache holds of the branch
    done

git's ``upload-pack`` reads the wants, shallows and ``deepen`` up to the flush and answers the
shallow update (``shallow <new>``, flush), reads the haves up to ``done``, answers ``ACK <old>``
(or ``NAK``) and sends the pack on side band 1: all in one round trip. Protocol v2 is not
used: its ``info/refs`` carries capabilities, not refs, so a v2 fetch costs a GET, an ``ls-refs``
POST and a ``fetch`` POST. ``thin-pack`` is asked for: git's ``pack-objects`` leaves out the
tree of a ``have`` whose commit is not a parent of a wanted one (ours: the wanted commit is
shallow) only for a thin pack (``--objects-edge-aggressive``); without it a one-file change
brought every file of the branch (107 objects for a 100-file repository, libgit2 6). Its deltas
may lean on objects of the cache: :mod:`.packfile` reads them there and appends them to the
stored pack, as libgit2's indexer and ``index-pack --fix-thin`` do.

The answer is judged by :mod:`.packfile` (every check there), and here: the shallow update may
name the wanted commit only (no ``unshallow``: a depth of 1 deepens nothing), the
acknowledgement names our ``have`` or none, side band 3 is the server's error
(:class:`~kestra_git_tasks.errors.GitError` naming the URL without credentials and quoting
the server), and the wanted commit and its tree must be in the pack or the cache. A refusal
raises before anything is written; then the pack and its index go into ``objects/pack``, the
``shallow`` file gets the server's line (old roots kept, as libgit2 leaves it), and
``FETCH_HEAD`` says what was fetched. The caller moves the ref.

False (libgit2 then fetches, with its own rules and messages) when this path does not apply or
the server declines without being hostile: no ``shallow`` or ``side-band-64k`` capability, a
SHA-256 id, anything but ``200`` with an upload-pack result (see :mod:`.smart_http`), an
``ERR`` line (the branch moved again: ``not our ref``), a failed connection, a pack over the
memory budget, or a wanted commit the server did not mark shallow.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import pygit2

from kestra_git_tasks.errors import GitError
from kestra_git_tasks.git.packfile import (
    ExternalReader,
    Pack,
    PackRefusedError,
    PackTooLargeError,
    read_pack,
    store_pack,
)
from kestra_git_tasks.git.smart_http import post_upload_pack
from kestra_git_tasks.git.transport import Credentials, TransportOptions
from kestra_git_tasks.git.urls import storage_url
from kestra_git_tasks.progress import ProgressCallback, ProgressEvent

__all__ = ["MEMORY_BUDGET", "fetch_shallow"]

#: Bytes of pack received and of objects inflated that this path holds in memory; a larger
#: fetch is libgit2's (its indexer streams to disk).
MEMORY_BUDGET = 256 * 1024 * 1024
_SHA1 = re.compile(rb"[0-9a-f]{40}")
_CAPABILITIES = ("ofs-delta", "side-band-64k", "thin-pack", "no-progress", "shallow")


class _Declined(Exception):
    """The server declined without being hostile: libgit2 fetches instead."""


class _ServerError(Exception):
    """Side band 3: what the server said went wrong."""


def fetch_shallow(
    repo: pygit2.Repository,
    url: str,
    credentials: Credentials,
    options: TransportOptions,
    *,
    want: str,
    have: str | None,
    capabilities: frozenset[str],
    branch: str,
    progress: ProgressCallback | None = None,
) -> bool:
    """Fetch commit ``want`` one commit deep into ``repo`` (the caller holds the cache's lock);
    see the module docstring. True when stored, False when libgit2 should fetch.

    Raises:
        GitError: the server reported an error, or its answer broke a rule (nothing stored).
    """
    if not {"shallow", "side-band-64k"} <= capabilities or not _SHA1.fullmatch(want.encode()):
        return False
    git_dir = Path(repo.path)
    roots = _shallow_roots(git_dir)
    body = _request(want, have, roots, capabilities)
    answer = post_upload_pack(url, credentials, options, body, MEMORY_BUDGET)
    if answer is None:
        return False
    shown = storage_url(url)
    try:
        shallow, data = _read_answer(answer, want, have)
        pack = read_pack(data, _external_reader(repo), MEMORY_BUDGET)
        _check_wanted(repo, pack, want, shallow)
    except _Declined:
        return False
    except PackTooLargeError:
        return False
    except _ServerError as exc:
        raise GitError(
            f"The Git server of {shown} reported an error while sending branch '{branch}': "
            f"{exc}. Retry; if it persists, the server's administrator can tell why."
        ) from None
    except PackRefusedError as exc:
        raise PackRefusedError(
            f"The pack that {shown} sent for branch '{branch}' was refused: {exc}. Nothing of it "
            "was kept; if the server is trusted, report it to its administrator."
        ) from None
    if progress is not None:
        progress(ProgressEvent("fetch", len(pack.objects), len(pack.objects), len(data)))
    store_pack(pack, git_dir / "objects")
    _write_atomically(git_dir / "shallow", "".join(f"{r}\n" for r in _merged(roots, shallow)))
    _write_atomically(git_dir / "FETCH_HEAD", f"{want}\t\tbranch '{branch}' of {shown}\n")
    return True


def _request(want: str, have: str | None, roots: list[str], capabilities: frozenset[str]) -> bytes:
    asked = " ".join(c for c in _CAPABILITIES if c in capabilities)
    lines = [f"want {want} {asked} agent=kestra-git-tasks\n"]
    lines += [f"shallow {root}\n" for root in roots]
    lines.append("deepen 1\n")
    out = [_pkt(line) for line in lines] + [b"0000"]
    if have is not None:
        out.append(_pkt(f"have {have}\n"))
    out.append(_pkt("done\n"))
    return b"".join(out)


def _pkt(line: str) -> bytes:
    data = line.encode("ascii")
    return b"%04x" % (len(data) + 4) + data


def _read_answer(answer: bytes, want: str, have: str | None) -> tuple[list[str], bytes]:
    """The shallow update and the pack (side band 1) of an upload-pack answer."""
    lines = _PktReader(answer)
    shallow: list[str] = []
    while (line := lines.next()) is not None:
        kind, _, oid = line.rstrip(b"\n").partition(b" ")
        if kind == b"ERR":
            raise _Declined
        if kind == b"unshallow":
            raise PackRefusedError("the server made a commit deeper while asked for one commit")
        if kind != b"shallow" or oid != want.encode():
            raise PackRefusedError(f"the shallow update names {_shown(line)}, not what was asked")
        shallow.append(want)
    line = lines.next()
    if line is None or line.startswith(b"ERR "):
        raise _Declined
    acknowledged = line.rstrip(b"\n")
    if acknowledged != b"NAK" and (have is None or acknowledged != f"ACK {have}".encode()):
        raise PackRefusedError(f"the server acknowledged {_shown(line)}, which was not offered")
    return shallow, _side_band(lines)


def _side_band(lines: _PktReader) -> bytes:
    pack = bytearray()
    while (line := lines.next()) is not None:
        band, payload = line[:1], line[1:]
        if band == b"\x01":
            pack += payload
        elif band == b"\x03":
            raise _ServerError(_shown(payload, 300))
        elif band != b"\x02":
            raise PackRefusedError("the pack arrived outside the side bands asked for")
    if lines.at != len(lines.data):
        raise PackRefusedError("the answer goes on after its end")
    return bytes(pack)


class _PktReader:
    """pkt-lines of an answer: a line's bytes, or None for a flush."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def next(self) -> bytes | None:
        head = self.data[self.at : self.at + 4]
        if len(head) < 4 or not re.fullmatch(rb"[0-9a-f]{4}", head):
            raise PackRefusedError("the answer is not made of pkt-lines (cut short?)")
        size = int(head, 16)
        if size == 0:
            self.at += 4
            return None
        if size < 5 or self.at + size > len(self.data):
            raise PackRefusedError("the answer holds a malformed pkt-line")
        line = self.data[self.at + 4 : self.at + size]
        self.at += size
        return line


def _shown(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", "replace").strip()
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(printable[:limit])


def _external_reader(repo: pygit2.Repository) -> ExternalReader:
    odb = repo.odb

    def read(oid: bytes) -> tuple[int, bytes] | None:
        try:
            kind, data = odb.read(oid.hex())[:2]
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return int(kind), bytes(data)

    return read


def _check_wanted(repo: pygit2.Repository, pack: Pack, want: str, shallow: list[str]) -> None:
    """The wanted commit and its tree must be in the pack (or the cache); a commit with parents
    that the server did not mark shallow is declined (libgit2 knows what to do with it)."""
    commit = pack.objects.get(bytes.fromhex(want))
    if commit is None or commit[0] != 1:
        raise PackRefusedError(f"the pack does not hold the commit {want} asked for")
    header = commit[1].split(b"\n\n", 1)[0].split(b"\n")
    tree = header[0].removeprefix(b"tree ")
    if not _SHA1.fullmatch(tree):
        raise PackRefusedError(f"the commit {want} is malformed")
    found = pack.objects.get(bytes.fromhex(tree.decode()))
    if (found is None or found[0] != 2) and not _tree_in(repo, tree.decode()):
        raise PackRefusedError(f"neither the pack nor the cache holds the tree of {want}")
    if not shallow and any(line.startswith(b"parent ") for line in header):
        raise _Declined


def _tree_in(repo: pygit2.Repository, sha: str) -> bool:
    try:
        return bool(repo.odb.read(sha)[0] == pygit2.enums.ObjectType.TREE)
    except (KeyError, ValueError, pygit2.GitError):
        return False


def _shallow_roots(git_dir: Path) -> list[str]:
    try:
        text = (git_dir / "shallow").read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise GitError(f"The cache's shallow file {git_dir / 'shallow'} is unreadable") from exc
    return [line for line in text.split() if _SHA1.fullmatch(line.encode())]


def _merged(roots: list[str], shallow: list[str]) -> list[str]:
    return roots + [oid for oid in shallow if oid not in roots]


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise GitError(f"Could not write {path} in the cache: {exc}") from exc
