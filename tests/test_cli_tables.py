"""Tables of rows: plain and coloured renderings line up the same, hostile cells included.

``format_table`` writes plain text in one format per line and coloured text cell by cell; with
the colour codes taken out, both must be the same lines.
"""

from __future__ import annotations

import re

from kestra_git_tasks.cli._tables import format_table, state_kind

ROWS = [
    ["_flows/a.yml", "ADDED", "prod", "1"],
    ["_flows/{0}.yml", "UNCHANGED", "prod.team", "12"],
    ["x\x1b[2K\ny", "DELETED", "", "3"],  # control characters: shown as escapes
    ["é", "UPDATED", "prod", ""],
]
HEADERS = ["PATH", "STATE", "NAMESPACE", "REVISION"]


def paint(text: str, kind: str) -> str:
    return f"<{kind}>{text}</>"


def test_plain_and_coloured_tables_have_the_same_text_and_columns() -> None:
    for indent in ("", "  "):
        plain = format_table(HEADERS, ROWS, indent=indent)
        coloured = format_table(HEADERS, ROWS, style=paint, styled={1: state_kind}, indent=indent)
        assert [re.sub(r"<[^>]*>", "", line) for line in coloured] == plain
        assert "<ADDED>ADDED</>" in coloured[1] and coloured[0].startswith(f"{indent}<header>")
    plain = format_table(HEADERS, ROWS)
    assert plain[3] == "x\\x1b[2K\\ny" + " " * 5 + "DELETED" + " " * 15 + "3"
    assert plain[2].index("UNCHANGED") == plain[0].index("STATE")
    assert plain[4].endswith("UPDATED    prod")  # trailing spaces removed
