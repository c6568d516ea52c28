"""git/packfile.py: packs read, checked and indexed as git's own ``index-pack`` would.

Real packs come from ``git pack-objects`` (offset and reference deltas over similar flows);
crafted ones (tests/packs.py) break one rule each.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pygit2
import pytest
from packs import delta, entry, object_id, ofs, pack_of
from pygit2.enums import FileMode

from kestra_git_tasks.git.packfile import (
    Pack,
    PackRefusedError,
    PackTooLargeError,
    index_bytes,
    read_pack,
    store_pack,
)

NOTHING_OUTSIDE = lambda oid: None  # noqa: E731


def flows_repository(path: Path, count: int = 200) -> list[str]:
    """A repository of ``count`` similar flows (git deltas them); its objects' ids."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    repo = pygit2.Repository(str(path))
    index = pygit2.Index()
    for number in range(count):
        text = f"id: flow_{number}\nnamespace: company.team\ntasks:\n  - id: log\n" * 3
        blob = repo.create_blob(text.encode())
        index.add(pygit2.IndexEntry(f"_flows/f{number}.yml", blob, FileMode.BLOB))
    signature = pygit2.Signature("A", "a@b", 1_700_000_000, 0)
    repo.create_commit("refs/heads/main", signature, signature, "m", index.write_tree(repo), [])
    listed = subprocess.run(
        ["git", "--git-dir", str(path), "rev-list", "--objects", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.split()[0] for line in listed.splitlines()]


def packed(path: Path, *options: str) -> bytes:
    listed = subprocess.run(
        ["git", "--git-dir", str(path), "rev-list", "--objects", "main"],
        check=True,
        capture_output=True,
    ).stdout
    return subprocess.run(
        ["git", "--git-dir", str(path), "pack-objects", "--stdout", *options],
        input=listed,
        check=True,
        capture_output=True,
    ).stdout


@pytest.mark.parametrize("options", [("--delta-base-offset",), ()], ids=["ofs-delta", "ref-delta"])
def test_a_real_pack_is_read_and_indexed_byte_for_byte_as_git_does(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    ids = flows_repository(tmp_path / "source.git")
    data = packed(tmp_path / "source.git", *options)
    pack = read_pack(data, NOTHING_OUTSIDE, 1 << 30)
    assert sorted(oid.hex() for oid in pack.objects) == sorted(ids)
    assert not pack.outside
    copy = tmp_path / "copy.pack"
    copy.write_bytes(data)
    subprocess.run(["git", "index-pack", str(copy)], check=True, capture_output=True)
    assert index_bytes(pack) == copy.with_suffix(".idx").read_bytes()


def test_a_stored_pack_is_read_by_libgit2_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    ids = flows_repository(tmp_path / "source.git")
    pack = read_pack(
        packed(tmp_path / "source.git", "--delta-base-offset"), NOTHING_OUTSIDE, 1 << 30
    )
    target = pygit2.init_repository(str(tmp_path / "target.git"), bare=True)
    folder = tmp_path / "target.git" / "objects"
    store_pack(pack, folder)
    names = sorted(p.name for p in (folder / "pack").iterdir())
    stem = f"pack-{pack.checksum.hex()}"
    assert names == [f"{stem}.idx", f"{stem}.pack"]
    assert all(oid in target for oid in ids)
    store_pack(pack, folder)  # the same pack again: nothing changes
    assert sorted(p.name for p in (folder / "pack").iterdir()) == names


def test_a_reference_delta_may_lean_on_a_later_delta_of_the_pack() -> None:
    base = b"one two three four five\n"
    middle = base + b"six\n"
    last = middle + b"seven\n"
    first = entry(
        7,
        delta(middle, last, bytes([0x90, len(middle), 6]) + b"seven\n"),
        base=bytes.fromhex(object_id("blob", middle)),
    )
    second = entry(3, base)
    third_ops = bytes([0x90, len(base), 4]) + b"six\n"  # on `second`, just before it
    data = pack_of(first, second, entry(6, delta(base, middle, third_ops), base=ofs(len(second))))
    pack = read_pack(data, NOTHING_OUTSIDE, 1 << 20)
    assert {data for _, data in pack.objects.values()} == {base, middle, last}
    assert [offset for _, _, offset in pack.index] == [
        12,
        12 + len(first),
        12 + len(first) + len(second),
    ]


def test_reference_deltas_in_a_cycle_are_refused() -> None:
    one, two = b"first object\n", b"second object\n"
    ops = bytes([len(one)]) + one
    data = pack_of(
        entry(7, delta(two, one, ops), base=bytes.fromhex(object_id("blob", two))),
        entry(
            7, delta(one, two, bytes([len(two)]) + two), base=bytes.fromhex(object_id("blob", one))
        ),
    )
    with pytest.raises(PackRefusedError, match="neither in the pack nor in the cache"):
        read_pack(data, NOTHING_OUTSIDE, 1 << 20)


def test_a_thin_pack_is_completed_with_its_outside_bases_as_git_index_pack_fix_thin_does(
    tmp_path: Path,
) -> None:
    base = b"held by the cache\n"
    built = base + b"and new\n"
    base_id = bytes.fromhex(object_id("blob", base))
    ops = bytes([0x90, len(base), 8]) + b"and new\n"
    data = pack_of(entry(3, b"another\n"), entry(7, delta(base, built, ops), base=base_id))
    pack = read_pack(data, lambda oid: (3, base) if oid == base_id else None, 1 << 20)
    target = pygit2.init_repository(str(tmp_path / "target.git"), bare=True)
    store_pack(pack, tmp_path / "target.git" / "objects")
    (stored,) = (tmp_path / "target.git" / "objects" / "pack").glob("*.pack")
    assert target.odb.read(object_id("blob", built))[1] == built  # read from the pack
    assert target.odb.read(object_id("blob", base))[1] == base  # the base went in too
    copy = tmp_path / "copy.pack"
    copy.write_bytes(stored.read_bytes())
    checked = subprocess.run(["git", "index-pack", str(copy)], capture_output=True, check=True)
    assert checked.stdout.decode().strip() == stored.stem.removeprefix("pack-")
    assert copy.with_suffix(".idx").read_bytes() == stored.with_suffix(".idx").read_bytes()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PACK", "does not start with a pack header"),
        (pack_of(entry(3, b"x"))[:-1], "trailing checksum"),
        (pack_of(entry(6, b"xx", base=ofs(5))), "names no earlier object"),
        (pack_of(entry(3, b"0123456789", declared=20)), "shorter than it declares"),
        (pack_of(entry(3, b"abc")[:-2]), "cut short"),
        (pack_of(entry(3, b"abc"), entry(3, b"def"), count=1), "more data than the 1 objects"),
        (pack_of(b"\xb3\x00not zlib at all"), "not valid zlib data"),
        (pack_of(b"\xbf" + b"\xff" * 12), "header of the pack is malformed"),
    ],
    ids=["short", "checksum", "ofs-base", "short-object", "cut", "extra", "zlib", "header"],
)
def test_a_malformed_pack_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(PackRefusedError, match=reason):
        read_pack(data, NOTHING_OUTSIDE, 1 << 20)


