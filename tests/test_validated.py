"""Validation remembered by content (kestra_git_tasks/validated.py): what it keeps, when it
forgets, and that a damaged or foreign file never makes an invalid flow pass."""

from __future__ import annotations

import hashlib
import multiprocessing
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import kestra_git_tasks
from kestra_git_tasks import LocalInstance, RunContext, SyncFlows
from kestra_git_tasks.errors import FlowValidationError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.validated import (
    VALIDATOR_VERSION,
    ValidatedSources,
    _key,
    digest,
    remembering,
    version_key,
)

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


def flow(flow_id: str, namespace: str = "prod", task_type: str = "log.Log") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: t\n"
        f"    type: io.kestra.plugin.core.{task_type}\n    message: hi\n"
    )


VALID = flow("a")
INVALID = flow("b", task_type="log.Lgo")  # a misspelt type


def cache_file(home: Path) -> Path:
    return home / "validated" / "flows.bin"


def test_a_source_found_valid_is_remembered_and_an_invalid_one_is_not(tmp_path: Path) -> None:
    with remembering(tmp_path):
        assert validate_source(VALID) == []
        assert validate_source(INVALID) != []
    remembered = ValidatedSources.open(tmp_path)
    assert VALID in remembered and INVALID not in remembered
    assert len(remembered) == 1
    with remembering(tmp_path):  # remembered: valid without a parse, and still valid
        assert validate_source(VALID) == []
        assert validate_source(INVALID) != []


def test_outside_a_sync_nothing_is_remembered(tmp_path: Path) -> None:
    assert validate_source(VALID) == []
    assert not cache_file(tmp_path).exists()


def test_the_version_key_holds_the_validator_the_package_and_the_catalog() -> None:
    catalog = resources.files("kestra_git_tasks").joinpath("data/kestra_types.json").read_bytes()
    assert version_key() == _key(VALIDATOR_VERSION, kestra_git_tasks.__version__, catalog)


def test_remembered_validation_is_forgotten_when_the_validator_or_catalog_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flows.bin"
    made = _key(1, "1.0", b'{"types": []}')
    sources = ValidatedSources(path, made)
    sources.add(VALID)
    sources.save()
    assert VALID in ValidatedSources(path, made)
    for changed in (
        _key(2, "1.0", b'{"types": []}'),  # a new check
        _key(1, "1.1", b'{"types": []}'),  # a new release
        _key(1, "1.0", b'{"types": [{"type": "x"}]}'),  # a new catalog
    ):
        again = ValidatedSources(path, changed)
        assert VALID not in again and len(again) == 0
        again.add(INVALID)  # what that version found valid replaces the old file
        again.save()
        assert VALID not in ValidatedSources(path, made)
        sources.save()


def forged(home: Path, key: bytes, body: bytes, checksum: bytes | None = None) -> None:
    """A cache file holding ``body`` (records), written as an attacker or a crash would."""
    cache_file(home).parent.mkdir(parents=True, exist_ok=True)
    checksum = hashlib.sha256(body).digest() if checksum is None else checksum
    cache_file(home).write_bytes(b"KGVALID1" + key + checksum + body)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "other key", "bad checksum", "odd length", "empty"],
)
def test_a_damaged_or_foreign_cache_file_never_makes_an_invalid_flow_pass(
    tmp_path: Path, damage: str
) -> None:
    entry = digest(INVALID)
    if damage == "garbage":
        cache_file(tmp_path).parent.mkdir(parents=True)
        cache_file(tmp_path).write_bytes(b"\x00garbage" * 100 + entry)
    elif damage == "truncated":
        forged(tmp_path, version_key(), entry)
        data = cache_file(tmp_path).read_bytes()
        cache_file(tmp_path).write_bytes(data[:40])
    elif damage == "other key":
        forged(tmp_path, _key(VALIDATOR_VERSION - 1, kestra_git_tasks.__version__, b""), entry)
    elif damage == "bad checksum":
        forged(tmp_path, version_key(), entry, checksum=b"\x00" * 32)
    elif damage == "odd length":
        forged(tmp_path, version_key(), entry + b"\x01")
    else:
        cache_file(tmp_path).parent.mkdir(parents=True)
        cache_file(tmp_path).write_bytes(b"")
    with remembering(tmp_path):
        assert INVALID not in ValidatedSources.open(tmp_path)
        assert validate_source(INVALID) != []
        assert validate_source(VALID) == []
    rebuilt = ValidatedSources.open(tmp_path)  # the next save rebuilt a whole file
    assert VALID in rebuilt and INVALID not in rebuilt and len(rebuilt) == 1


def _save_many(home: str, prefix: str, rounds: int) -> None:
    for round_ in range(rounds):
        sources = ValidatedSources.open(home)
        for index in range(200):
            sources.add(f"{prefix}-{round_}-{index}")
        sources.save()


def test_two_syncs_saving_at_once_never_leave_a_damaged_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_save_many, args=(str(tmp_path), name, 15)) for name in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    final = ValidatedSources.open(tmp_path)
    # a whole, trusted file: it holds the last round of at least one writer
    assert len(final) >= 200
    assert all(f"a-14-{i}" in final for i in range(200)) or all(
        f"b-14-{i}" in final for i in range(200)
    )
    assert [p.name for p in cache_file(tmp_path).parent.iterdir()] == ["flows.bin"]


