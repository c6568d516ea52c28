"""Validation remembered by content: the flow sources found valid, kept in the home folder.

A sync validates thousands of flows that did not change since the last run; each costs a YAML
parse and every check. :func:`remembering` opens ``<home>/validated/flows.bin`` for the
duration of a sync, and :func:`~kestra_git_tasks.flow.validate_source` consults it: a source
whose bytes were found valid before is valid again, with no parse.

The contract:

* **What an entry says.** The first 16 bytes of the SHA-256 of a source's UTF-8 bytes, for a
  source :func:`~kestra_git_tasks.flow.validate_source` found valid *and* whose parsed ``id``
  and ``namespace`` are what :func:`~kestra_git_tasks.flowfile.top_level_identity` reads in its
  text (so a remembered source needs no parse for its identity either). Only valid sources are
  kept: an entry can only spare work, never turn a problem into none for other bytes.
* **Context-free by construction.** The source validated is the one stored, its namespace set
  to where it lands; every check of ``validate_source`` depends on those bytes alone. What
  depends on the sync (the file's path, two files declaring one flow, the running flow, the
  namespace rewrite) is checked by the sync on every run, remembered or not. The same Git file
  synced into another namespace is other bytes, validated once there.
* **Versions.** The file's header holds a key: the SHA-256 of :data:`VALIDATOR_VERSION`, the
  package's version (run from a source tree without one: the digest of its code) and the bytes
  of the type catalog (``data/kestra_types.json``). A file
  with another key is ignored and rewritten: a new check, a new release or a new catalog
  validates everything again. Bump :data:`VALIDATOR_VERSION` with any change to a check.
* **Damage.** A file that is short, has another magic, another key, or whose body does not
  match the SHA-256 in its header is ignored (and rebuilt by the next save). The file is as
  trusted as the home folder: whoever can write it can write the instance's database too.
* **Concurrency.** A save re-reads the file, adds its entries, writes a temporary file in the
  same folder and renames it over the old one (atomic): two syncs saving at once never leave a
  torn file; at worst one's new entries are validated again next time.
* **Size.** Entries are sorted 16-byte records: 100,000 of them load in about 2 ms (a read and
  one hash; lookups are binary searches, nothing is built per entry). Past
  :data:`MAX_ENTRIES` the file starts again from the entries of the run.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import hashlib
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = [
    "MAX_ENTRIES",
    "VALIDATOR_VERSION",
    "ValidatedSources",
    "active",
    "remembering",
    "version_key",
]

#: Bump with any change to what :func:`~kestra_git_tasks.flow.validate_source` accepts.
VALIDATOR_VERSION = 1
#: Most entries kept (16 MB).
MAX_ENTRIES = 1_000_000

_MAGIC = b"KGVALID1"
_SIZE = 16
_HEADER = len(_MAGIC) + 32 + 32  # magic, version key, SHA-256 of the body
_FILE = Path("validated") / "flows.bin"

_active: contextvars.ContextVar[ValidatedSources | None] = contextvars.ContextVar(
    "validated_sources", default=None
)


@cache
def version_key() -> bytes:
    """What a file must be made with to be trusted: validator, package and catalog versions."""
    from importlib.metadata import PackageNotFoundError

    try:
        from . import __version__ as package
    except PackageNotFoundError:  # run from a source tree: its code is the version
        package = _code_digest()
    catalog = resources.files(__package__).joinpath("data/kestra_types.json").read_bytes()
    return _key(VALIDATOR_VERSION, package, catalog)


def _code_digest() -> str:
    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        code.update(path.read_bytes())
    return code.hexdigest()


def _key(validator: int, package: str, catalog: bytes) -> bytes:
    digest = hashlib.sha256(f"validator {validator}\npackage {package}\n".encode())
    digest.update(hashlib.sha256(catalog).digest())
    return digest.digest()


def digest(source: str) -> bytes:
    """The entry of a source: the first 16 bytes of the SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()[:_SIZE]


