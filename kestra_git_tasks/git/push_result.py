"""What a push did, and who commits: plain data, no pygit2 (``git/push.py`` re-exports them).

A push task builds its no-change answer (:class:`PushResult` of nothing) and its default
committer (:class:`Identity`) from here without loading pygit2 or the push machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DiffRow", "Identity", "PushResult"]


@dataclass(frozen=True)
class Identity:
    """A commit author or committer."""

    name: str
    email: str


@dataclass(frozen=True)
class DiffRow:
    """One changed file, counted as Kestra does (per hunk, ``new - old`` lines)."""

    file: str
    additions: int
    deletions: int
    changes: int

    def to_dict(self) -> dict[str, str]:
        """Kestra's row: every value a string (``+10``, ``-0``, ``0``)."""
        return {
            "file": self.file,
            "additions": f"+{self.additions}",
            "deletions": f"-{self.deletions}",
            "changes": str(self.changes),
        }


@dataclass
class PushResult:
    """What a push did."""

    commit_id: str | None
    rows: list[DiffRow]
    base_commit: str | None
    created_branch: bool
    attempts: int
    deleted: list[str] = field(default_factory=list)
