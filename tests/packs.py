"""Packs and pkt-lines built byte by byte, for tests that play a Git server (well-formed or
hostile): entries with any declared size, deltas with any instructions, checksums recomputed."""

from __future__ import annotations

import hashlib
import zlib


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def entry(kind: int, data: bytes, *, declared: int | None = None, base: bytes = b"") -> bytes:
    """One pack entry: header (type, declared size), a delta's base, zlib of ``data``."""
    size = len(data) if declared is None else declared
    byte = (kind << 4) | (size & 15)
    size >>= 4
    header = bytearray()
    while size:
        header.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    header.append(byte)
    return bytes(header) + base + zlib.compress(data)


def pack_of(*entries: bytes, count: int | None = None) -> bytes:
    body = b"PACK" + (2).to_bytes(4, "big") + (count or len(entries)).to_bytes(4, "big")
    body += b"".join(entries)
    return body + hashlib.sha1(body).digest()


def flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def object_id(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def delta(base: bytes, result: bytes, ops: bytes) -> bytes:
    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    return varint(len(base)) + varint(len(result)) + ops


def ofs(distance: int) -> bytes:
    """An offset delta's base: ``distance`` bytes back, in the pack's encoding."""
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))
