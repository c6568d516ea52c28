"""What a Git task did, as text: its rows as an aligned table, its patch coloured.

Pure functions over a task's outputs (Kestra's dicts), shared by ``kestra-git run``,
``kestra-git deploy`` and README's main job (``scripts/main_job.py``); they import nothing but
the standard library, so the CLI stays light. Colour is an optional ``style(text, kind)``
callable (the CLI passes one only when stdout is a terminal and colour is allowed); the layout is
the same with and without it.

Tables, by the shape of the rows:

- SyncFlows rows: ``PATH  STATE  NAMESPACE  REVISION  FLOW``;
- SyncNamespaceFiles rows: ``PATH  STATE  NAMESPACE  INSTANCE PATH``, the instance path being
  the one ``kestra-git files list`` shows (``/scripts/etl.py``, not Kestra's ``kestraPath``);
- push rows: ``FILE  ADDITIONS  DELETIONS  CHANGES``.

A sync holding many flows reports most of them UNCHANGED: past :data:`UNCHANGED_LISTED` such
rows, :func:`listed_rows` leaves them out of the table, which then ends with their count
(``kestra-git run --all-rows`` lists them all; ``--json`` always holds every row).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "UNCHANGED_LISTED",
    "Style",
    "format_table",
    "git_rows",
    "listed_rows",
    "patch_lines",
    "printable",
    "split_kestra_path",
    "state_kind",
    "task_table",
]

#: ``style(text, kind)``: ``text`` coloured for ``kind`` (a state such as ``ADDED``, or
#: ``added``/``removed``/``hunk``/``header``/``dim``).
Style = Callable[[str, str], str]

_FILES_MARKER = "/_files/"
#: Control characters (C0 but tab, DEL, C1): a file name or a line of a hostile repository
#: must not move the cursor, clear lines or start a new row.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _plain(text: str, _kind: str) -> str:
    return text


def state_kind(state: str) -> str:
    """The colour kind of a row or execution state (the state itself)."""
    return state.upper()


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    style: Style | None = None,
    styled: Mapping[int, Callable[[str], str]] | None = None,
    indent: str = "",
) -> list[str]:
    """Aligned columns separated by two spaces, trailing spaces removed.

    ``styled`` maps a column index to the kind of each of its cells (e.g. the state column to
    :func:`state_kind`); widths are measured on the plain text.
    """
    # Each cell is escaped and measured once: a sync may print tens of thousands of rows.
    texts = [[str(cell) for cell in row] for row in [headers, *rows]]
    if _CONTROL.search("\t".join(itertools.chain.from_iterable(texts))):  # one search, usually
        texts = [[printable(text) for text in row] for row in texts]
    widths = [max(map(len, column)) for column in zip(*texts, strict=False)]
    if style is None:  # plain text: one format per line
        line = "  ".join(f"{{:<{width}}}" for width in widths)
        return [indent + line.format(*row[: len(widths)]).rstrip() for row in texts]
    header: dict[int, Callable[[str], str]] = dict.fromkeys(range(len(widths)), _header_kind)
    lines = []
    for number, row in enumerate(texts):
        cells = [text.ljust(width) for text, width in zip(row, widths, strict=False)]
        kinds = header if number == 0 else styled or {}
        for index, kind in kinds.items():
            if index < len(cells):
                text = row[index]
                cells[index] = style(text, kind(text)) + " " * (widths[index] - len(text))
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def _header_kind(_text: str) -> str:
    return "header"


def split_kestra_path(kestra_path: str) -> tuple[str, str]:
    """``(namespace, path)`` of Kestra's ``/<namespace as folders>/_files/<path>``, the path as
    ``kestra-git files list`` shows it (``/scripts/etl.py``). The first ``/_files/`` ends the
    namespace (a namespace segment literally named ``_files`` is not told apart)."""
    head, marker, tail = kestra_path.partition(_FILES_MARKER)
    if not marker:
        return "", kestra_path
    return head.strip("/").replace("/", "."), "/" + tail


def git_rows(output: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The diff rows of a Git sync or push task's outputs, None for any other task."""
    for key in ("flows", "files"):
        rows = output.get(key)
        if (
            isinstance(rows, list)
            and "diffFile" in output
            and all(isinstance(row, dict) for row in rows)
        ):
            return rows
    return None


#: A table lists UNCHANGED rows only when there are at most this many.
UNCHANGED_LISTED = 20


def listed_rows(
    rows: list[dict[str, Any]], *, all_rows: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """The rows a table lists, in their order, and how many UNCHANGED rows it leaves out:
    all of them when there are more than :data:`UNCHANGED_LISTED` (and not ``all_rows``)."""
    if all_rows:
        return rows, 0
    unchanged = sum(1 for row in rows if row.get("syncState") == "UNCHANGED")
    if unchanged <= UNCHANGED_LISTED:
        return rows, 0
    return [row for row in rows if row.get("syncState") != "UNCHANGED"], unchanged


def task_table(
    rows: list[dict[str, Any]], *, style: Style | None = None, indent: str = ""
) -> list[str]:
    """The table of a Git task's rows (``(nothing in scope)`` when there are none)."""
    if not rows:
        return [f"{indent}(nothing in scope)"]
    first = rows[0]
    if "additions" in first:
        body = [
            [str(r.get("file")), str(r["additions"]), str(r["deletions"]), str(r["changes"])]
            for r in rows
        ]
        kinds = {1: lambda _t: "added", 2: lambda _t: "removed"}
        headers = ["FILE", "ADDITIONS", "DELETIONS", "CHANGES"]
        return format_table(headers, body, style=style, styled=kinds, indent=indent)
    if "kestraPath" in first:
        body = []
        for r in rows:
            namespace, path = split_kestra_path(str(r["kestraPath"]))
            body.append([r["gitPath"] or "-", str(r["syncState"]), namespace, path])
        headers = ["PATH", "STATE", "NAMESPACE", "INSTANCE PATH"]
    else:
        body = [
            [
                r["gitPath"] or "-",
                str(r["syncState"]),
                str(r["namespace"]),
                str(r["revision"]),
                str(r["flowId"]),
            ]
            for r in rows
        ]
        headers = ["PATH", "STATE", "NAMESPACE", "REVISION", "FLOW"]
    return format_table(headers, body, style=style, styled={1: state_kind}, indent=indent)


def patch_lines(text: str, *, style: Style | None = None) -> list[str]:
    """A unified diff's lines, coloured like ``git diff`` when ``style`` is given; control
    characters of the content are shown as escapes (a file cannot drive the terminal)."""
    paint = style or _plain
    lines = []
    body = text.removesuffix("\n")
    for line in map(printable, body.split("\n") if body else []):
        if line.startswith(("diff --git", "--- ", "+++ ", "Binary files")):
            lines.append(paint(line, "header"))
        elif line.startswith("@@"):
            lines.append(paint(line, "hunk"))
        elif line.startswith("+"):
            lines.append(paint(line, "added"))
        elif line.startswith("-"):
            lines.append(paint(line, "removed"))
        else:
            lines.append(line)
    return lines
