"""build_plan sorts rows in Kestra's order and ties each write to its row's final position,
keeping everything else the write says (tasks/git/_sync.py)."""

from __future__ import annotations

import dataclasses

from kestra_git_tasks.tasks.git._sync import Write, WriteAction, build_plan
from kestra_git_tasks.tasks.git._sync_rows import FileRow, FlowRow, SyncState


def test_each_write_points_at_its_row_after_sorting_and_keeps_its_fields() -> None:
    put = Write(WriteAction.PUT_FLOW, source="id: b\nnamespace: n\n")
    gone = Write(WriteAction.DELETE_FLOW, namespace="n", key="old")
    content = Write(WriteAction.WRITE_FILE, namespace="n", key="f.txt", content=b"x")
    entries: list[tuple[FlowRow | FileRow, Write | None]] = [
        (FlowRow("_flows/b.yml", SyncState.ADDED, "b", "n", 1), put),
        (FlowRow("_flows/a.yml", SyncState.UNCHANGED, "a", "n", 3), None),
        (FlowRow(None, SyncState.DELETED, "old", "n", 2), gone),
        (FileRow("_files/f.txt", SyncState.ADDED, "f.txt"), content),
    ]
    plan = build_plan("c0ffee", entries, "n")
    assert [row.git_path for row in plan.rows] == [
        None,
        "_files/f.txt",
        "_flows/a.yml",
        "_flows/b.yml",
    ]
    assert plan.writes == [
        dataclasses.replace(gone, row=0),
        dataclasses.replace(content, row=1),
        dataclasses.replace(put, row=3),
    ]


def test_build_plan_copies_every_field_of_a_write() -> None:
    """build_plan rebuilds each write with its constructor (not dataclasses.replace): a new
    field of Write must be added there too."""
    fields = [field.name for field in dataclasses.fields(Write)]
    assert fields == ["action", "row", "source", "namespace", "key", "content"]