class _Sorted:
    """The sorted records of a file's body as a sequence, for :mod:`bisect`."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __len__(self) -> int:
        return len(self.body) // _SIZE

    def __getitem__(self, index: int) -> bytes:
        return self.body[index * _SIZE : (index + 1) * _SIZE]


class ValidatedSources:
    """The sources known valid: a file's entries (read once) and the ones added since."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        self.path = path
        self.key = version_key() if key is None else key
        self.stored = _Sorted(_read_body(path, self.key))
        self.added: set[bytes] = set()
        self._searches = 0  # binary searches of ``stored`` so far
        self._stored_set: set[bytes] | None = None

    @classmethod
    def open(cls, home: str | Path) -> ValidatedSources:
        """The sources remembered in ``home`` (none when the file is absent or not trusted)."""
        return cls(Path(home) / _FILE)

    def __contains__(self, source: str) -> bool:
        return self.has_digest(digest(source))

    def has_digest(self, entry: bytes) -> bool:
        """Whether this entry is remembered.

        A binary search of the stored entries (nothing built: a sync that looks up a few
        sources pays nothing per entry); once the searches reach a sixty-fourth of the
        entries, a set of them is built and used instead (one hash per lookup, not ~17
        Python-level comparisons), which costs about as much as those searches did.
        """
        if entry in self.added:
            return True
        if self._stored_set is not None:
            return entry in self._stored_set
        stored = self.stored
        self._searches += 1
        if self._searches * 64 >= len(stored):
            body = stored.body
            self._stored_set = {body[i : i + _SIZE] for i in range(0, len(body), _SIZE)}
            return entry in self._stored_set
        index = bisect.bisect_left(stored, entry)
        return index < len(stored) and stored[index] == entry

    def add(self, source: str) -> None:
        """Remember ``source`` as valid (kept by :meth:`save`)."""
        self.added.add(digest(source))

    def __len__(self) -> int:
        return len(self.stored) + len(self.added)

    def save(self) -> None:
        """Add this run's entries to the file (re-read first), atomically; a failure to write
        only loses the remembering, never the sync (the file is a cache)."""
        if not self.added:
            return
        current = _Sorted(_read_body(self.path, self.key))
        if len(current) + len(self.added) > MAX_ENTRIES:
            current = _Sorted(b"")
        body = _merged(current, sorted(self.added))
        data = _MAGIC + self.key + hashlib.sha256(body).digest() + body
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".flows-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, self.path)
            except OSError:
                os.unlink(temporary)
                raise
        self.stored, self.added = _Sorted(body), set()
        self._searches, self._stored_set = 0, None


def _merged(current: _Sorted, added: list[bytes]) -> bytes:
    """The sorted records of ``current`` with ``added`` (sorted) put in place: a binary search
    each and slices of the body, so that adding a few entries to many costs a copy."""
    pieces: list[bytes] = []
    start = 0
    for entry in added:
        index = bisect.bisect_left(current, entry)
        if index < len(current) and current[index] == entry:
            continue
        pieces += [current.body[start * _SIZE : index * _SIZE], entry]
        start = index
    pieces.append(current.body[start * _SIZE :])
    return b"".join(pieces)


def _read_body(path: Path, key: bytes) -> bytes:
    """The sorted entries of a trusted file, or nothing (absent, damaged, other versions)."""
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    body = data[_HEADER:]
    if (
        len(data) < _HEADER
        or not data.startswith(_MAGIC)
        or data[len(_MAGIC) : len(_MAGIC) + 32] != key
        or len(body) % _SIZE
        or hashlib.sha256(body).digest() != data[len(_MAGIC) + 32 : _HEADER]
    ):
        return b""
    return body


def active() -> ValidatedSources | None:
    """The sources :func:`remembering` opened for this run, if any."""
    return _active.get()


@contextlib.contextmanager
def remembering(home: str | Path) -> Iterator[ValidatedSources]:
    """Open the remembered sources of ``home`` for what runs inside, and save them after
    (also after a failure: what was found valid stays valid)."""
    sources = ValidatedSources.open(home)
    token = _active.set(sources)
    try:
        yield sources
    finally:
        _active.reset(token)
        sources.save()
