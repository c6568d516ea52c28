"""Globs as Kestra's: Java's ``glob:`` (alternation, classes, ``**``) and ``regex:`` for
PushFlows ``flows`` and PushNamespaceFiles ``files``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kestra_git_tasks import PushFlows, PushNamespaceFiles, RunContext
from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.instance.base import Instance, LogRecord
from kestra_git_tasks.tasks.git._push import java_glob_matches
from kestra_git_tasks.tasks.git.push_namespace_files import path_matches

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("{alpha,beta}", "alpha", True),
        ("{alpha,beta}", "gamma", False),
        ("{alpha,beta}", "alphabeta", False),
        ("etl_{daily,weekly}_*", "etl_weekly_sales", True),
        ("[ab]*", "beta", True),
        ("[!ab]*", "beta", False),
        ("[a-c]?", "b1", True),
        ("?", "ab", False),
        ("*", "a/b", False),  # `*` stays in a folder
        ("**", "a/b", True),
        ("a/**", "a/b/c", True),
        ("**.yml", "a/b.yml", True),  # Java: `**` inside a name crosses folders
        ("**/b.yml", "a/c/b.yml", True),
        ("**/b.yml", "b.yml", False),  # Java's `**/` is `.*/`
        ("*.{yml,yaml}", "f.yaml", True),
        ("*.YML", "f.yml", False),  # case-sensitive, as on Linux
        (".*", ".hidden", True),
        ("*", ".hidden", True),  # Java's `*` matches dot names
        ("regex:etl_.*", "etl_x", True),
        ("regex:etl", "etl_x", False),  # a full match
        ("glob:{a,b}", "b", True),
    ],
)
def test_java_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    assert java_glob_matches(pattern, path) is matches


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.{py,sql}", "/a/q.sql", True),
        ("{a,b}.txt", "/a.txt", False),  # not a word character: no `**/`, and paths start with /
        ("/{a,b}.txt", "/a.txt", True),
        ("data/[0-9]*.csv", "/x/data/1.csv", True),  # word start: `**/` first
        ("regex:/d/.*", "/d/x", True),
    ],
)
def test_namespace_file_paths_are_matched_with_their_leading_slash(
    pattern: str, path: str, matches: bool
) -> None:
    assert path_matches(pattern, path) is matches


@pytest.mark.parametrize("pattern", ["[", "{a,b", "a]", "{,}", "\\", "**/**/**/**/**/**/**/**/x"])
def test_hostile_globs_match_or_not_but_never_crash(pattern: str) -> None:
    assert java_glob_matches(pattern, "a/b/x") in (True, False)
    assert path_matches(pattern, "/a/b/x") in (True, False)


def test_a_broken_regex_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"invalid regular expression in glob 'regex:\('"):
        java_glob_matches("regex:(", "a")


def _pushed(repo: BareRemote, tmp_path: Path, prefix: str) -> list[str]:
    target = tmp_path / f"back-{len(list(tmp_path.iterdir()))}"
    subprocess.run(
        ["git", "clone", "-q", repo.authenticated_url, str(target)], check=True, capture_output=True
    )
    return sorted(
        str(p.relative_to(target / prefix)) for p in (target / prefix).rglob("*") if p.is_file()
    )


def _context(instance: Instance, home: Path) -> RunContext:
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="push")
    ctx.task_id = "push"
    return ctx


def test_alternation_pushes_exactly_those_two_flows(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    for flow_id in ("alpha", "beta", "gamma", "alphabet"):
        any_instance.put_flow(
            f"id: {flow_id}\nnamespace: dev\ntasks:\n  - id: log\n"
            "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        )
    repo = remote(files={"README.md": "x"})
    task = PushFlows(
        id="push",
        url=repo.url,
        username=USER,
        password=PASSWORD,
        source_namespace="dev",
        flows="{alpha,beta}",
    )
    task.run(_context(any_instance, tmp_path / "home"))
    assert _pushed(repo, tmp_path, "_flows") == ["alpha.yml", "beta.yml"]


def test_namespace_files_alternation_and_classes_select_files(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    for path in ("/q1.sql", "/q2.sql", "/qa.sql", "/etl.py", "/sub/q3.sql", "/notes.md"):
        any_instance.write_file("dev", path, b"x")
    repo = remote(files={"README.md": "x"})
    task = PushNamespaceFiles(
        id="push",
        url=repo.url,
        username=USER,
        password=PASSWORD,
        namespace="dev",
        files=["/q[0-9].sql", "**/*.{py,md}"],
    )
    task.run(_context(any_instance, tmp_path / "home"))
    assert _pushed(repo, tmp_path, "_files") == ["etl.py", "notes.md", "q1.sql", "q2.sql"]


def test_a_glob_kestra_never_matches_is_warned_about(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    any_instance.write_file("dev", "/etl.py", b"x")
    repo = remote(files={"README.md": "x"})
    task = PushNamespaceFiles(
        id="push", url=repo.url, username=USER, password=PASSWORD, namespace="dev", files="*.py"
    )
    ctx = _context(any_instance, tmp_path / "home")
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    task.run(ctx)
    assert any(
        "files glob '*.py' never matches" in r.message and "'**/*.py'" in r.message
        for r in records
        if r.level == "WARN"
    )
