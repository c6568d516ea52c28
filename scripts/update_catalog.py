#!/usr/bin/env python3
"""Regenerate kestra_git_tasks/data/kestra_types.json from Kestra's public repositories.

Usage::

    python scripts/update_catalog.py GITDIR [GITDIR...] [--output FILE]

Each GITDIR is a clone (or bare mirror) of a kestra-io repository: ``kestra`` itself and any
``plugin-*``. Nothing is built or run: the script reads the Java sources of each repository's
``HEAD`` with ``git`` and keeps every public, non-abstract top-level class under
``src/main/java`` whose inheritance reaches one of Kestra's plugin roots:

* ``task``: ``Task`` (``RunnableTask``, ``FlowableTask``)
* ``trigger``: ``AbstractTrigger`` (``PollingTriggerInterface``, ``RealtimeTriggerInterface``)
* ``condition``: ``Condition``
* ``taskRunner``: ``TaskRunner``

The type name is the class's fully qualified name; its aliases are the strings of
``@Plugin(aliases = ...)``. The superclass chain is followed across every repository given, so
``AbstractJdbcQuery`` (plugin-jdbc) or ``AbstractExecScript`` (kestra) resolve. The output
records each repository's commit and version (``gradle.properties``), and the count. Types of
Kestra newer than the repositories given are added from ``scripts/catalog_supplement.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SUPPLEMENT = Path(__file__).resolve().parent / "catalog_supplement.json"
ROOTS = {
    "Task": "task",
    "RunnableTask": "task",
    "FlowableTask": "task",
    "AbstractTrigger": "trigger",
    "PollingTriggerInterface": "trigger",
    "RealtimeTriggerInterface": "trigger",
    "Condition": "condition",
    "ScheduleCondition": "condition",
    "TaskRunner": "taskRunner",
}
_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*;", re.M)
_IMPORT = re.compile(r"^import\s+([\w.]+)\s*;", re.M)
_CLASS = re.compile(
    r"^public\s+((?:abstract\s+|final\s+)*)class\s+(\w+)\s*(?:<[^{]*?>)?\s*"
    r"(?:extends\s+([\w.]+)\s*(?:<[^{]*?>)?\s*)?(?:implements\s+([^{]+))?\{",
    re.M | re.S,
)
_ALIASES = re.compile(r"aliases\s*=\s*(\{[^}]*\}|\"[^\"]*\")", re.S)
_STRING = re.compile(r"\"([^\"]+)\"")


@dataclass
class JavaClass:
    fqcn: str
    abstract: bool
    extends: str | None
    implements: list[str]
    aliases: list[str]
    deprecated: bool
    source: str
    imports: dict[str, str] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.fqcn.rpartition(".")[0]


def _git(gitdir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(gitdir), *args], input=stdin, capture_output=True, check=True
    ).stdout


def _java_files(gitdir: Path) -> dict[str, str]:
    names = _git(gitdir, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
    wanted = [n for n in names if "/src/main/java/" in f"/{n}" and n.endswith(".java")]
    if not wanted:
        return {}
    batch = _git(
        gitdir, "cat-file", "--batch", stdin="".join(f"HEAD:{n}\n" for n in wanted).encode()
    )
    files: dict[str, str] = {}
    position = 0
    for name in wanted:
        header_end = batch.index(b"\n", position)
        size = int(batch[position:header_end].split()[2])
        files[name] = batch[header_end + 1 : header_end + 1 + size].decode("utf-8", "replace")
        position = header_end + 1 + size + 1
    return files


def _strip_generics(text: str) -> list[str]:
    depth, out, current = 0, [], ""
    for char in text:
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            out.append(current.strip())
            current = ""
        elif depth == 0:
            current += char
    if current.strip():
        out.append(current.strip())
    return [name.split()[-1] for name in out if name]


def parse_class(name: str, text: str, repo: str) -> JavaClass | None:
    package = _PACKAGE.search(text)
    declared = _CLASS.search(text)
    if not package or not declared or declared.group(2) != Path(name).stem:
        return None
    prefix = text[: declared.start()]
    aliases: list[str] = []
    match = _ALIASES.search(prefix)
    if match:
        aliases = _STRING.findall(match.group(1))
    imports = {full.rpartition(".")[2]: full for full in _IMPORT.findall(text)}
    return JavaClass(
        fqcn=f"{package.group(1)}.{declared.group(2)}",
        abstract="abstract" in declared.group(1),
        extends=declared.group(3),
        implements=_strip_generics(declared.group(4) or ""),
        aliases=aliases,
        deprecated="@Deprecated" in prefix,
        source=repo,
        imports=imports,
    )


def _resolve(simple: str, cls: JavaClass, by_fqcn: dict[str, JavaClass]) -> JavaClass | None:
    if "." in simple:
        return by_fqcn.get(simple)
    candidate = cls.imports.get(simple) or f"{cls.package}.{simple}"
    return by_fqcn.get(candidate)


def kind_of(
    cls: JavaClass, by_fqcn: dict[str, JavaClass], seen: frozenset[str] = frozenset()
) -> str | None:
    if cls.fqcn in seen:
        return None
    for parent in [cls.extends, *cls.implements]:
        if parent is None:
            continue
        simple = parent.rpartition(".")[2]
        if simple in ROOTS:
            return ROOTS[simple]
        resolved = _resolve(parent, cls, by_fqcn)
        if resolved is not None and resolved.fqcn != cls.fqcn:
            kind = kind_of(resolved, by_fqcn, seen | {cls.fqcn})
            if kind:
                return kind
    return None


def _version(gitdir: Path) -> str | None:
    try:
        text = _git(gitdir, "show", "HEAD:gradle.properties").decode()
    except subprocess.CalledProcessError:
        return None
    match = re.search(r"^version\s*=\s*(\S+)", text, re.M)
    return match.group(1) if match else None


def _repo_name(gitdir: Path) -> str:
    for part in reversed(gitdir.resolve().parts):
        if "+" in part:  # a mirror folder named owner+name
            return part.replace("+", "/", 1)
    url = _git(gitdir, "config", "--get", "remote.origin.url").decode().strip()
    return "/".join(url.removesuffix(".git").split("/")[-2:])


def build(gitdirs: list[Path], supplement: list[dict[str, str]]) -> dict[str, object]:
    classes: dict[str, JavaClass] = {}
    sources = []
    for gitdir in gitdirs:
        repo = _repo_name(gitdir)
        commit = _git(gitdir, "rev-parse", "HEAD").decode().strip()
        date = _git(gitdir, "log", "-1", "--format=%cI", "HEAD").decode().strip()
        sources.append(
            {"repository": repo, "commit": commit, "date": date, "version": _version(gitdir)}
        )
        for name, text in _java_files(gitdir).items():
            parsed = parse_class(name, text, repo)
            if parsed is not None:
                classes.setdefault(parsed.fqcn, parsed)
    types: list[dict[str, object]] = []
    for cls in sorted(classes.values(), key=lambda c: c.fqcn):
        if cls.abstract or not cls.fqcn.startswith("io.kestra."):
            continue
        kind = kind_of(cls, classes)
        if kind is None or (".core.models." in cls.fqcn and kind != "condition"):
            continue
        entry: dict[str, object] = {"type": cls.fqcn, "kind": kind, "source": cls.source}
        if cls.aliases:
            entry["aliases"] = sorted(set(cls.aliases) - {cls.fqcn})
        if cls.deprecated:
            entry["deprecated"] = True
        types.append(entry)
    known = {str(t["type"]) for t in types}
    for extra in supplement:
        if extra["type"] not in known:
            types.append({**extra, "source": "scripts/catalog_supplement.json"})
    types.sort(key=lambda t: str(t["type"]))
    kestra = next((s for s in sources if s["repository"] == "kestra-io/kestra"), None)
    return {
        "kestraVersion": kestra["version"] if kestra else None,
        "generatedBy": "scripts/update_catalog.py",
        "count": len(types),
        "sources": sorted(sources, key=lambda s: str(s["repository"])),
        "types": types,
    }


def _dump(catalog: dict[str, object]) -> str:
    """JSON with one line per type, so that a regeneration diffs line by line."""
    head = {key: value for key, value in catalog.items() if key != "types"}
    lines = json.dumps(head, indent=1)[:-2] + ',\n "types": [\n'
    types = catalog["types"]
    assert isinstance(types, list)
    lines += ",\n".join("  " + json.dumps(entry) for entry in types)
    return lines + "\n ]\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "gitdirs", nargs="+", type=Path, help="git directories of kestra-io repositories"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent.parent
        / "kestra_git_tasks"
        / "data"
        / "kestra_types.json",
    )
    args = parser.parse_args(argv)
    supplement = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))["types"]
    catalog = build(args.gitdirs, supplement)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(_dump(catalog), encoding="utf-8")
    print(
        f"{catalog['count']} types from {len(args.gitdirs)} repositories -> {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