def test_a_pack_declaring_more_than_the_budget_is_too_large_before_it_is_inflated() -> None:
    with pytest.raises(PackTooLargeError):
        read_pack(pack_of(entry(3, b"small", declared=10_000_000)), NOTHING_OUTSIDE, 1 << 20)
    base = b"x" * 100
    grows = delta(base, b"", bytes([0x90, 100]))[:1] + b"\x80\x80\x80\x10" + b"\x90\x64"
    with pytest.raises(PackTooLargeError):  # a delta declaring a 32 MiB result
        read_pack(
            pack_of(entry(3, base), entry(6, grows, base=ofs(len(entry(3, base))))),
            NOTHING_OUTSIDE,
            1 << 20,
        )


def test_offsets_past_2_gib_go_to_the_64_bit_table() -> None:
    oid_small, oid_large = b"\x01" * 20, b"\x02" * 20
    pack = Pack(b"PACK" + b"\0" * 28, {}, [(oid_large, 7, 0x80000005), (oid_small, 9, 12)])
    body = index_bytes(pack)
    offsets_at = 8 + 256 * 4 + 2 * 20 + 2 * 4
    assert struct.unpack(">II", body[offsets_at : offsets_at + 8]) == (12, 0x80000000)
    assert struct.unpack(">Q", body[offsets_at + 8 : offsets_at + 16]) == (0x80000005,)