def sync(home: Path, url: str, target: str = "prod") -> SyncFlows.Output:
    task = SyncFlows(id="sync", url=url, username=USER, password=PASSWORD, target_namespace=target)
    with LocalInstance(home, validator=validate_source) as instance:
        ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="s")
        ctx.task_id = "sync"
        output = task.run(ctx)
    assert isinstance(output, SyncFlows.Output)
    return output


def test_a_sync_remembers_the_flows_it_validated_and_still_refuses_an_invalid_one(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a", "dev"), "_flows/c.yml": flow("c", "dev")})
    home = tmp_path / "home"
    sync(home, repo.url)
    remembered = ValidatedSources.open(home)
    # the bytes stored (namespace set to the target) are what is remembered
    assert flow("a") in remembered and flow("c") in remembered
    assert flow("a", "dev") not in remembered
    repo.commit({"_flows/b.yml": INVALID}, "an invalid flow")
    with pytest.raises(FlowValidationError, match=r"_flows/b\.yml.*log\.Lgo"):
        sync(home, repo.url)
    assert INVALID not in ValidatedSources.open(home)
    # another target namespace is other bytes: validated there, remembered for it too
    repo.commit({}, "remove", delete=["_flows/b.yml"])
    rows = sync(tmp_path / "home", repo.url, target="staging").flows
    assert {row["namespace"] for row in rows} == {"staging"}
    assert flow("a", "staging") in ValidatedSources.open(home)


def test_entries_stay_sorted_and_unique_as_runs_add_to_them(tmp_path: Path) -> None:
    sources = [f"source {index}" for index in range(300)]
    for first in range(0, 300, 70):  # runs adding overlapping batches
        remembered = ValidatedSources.open(tmp_path)
        for source in sources[max(0, first - 20) : first + 70]:
            remembered.add(source)
        remembered.save()
    body = cache_file(tmp_path).read_bytes()[72:]
    records = [body[i : i + 16] for i in range(0, len(body), 16)]
    assert records == sorted({digest(source) for source in sources})
    assert all(source in ValidatedSources.open(tmp_path) for source in sources)
    assert "another source" not in ValidatedSources.open(tmp_path)


def test_a_hundred_thousand_remembered_sources_load_as_one_body(tmp_path: Path) -> None:
    entries = {hashlib.sha256(b"%d" % i).digest()[:16] for i in range(100_000)}
    remembered = ValidatedSources.open(tmp_path)
    remembered.added = set(entries)
    remembered.save()
    loaded = ValidatedSources.open(tmp_path)
    # nothing is built per entry when loading (timing: docs/architecture.md, "Validation")
    assert len(loaded) == 100_000 and loaded.added == set()
    assert all(loaded.has_digest(entry) for entry in list(entries)[:1000])
    assert not loaded.has_digest(b"\x00" * 16) and not loaded.has_digest(b"\xff" * 16)


def test_a_new_validator_version_validates_a_synced_flow_again(
    remote: MakeRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kestra_git_tasks import validated

    repo = remote(files={"_flows/a.yml": flow("a", "dev")})
    home = tmp_path / "home"
    sync(home, repo.url)
    assert flow("a") in ValidatedSources.open(home)
    monkeypatch.setattr(validated, "VALIDATOR_VERSION", VALIDATOR_VERSION + 1)
    validated.version_key.cache_clear()
    try:
        assert len(ValidatedSources.open(home)) == 0  # the file is not trusted any more
        repo.commit({"_flows/b.yml": flow("b", "dev")}, "another flow")
        sync(home, repo.url)
        rebuilt = ValidatedSources.open(home)  # under the new key: what this sync validated
        assert flow("b") in rebuilt and flow("a") not in rebuilt
    finally:
        validated.version_key.cache_clear()


def test_many_lookups_answer_as_a_few_do(tmp_path: Path) -> None:
    """Past a number of lookups the stored entries are searched through a set, not bisected:
    the answers stay the same for stored, added and unknown sources, before and after a save."""
    stored = [flow(f"s{i}") for i in range(200)]
    first = ValidatedSources(tmp_path / "flows.bin")
    for source in stored:
        first.add(source)
    first.save()
    sources = ValidatedSources(tmp_path / "flows.bin")
    sources.add(flow("added"))
    unknown = [flow(f"u{i}") for i in range(200)]
    for _ in range(3):  # the first lookups bisect, the later ones use the set
        assert all(source in sources for source in stored)
        assert flow("added") in sources
        assert not any(source in sources for source in unknown)
    sources.save()
    assert all(source in sources for source in [*stored, flow("added")])
    assert not any(source in sources for source in unknown)


def test_the_apply_does_not_parse_again_what_the_plan_validated(
    remote: MakeRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded instance validates every flow it stores; within a sync those are the
    sources the plan has just validated and remembered, so each flow is parsed once, not twice
    (at 100,000 flows, past the instance's memo of checks, the second parse was half of a
    first sync)."""
    import kestra_git_tasks.flow as flow_module
    from kestra_git_tasks.yamlio import load_yaml as original

    parsed: list[str] = []

    def counting(source: str, *args: object, **kwargs: object) -> object:
        parsed.append(source)
        return original(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(flow_module, "load_yaml", counting)
    # past LocalInstance.checked_max flows (a big sync) its memo of checks no longer helps
    monkeypatch.setattr(LocalInstance, "checked_max", 0)
    names = ["a", "b", "c"]
    repo = remote(files={f"_flows/{name}.yml": flow(name, "dev") for name in names})
    rows = sync(tmp_path / "home", repo.url).flows
    assert [row["syncState"] for row in rows] == ["ADDED"] * 3
    assert sorted(parsed) == sorted(flow(name) for name in names)
