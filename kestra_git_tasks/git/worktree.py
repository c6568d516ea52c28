"""What a work tree made by ``Clone`` says about itself: the URL of its ``origin``.

The deprecated ``Push`` task, without ``url``, pushes to the repository an earlier ``Clone``
left in the working folder; this is the one place that opens such a work tree.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

__all__ = ["origin_url"]


def origin_url(folder: Path) -> str | None:
    """The URL of ``origin`` of the repository at ``folder`` (credentials never stored there:
    ``Clone`` writes it without them), or None when ``folder`` holds no repository or it has
    no ``origin``."""
    if not (folder / ".git").exists():
        return None
    try:
        repo = pygit2.Repository(str(folder))
    except pygit2.GitError:
        return None
    if "origin" not in repo.remotes.names():
        return None
    url = repo.remotes["origin"].url
    return url or None
