"""A pack a server sent, checked object by object, then stored with an index we write.

pygit2 binds no indexer, so this module does for :mod:`.upload_pack` what libgit2's indexer
does for its own fetches: :func:`read_pack` parses a whole pack held in memory and resolves its
deltas, :func:`store_pack` writes it into ``objects/pack`` with a version-2 ``.idx``.

The pack is never trusted. :func:`read_pack` raises :class:`PackRefusedError` (a
:class:`~kestra_git_tasks.errors.GitError`; nothing has been written yet) unless:

* it starts with ``PACK``, version 2 or 3, and its trailing SHA-1 is the SHA-1 of everything
  before it, with exactly the object count of its header between the two;
* every entry is a commit, tree, blob, tag, offset delta or reference delta;
* every entry inflates to exactly the size its header declares: zlib is never allowed more than
  that size plus one byte, so a decompression bomb stops there;
* every delta's base is in the pack (an offset delta: an entry before it; a reference delta:
  any entry, no cycle) or, for a reference delta, in the object database given; the base has
  the size the delta names, every copy stays inside the base, and the result has exactly the
  size the delta declares.

Sizes are budgeted: the declared sizes of the entries and of the delta results together must
stay under ``budget`` bytes, else :class:`PackTooLargeError` (not hostile: the caller lets
libgit2's indexer, which streams to disk, fetch it instead).

:func:`store_pack` writes the pack and the index beside it under temporary names, then renames
the pack, then the index (an index is what makes a pack visible, so a reader never sees one
without its pack), as git's ``index-pack`` does. A thin pack (reference deltas on objects the
cache holds: what a shallow fetch gets, see :mod:`.upload_pack`) is completed first as
``index-pack --fix-thin`` completes it: each such base is appended whole, the object count and
the trailing checksum rewritten, so every stored pack is self-contained.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kestra_git_tasks.errors import GitError

__all__ = [
    "OBJECT_TYPES",
    "ExternalReader",
    "Pack",
    "PackRefusedError",
    "PackTooLargeError",
    "read_pack",
    "store_pack",
]

OBJECT_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_MAX_HEADER_SHIFT = 63
_ARGUMENT_BYTES = [bin(op & 0x7F).count("1") for op in range(256)]  # a copy's argument bytes

# (type, data) of an object outside the pack, None when absent: the cache's object database
ExternalReader = Callable[[bytes], "tuple[int, bytes] | None"]


class PackRefusedError(GitError):
    """The pack breaks a rule of this module's docstring: nothing of it is kept."""


class PackTooLargeError(Exception):
    """The pack declares more bytes than the budget: not an error, a reason to let libgit2
    fetch (never shown to anyone)."""


@dataclass
class _Entry:
    offset: int
    end: int
    kind: int  # 1-4, or a delta's 6/7 until resolved
    data: bytes  # inflated: the object, or the delta
    base: int | bytes | None = None  # an offset delta's base offset, a reference delta's oid
    oid: bytes = b""


@dataclass
class Pack:
    """A checked pack: its bytes, its objects (``{oid: (type, data)}``) and, per entry in pack
    order, ``(oid, crc32, offset)`` for the index."""

    data: bytes
    objects: dict[bytes, tuple[int, bytes]]
    index: list[tuple[bytes, int, int]] = field(default_factory=list)
    outside: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)  # bases read outside
    budget_left: list[int] = field(default_factory=lambda: [0])  # bytes deltas may still build

    @property
    def checksum(self) -> bytes:
        return self.data[-20:]


