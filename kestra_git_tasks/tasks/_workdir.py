"""Files in and out of a working folder: ``inputFiles``, ``namespaceFiles``, ``outputFiles``.

Shared by ``WorkingDirectory`` and the script ``Commands`` tasks. Every path is relative to the
working folder and may not leave it.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from ..errors import ConfigError
from ..paths import unsafe_reason
from ._base import Task

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = [
    "NamespaceFiles",
    "WorkdirFilesTask",
    "collect_output_files",
    "inject_namespace_files",
    "parse_input_files",
    "path_inside",
    "write_input_files",
]


class NamespaceFiles(BaseModel):
    """Kestra's ``namespaceFiles``: which namespace files to copy into the working folder."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    enabled: bool = Field(default=True, description="Copy namespace files at all.")
    include: list[str] | None = Field(
        default=None, description="Globs of paths to copy (all when unset)."
    )
    exclude: list[str] | None = Field(default=None, description="Globs of paths to leave out.")
    namespaces: list[str] | None = Field(
        default=None, description="Namespaces to copy from (the flow's namespace when unset)."
    )
    folder_per_namespace: bool = Field(
        default=False, description="Put each namespace's files in a folder named after it."
    )
    if_exists: str = Field(
        default="OVERWRITE",
        pattern="^(OVERWRITE|FAIL|WARN|IGNORE)$",
        description="What to do when a file already exists: OVERWRITE, FAIL, WARN or IGNORE.",
    )


_FILES: JsonDict = {"group": "files"}


class WorkdirFilesTask(Task):
    """A task with a working folder: files put in before it runs, files kept after."""

    input_files: dict[str, str] | str | None = Field(
        default=None,
        description="Files to create in the working folder before running: a map of relative "
        "path to content, or that map as JSON text.",
        json_schema_extra=_FILES,
    )
    output_files: list[str] | None = Field(
        default=None,
        description="Globs (relative to the working folder) of files to keep after the run; "
        "they are copied to the execution's output folder.",
        json_schema_extra=_FILES,
    )
    namespace_files: NamespaceFiles | None = Field(
        default=None,
        description="Namespace files to copy in before running: `enabled` (default true), "
        "`include` / `exclude` (globs, `*` crosses folders), `namespaces` (default: the "
        "flow's), `folderPerNamespace`, `ifExists` (OVERWRITE, FAIL, WARN or IGNORE).",
        json_schema_extra=_FILES,
    )


def path_inside(folder: Path, relative: str, what: str) -> Path:
    """``folder / relative``, refusing absolute paths, paths that leave ``folder`` and paths
    with a ``.git`` component in any spelling (a file there would be run by a later ``git``)."""
    candidate = PurePosixPath(relative.strip())
    for part in candidate.parts:
        reason = unsafe_reason(part) if part not in (".", "..") else None
        if reason is not None:
            raise ConfigError(f"{what} '{relative}' is refused: {reason}; rename the file.")
    target = (folder / candidate).resolve()
    if (
        not relative.strip()
        or candidate.is_absolute()
        or not target.is_relative_to(folder.resolve())
    ):
        raise ConfigError(
            f"{what} '{relative}' must be a relative path inside the working directory "
            "(no absolute path, no '..' leaving it)."
        )
    return target


def parse_input_files(value: dict[str, str] | str | None) -> dict[str, str]:
    """``inputFiles`` as a map of path -> content; a string must hold a JSON object."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"`inputFiles` must be a map of file name to content, or a JSON object as text: {exc}"
        ) from exc
    if not isinstance(parsed, dict):
        raise ConfigError("`inputFiles` must be a map of file name to content.")
    return {str(name): _text(content) for name, content in parsed.items()}


def write_input_files(folder: Path, files: dict[str, str]) -> list[Path]:
    """Write each file (parents created); returns the paths written."""
    written = []
    for name, content in files.items():
        target = path_inside(folder, name, "`inputFiles` name")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(target)
    return written


def inject_namespace_files(ctx: RunContext, folder: Path, spec: NamespaceFiles) -> int:
    """Copy the selected namespace files into ``folder``; returns how many were written."""
    if not spec.enabled:
        return 0
    if ctx.instance is None:
        ctx.warn("`namespaceFiles` is set but there is no instance to read them from: skipped")
        return 0
    count = 0
    for namespace in spec.namespaces or [ctx.flow.namespace]:
        base = folder / namespace if spec.folder_per_namespace else folder
        for record in ctx.instance.list_files(namespace):
            relative = record.path.lstrip("/")
            if not _selected(relative, spec.include, spec.exclude):
                continue
            target = path_inside(base, relative, "namespace file")
            if target.exists() and spec.if_exists != "OVERWRITE":
                if spec.if_exists == "FAIL":
                    raise ConfigError(
                        f"namespace file '{relative}' already exists in the working directory "
                        "(`namespaceFiles.ifExists: FAIL`)."
                    )
                if spec.if_exists == "WARN":
                    ctx.warn(f"namespace file '{relative}' already exists: kept")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(ctx.instance.read_file(namespace, record.path))
            count += 1
    return count


def collect_output_files(folder: Path, globs: list[str], destination: Path) -> dict[str, str]:
    """Copy the files of ``folder`` matching ``globs`` to ``destination`` (same relative paths).

    Returns ``{relative path: absolute path of the copy}``, sorted by path. A glob is relative
    to ``folder`` (``*.csv``, ``out/**/*.json``); ``*`` does not cross folders, ``**`` does.
    """
    found: dict[str, Path] = {}
    root = folder.resolve()
    for pattern in globs:
        _check_glob(pattern)
        for match in sorted(root.glob(pattern.strip())):
            if match.is_file() and match.resolve().is_relative_to(root):
                found[match.relative_to(root).as_posix()] = match
    copies: dict[str, str] = {}
    for relative, source in sorted(found.items()):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copies[relative] = str(target)
    return copies


def _check_glob(pattern: str) -> None:
    parts = PurePosixPath(pattern.strip())
    if not pattern.strip() or parts.is_absolute() or ".." in parts.parts:
        raise ConfigError(
            f"`outputFiles` glob '{pattern}' must be a non-empty pattern relative to the "
            "working directory (no absolute path, no '..')."
        )


def _selected(path: str, include: list[str] | None, exclude: list[str] | None) -> bool:
    if include and not any(fnmatch.fnmatch(path, pattern) for pattern in include):
        return False
    return not (exclude and any(fnmatch.fnmatch(path, pattern) for pattern in exclude))


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content)
