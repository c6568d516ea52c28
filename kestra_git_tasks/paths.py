"""The one rule for a path component that may be written to disk (a leaf module, no imports).

Used wherever a name that came from outside (a Git tree, a namespace file, ``inputFiles``) becomes
a file: :mod:`kestra_git_tasks.git.tree` for sync, push and clone, and the working folder of
``WorkingDirectory`` and the script tasks. Refused: an empty name, ``.`` or ``..``; a name
holding ``/``, ``\\`` or NUL; ``.git`` in any case or in a spelling a Windows or macOS file
system reads as ``.git`` (``.git.``, ``.git::$INDEX_ALLOCATION``, ``git~1``, ``.g\u200cit``), so
no file can land in a ``.git`` folder where ``git`` would later execute it (``core.fsmonitor``).
"""

from __future__ import annotations

import re

__all__ = ["unsafe_reason"]

# Code points HFS+ ignores when comparing names (git's is_hfs_dotgit list).
_HFS_IGNORABLE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")


def unsafe_reason(name: str) -> str | None:
    """Why one path component may not be written to disk, or None when it is safe."""
    if name in ("", ".", ".."):
        return f"a path component may not be {name!r}"
    if "/" in name or "\\" in name or "\0" in name:
        return "a path component may not hold '/', '\\' or a NUL byte"
    folded = _HFS_IGNORABLE.sub("", name).lower()
    if folded.partition(":")[0].rstrip(". ") in (".git", "git~1"):
        return "a path component may not be '.git' (in any case or spelling)"
    return None
