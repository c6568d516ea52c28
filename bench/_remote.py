"""What bench/push.py checks on a remote after each push: heads, trees, changed files.

A fast wrong answer is a problem, not a pass: after a first push ``main`` is one commit on the
README commit holding N files under the flows folder, with the tree the git CLI pushed; a
no-change push leaves ``main`` where it was and reports nothing; a one-change push is one
commit modifying exactly the changed flow's file (tree again equal to the git CLI's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

if TYPE_CHECKING:
    from ._harness import Bench

__all__ = ["BRANCH", "Checker", "PushSetup", "changed_paths", "count_files", "head_of"]

BRANCH = "main"


@dataclass
class PushSetup:
    """One N: the instance template, the expected files and the trees the git CLI pushed."""

    n: int
    home: Path  # template home: the instance with the N flows, nothing else
    files: dict[str, bytes]  # what PushFlows must write: repository path -> content
    flows_dir: str  # where they go
    initial_commit: str  # the README commit every remote starts from
    first_tree: str | None = None  # tree of the first push (set by the git baseline)
    onechange_trees: dict[int, str] = field(default_factory=dict)  # run -> one-change tree


def _tip(path: Path) -> pygit2.Commit:
    repo = pygit2.Repository(str(path))
    commit = repo[repo.references[f"refs/heads/{BRANCH}"].target]
    assert isinstance(commit, pygit2.Commit)
    return commit


def head_of(path: Path) -> tuple[str, list[str], str]:
    """(commit, parents, tree) of ``main`` in the bare repository ``path``."""
    commit = _tip(path)
    return str(commit.id), [str(p) for p in commit.parent_ids], str(commit.tree_id)


def count_files(path: Path, directory: str) -> int:
    """Files under ``directory`` in ``main``'s tree."""
    try:
        node = _tip(path).tree[directory]
    except KeyError:
        return 0
    if not isinstance(node, pygit2.Tree):
        return 1
    total = 0
    stack = [node]
    while stack:
        tree = stack.pop()
        for entry in tree:
            if isinstance(entry, pygit2.Tree):
                stack.append(entry)
            else:
                total += 1
    return total


def changed_paths(path: Path, old: str, new: str) -> list[tuple[str, str]]:
    """``(status, path)`` of every file that differs between commits ``old`` and ``new``."""
    diff = pygit2.Repository(str(path)).diff(old, new)
    return [(delta.status_char(), delta.new_file.path) for delta in diff.deltas]


class Checker:
    """Verifies what a step left on the remote; problems go to ``bench.problems``."""

    def __init__(self, bench: Bench, setup: PushSetup, remote: Path, what: str) -> None:
        self.bench, self.setup, self.remote, self.what = bench, setup, remote, what
        self.head = setup.initial_commit

    def problem(self, text: str) -> None:
        self.bench.problems.append(f"{self.what}: {text}")

    def first(
        self, commit: str | None = None, rows: int | None = None, *, reference: bool = False
    ) -> None:
        """N files under the flows folder in one commit on the initial one, the git CLI's tree
        (``reference``: this is the git CLI's push, which sets the tree the first time)."""
        head, parents, tree = head_of(self.remote)
        n, known = self.setup.n, self.setup.first_tree
        if parents != [self.setup.initial_commit]:
            self.problem(f"first push: head {head[:12]} has parents {parents}")
        files = count_files(self.remote, self.setup.flows_dir)
        if files != n:
            self.problem(f"first push: {files} files under {self.setup.flows_dir}/, expected {n}")
        if count_files(self.remote, "README.md") != 1:
            self.problem("first push: README.md is gone")
        if reference and known is None:
            self.setup.first_tree = tree
        elif known is not None and tree != known:
            who = "the git CLI pushed" if reference else "first push: tree"
            self.problem(f"{who} {tree[:12]}, the git CLI's first push {known[:12]}")
        self._output(commit, head, rows, n)
        self.head = head

    def nochange(self, commit: str | None, rows: int | None) -> None:
        head = head_of(self.remote)[0]
        if head != self.head:
            self.problem(f"no-change push moved the branch: {self.head[:12]} -> {head[:12]}")
        if commit is not None or rows:
            self.problem(f"no-change push reported commit {commit} and {rows} rows")

    def onechange(
        self,
        path: str,
        known: str | None = None,
        commit: str | None = None,
        rows_head: list[dict[str, Any]] | None = None,
        rows: int | None = None,
    ) -> str:
        """One commit on the previous head changing ``path`` (tree ``known``, when given);
        returns its tree."""
        head, parents, tree = head_of(self.remote)
        if parents != [self.head]:
            self.problem(f"one-change push: head {head[:12]} has parents {parents}")
        changed = changed_paths(self.remote, self.head, head)
        if changed != [("M", path)]:
            self.problem(f"one-change push changed {changed[:5]}, expected [('M', {path!r})]")
        if known is not None and tree != known:
            self.problem(f"one-change push: tree {tree[:12]} != the git CLI's {known[:12]}")
        if rows_head is not None and [r.get("file") for r in rows_head] != [path]:
            self.problem(f"one-change push reported rows {rows_head[:3]}")
        self._output(commit, head, rows, 1)
        self.head = head
        return tree

    def _output(self, commit: str | None, head: str, rows: int | None, want: int) -> None:
        if commit is not None and commit != head:
            self.problem(f"reported commit {commit[:12]}, the remote has {head[:12]}")
        if rows is not None and rows != want:
            self.problem(f"{rows} diff rows reported, expected {want}")
