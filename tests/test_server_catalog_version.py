"""The server's flow catalog polls the instance's flow change stamp, not the flows table.

``FlowCatalog.refresh`` runs on every poll of ``kestra-git server``; it must answer "nothing
changed" with one read of ``change_stamps`` (however many flows are held) and must notice every
flow write, whoever makes it: this package, another process with sqlite3, a delete.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_change_stamps import sqlite_in_another_process, statements

from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.local import LocalInstance
from kestra_git_tasks.server.catalog import FlowCatalog


def _flow(flow_id: str, message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: company.poll\ntasks:\n  - id: say\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


def _insert_behind(home: Path, flow_id: str) -> None:
    """A flow row written by another process with sqlite3, behind the instance's back."""
    sqlite_in_another_process(
        home / "instance.db",
        "INSERT INTO flows VALUES ('company.poll', ?, 1, ?, 0, '2026-01-01T00:00:00.000000+00:00')",
        flow_id,
        _flow(flow_id),
    )


def test_an_unchanged_instance_is_answered_without_reading_the_flows(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        with instance.batch():
            for n in range(50):
                instance.put_flow(_flow(f"f{n}"))
        catalog = FlowCatalog()
        assert catalog.refresh(instance) is True
        with statements(instance) as seen:
            assert catalog.refresh(instance) is False
        assert seen and not [s for s in seen if re.search(r"\bFROM flows\b", s)]
        assert len(catalog.entries()) == 50


def test_a_flow_written_by_another_process_is_noticed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(_flow("a"))
        catalog = FlowCatalog()
        catalog.refresh(instance)
        _insert_behind(home, "b")
        assert catalog.refresh(instance) is True
        assert [entry.id for entry in catalog.entries()] == ["a", "b"]


def test_a_row_removed_behind_the_servers_back_is_noticed(tmp_path: Path) -> None:
    # MAX(rowid) and COUNT(*), the poll before the stamp, missed this: SQLite gives the new
    # row the deleted last row's rowid, so both figures stay the same; the stamp moves
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(_flow("a"))
        instance.put_flow(_flow("b"))
        catalog = FlowCatalog()
        catalog.refresh(instance)
        sqlite_in_another_process(home / "instance.db", "DELETE FROM flows WHERE id = ?", "b")
        _insert_behind(home, "c")
        assert catalog.refresh(instance) is True
        assert [entry.id for entry in catalog.entries()] == ["a", "c"]


def test_a_deleted_flow_leaves_the_catalog(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        instance.put_flow(_flow("a"))
        instance.put_flow(_flow("b"))
        catalog = FlowCatalog()
        catalog.refresh(instance)
        assert instance.delete_flow("company.poll", "a")
        assert catalog.refresh(instance) is True
        assert [entry.id for entry in catalog.entries()] == ["b"]