def read_pack(data: bytes, external: ExternalReader, budget: int) -> Pack:
    """Parse and check ``data`` (a whole pack), resolving every delta; see the module docstring.

    ``external(oid)`` reads a reference delta's base from outside the pack.
    """
    if len(data) < 32 or data[:4] != b"PACK":
        raise PackRefusedError("the pack does not start with a pack header")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        raise PackRefusedError(f"the pack has version {version}; versions 2 and 3 are known")
    if hashlib.sha1(memoryview(data)[:-20]).digest() != data[-20:]:
        raise PackRefusedError("the pack's trailing checksum does not match its content")
    entries, by_offset = _entries(data, count, budget)
    pack = Pack(data, {}, budget_left=[budget - sum(len(e.data) for e in entries)])
    _resolve_all(entries, by_offset, external, pack)
    for entry in entries:
        pack.objects[entry.oid] = (entry.kind, entry.data)
        crc = zlib.crc32(memoryview(data)[entry.offset : entry.end])
        pack.index.append((entry.oid, crc, entry.offset))
    return pack


def _entries(data: bytes, count: int, budget: int) -> tuple[list[_Entry], dict[int, _Entry]]:
    """Every entry, inflated (deltas not applied yet); non-delta objects get their oid."""
    view, end, at = memoryview(data), len(data) - 20, 12
    entries: list[_Entry] = []
    by_offset: dict[int, _Entry] = {}
    spent = 0
    for _ in range(count):
        if at >= end:
            raise PackRefusedError(f"the pack holds fewer objects than the {count} it declares")
        offset = at
        kind, size, at = _entry_header(data, at, end)
        base: int | bytes | None = None
        if kind == _OFS_DELTA:
            distance, at = _offset_distance(data, at, end)
            base = offset - distance
            if base not in by_offset:
                raise PackRefusedError(f"the delta at offset {offset} names no earlier object")
        elif kind == _REF_DELTA:
            base, at = data[at : at + 20], at + 20
            if at > end:
                raise PackRefusedError("the pack is cut inside a reference delta")
        elif kind not in OBJECT_TYPES:
            raise PackRefusedError(f"the object at offset {offset} has unknown type {kind}")
        spent += size
        if spent > budget:
            raise PackTooLargeError
        inflated, at = _inflate(view, at, end, size, offset)
        entry = _Entry(offset, at, kind, inflated, base)
        if kind in OBJECT_TYPES:
            entry.oid = object_id(kind, inflated)
        entries.append(entry)
        by_offset[offset] = entry
    if at != end:
        raise PackRefusedError(f"the pack holds more data than the {count} objects it declares")
    return entries, by_offset


def _entry_header(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    byte = data[at]
    kind, size, shift = (byte >> 4) & 7, byte & 15, 4
    at += 1
    while byte & 0x80:
        if at >= end or shift > _MAX_HEADER_SHIFT:
            raise PackRefusedError("an object header of the pack is malformed")
        byte = data[at]
        size |= (byte & 0x7F) << shift
        shift += 7
        at += 1
    return kind, size, at


def _offset_distance(data: bytes, at: int, end: int) -> tuple[int, int]:
    byte = data[at]
    distance = byte & 0x7F
    at += 1
    while byte & 0x80:
        if at >= end or distance > 1 << 63:
            raise PackRefusedError("a delta's base offset in the pack is malformed")
        byte = data[at]
        distance = ((distance + 1) << 7) | (byte & 0x7F)
        at += 1
    return distance, at


def _inflate(view: memoryview, at: int, end: int, size: int, offset: int) -> tuple[bytes, int]:
    """The ``size`` bytes the zlib stream at ``at`` inflates to, and where the stream ends.
    Never more than ``size + 1`` bytes are inflated; input is fed in chunks so no copy of the
    rest of the pack is made per object."""
    inflater = zlib.decompressobj()
    pieces: list[bytes] = []
    got, step = 0, size + size // 64 + 64
    try:
        while not inflater.eof:
            if at >= end:
                raise PackRefusedError(f"the object at offset {offset} is cut short")
            chunk = view[at : min(end, at + step)]
            at += len(chunk)
            piece = inflater.decompress(chunk, size + 1 - got)
            got += len(piece)
            pieces.append(piece)
            if got > size:
                raise PackRefusedError(
                    f"the object at offset {offset} inflates to more than the {size} bytes it "
                    "declares (a decompression bomb?)"
                )
    except zlib.error as exc:
        raise PackRefusedError(f"the object at offset {offset} is not valid zlib data") from exc
    if got != size:
        raise PackRefusedError(f"the object at offset {offset} is shorter than it declares")
    return b"".join(pieces), at - len(inflater.unused_data)


def _resolve_all(
    entries: list[_Entry],
    by_offset: dict[int, _Entry],
    external: ExternalReader,
    pack: Pack,
) -> None:
    """Apply every delta. A reference delta's base may be any object of the pack, a delta
    itself, so rounds run while they resolve something; once they stop, bases are also read
    from outside the pack (a thin pack); a base found nowhere is refused."""
    by_oid = {e.oid: e for e in entries if e.oid}
    pending = [e for e in entries if not e.oid]
    outside = False
    while pending:
        rest = [e for e in pending if not _resolve(e, by_offset, by_oid, external, outside, pack)]
        if len(rest) == len(pending):
            if outside:
                missing = next(e.base for e in rest if isinstance(e.base, bytes))
                assert isinstance(missing, bytes)
                raise PackRefusedError(
                    f"a delta's base {missing.hex()} is neither in the pack nor in the cache"
                )
            outside = True
        pending = rest


def _resolve(
    entry: _Entry,
    by_offset: dict[int, _Entry],
    by_oid: dict[bytes, _Entry],
    external: ExternalReader,
    outside: bool,
    pack: Pack,
) -> bool:
    """Apply ``entry``'s delta chain, bases first; False when a reference delta's base is not
    known yet (in the pack, or with ``outside`` in the object database)."""
    chain: list[_Entry] = []
    node: _Entry | None = entry
    base: tuple[int, bytes] | None = None
    while node is not None and not node.oid:
        chain.append(node)
        if isinstance(node.base, int):
            node = by_offset[node.base]  # an earlier offset: no cycle
            continue
        name = node.base
        assert isinstance(name, bytes)
        node = by_oid.get(name)
        if node is None:
            base = pack.outside.get(name) or (external(name) if outside else None)
            if base is None:
                return False
            pack.outside[name] = base
    if node is not None:
        base = (node.kind, node.data)
    assert base is not None
    for delta in reversed(chain):
        kind, data = base[0], apply_delta(base[1], delta.data, pack.budget_left)
        delta.kind, delta.data, delta.oid = kind, data, object_id(kind, data)
        by_oid.setdefault(delta.oid, delta)
        base = (kind, data)
    return True


def _varint(delta: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(delta) or shift > _MAX_HEADER_SHIFT:
            raise PackRefusedError("a delta of the pack has a malformed header")
        byte = delta[at]
        value |= (byte & 0x7F) << shift
        shift += 7
        at += 1
        if not byte & 0x80:
            return value, at


def apply_delta(base: bytes, delta: bytes, left: list[int]) -> bytes:
    """``delta`` applied to ``base``, every bound checked; ``left[0]`` is the remaining budget,
    reduced by the result's declared size."""
    base_size, at = _varint(delta, 0)
    size, at = _varint(delta, at)
    if base_size != len(base):
        raise PackRefusedError("a delta of the pack names a base of another size")
    left[0] -= size
    if left[0] < 0:
        raise PackTooLargeError
    out = bytearray()
    end, built = len(delta), 0
    while at < end:
        op = delta[at]
        at += 1
        if op & 0x80:
            if at + _ARGUMENT_BYTES[op] > end:
                _bad_delta()
            start = length = 0
            if op & 0x01:
                start, at = delta[at], at + 1
            if op & 0x02:
                start, at = start | delta[at] << 8, at + 1
            if op & 0x04:
                start, at = start | delta[at] << 16, at + 1
            if op & 0x08:
                start, at = start | delta[at] << 24, at + 1
            if op & 0x10:
                length, at = delta[at], at + 1
            if op & 0x20:
                length, at = length | delta[at] << 8, at + 1
            if op & 0x40:
                length, at = length | delta[at] << 16, at + 1
            length = length or 0x10000
            if start + length > base_size:
                raise PackRefusedError("a delta of the pack copies from outside its base")
            out += base[start : start + length]
            built += length
        elif op:
            if at + op > end:
                _bad_delta()
            out += delta[at : at + op]
            at += op
            built += op
        else:
            _bad_delta()
        if built > size:
            raise PackRefusedError("a delta of the pack builds more than the size it declares")
    if built != size:
        raise PackRefusedError("a delta of the pack builds less than the size it declares")
    return bytes(out)


def _bad_delta() -> None:
    raise PackRefusedError("a delta of the pack holds a malformed instruction")


def object_id(kind: int, data: bytes) -> bytes:
    """The SHA-1 of an object of type ``kind`` (1-4) holding ``data``."""
    digest = hashlib.sha1(b"%s %d\0" % (OBJECT_TYPES[kind], len(data)))
    digest.update(data)
    return digest.digest()


def store_pack(pack: Pack, objects_dir: Path) -> None:
    """Make the pack's objects part of the repository whose ``objects`` folder is given: the
    pack (completed when thin) and its index (see the module docstring)."""
    if pack.outside:
        _complete_thin(pack)
    folder = objects_dir / "pack"
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / f"pack-{pack.checksum.hex()}"
    if name.with_suffix(".idx").exists() and name.with_suffix(".pack").exists():
        return  # the same pack was stored before
    written: list[str] = []
    try:
        pack_tmp = _write_temporary(folder, "tmp_pack_", pack.data)
        written.append(pack_tmp)
        index_tmp = _write_temporary(folder, "tmp_idx_", index_bytes(pack))
        written.append(index_tmp)
        os.replace(pack_tmp, name.with_suffix(".pack"))
        os.replace(index_tmp, name.with_suffix(".idx"))
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise GitError(f"Could not store a fetched pack in the cache at {folder}: {exc}") from exc


def _complete_thin(pack: Pack) -> None:
    """Append the bases read from outside the pack, whole, and rewrite its count and checksum."""
    body = bytearray(pack.data[:-20])
    for oid, (kind, data) in sorted(pack.outside.items()):
        offset = len(body)
        entry = _entry_bytes(kind, data)
        body += entry
        pack.index.append((oid, zlib.crc32(entry), offset))
        pack.objects.setdefault(oid, (kind, data))
    body[8:12] = struct.pack(">I", len(pack.index))
    pack.data = bytes(body) + hashlib.sha1(body).digest()
    pack.outside = {}


def _entry_bytes(kind: int, data: bytes) -> bytes:
    size = len(data)
    header = bytearray()
    byte = (kind << 4) | (size & 15)
    size >>= 4
    while size:
        header.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    header.append(byte)
    return bytes(header) + zlib.compress(data, 1)


def _write_temporary(folder: Path, prefix: str, data: bytes) -> str:
    fd, path = tempfile.mkstemp(prefix=prefix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(path, 0o444)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def index_bytes(pack: Pack) -> bytes:
    """The version-2 ``.idx`` of ``pack``: fan-out, sorted oids, CRC32s, offsets (large ones in
    a 64-bit table), the pack's checksum, and the SHA-1 of all of it."""
    rows = sorted(pack.index)
    fanout = [0] * 256
    for oid, _, _ in rows:
        fanout[oid[0]] += 1
    total = 0
    for byte in range(256):
        total += fanout[byte]
        fanout[byte] = total
    small: list[int] = []
    large: list[int] = []
    for _, _, offset in rows:
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    parts = [
        b"\377tOc",
        struct.pack(">I", 2),
        struct.pack(">256I", *fanout),
        b"".join(oid for oid, _, _ in rows),
        struct.pack(f">{len(rows)}I", *(crc for _, crc, _ in rows)),
        struct.pack(f">{len(small)}I", *small),
        struct.pack(f">{len(large)}Q", *large),
        pack.checksum,
    ]
    body = b"".join(parts)
    return body + hashlib.sha1(body).digest()
