"""Kestra's ``gitConfig`` property: written into a clone's config, read per operation by sync
and push, and the keys never applied anywhere.

- :func:`apply_git_config` writes the keys into a repository's config (Clone's work tree).
- Sync and push have no work tree and share the runner's repository cache between every task,
  so nothing is written there: they read the few keys that mean something to them from the
  mapping, for that operation only (:func:`config_value`, :func:`proxy_url`,
  :func:`converts_crlf`), and say for every other key why it is not applied
  (:func:`unapplied_reasons`).
- A key that would make Git run a program (or include another configuration file)
  (``core.sshCommand``, ``core.fsmonitor``, ``core.hooksPath``, ``credential.helper``,
  ``*.command``, ``filter.*``, ``alias.*``, ``include.path``...) is refused everywhere, Clone
  included, with a warning naming it (:func:`refused_reason`): a flow could otherwise make the
  git commands run later in the clone (or any Git reading that config) start a program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pygit2

__all__ = [
    "apply_git_config",
    "config_value",
    "converts_crlf",
    "crlf_to_lf",
    "proxy_url",
    "refused_reason",
    "unapplied_reasons",
]

#: Keys (lower-cased) naming a program Git runs.
_REFUSED_KEYS = frozenset(
    {
        "core.sshcommand",
        "core.fsmonitor",
        "core.hookspath",
        "core.gitproxy",
        "core.askpass",
        "core.editor",
        "core.pager",
        "sequence.editor",
        "gpg.program",
        "uploadpack.packobjectshook",
        "protocol.allow",
    }
)
#: Last components (lower-cased) that name a program, whatever the section.
_REFUSED_NAMES = frozenset(
    {
        "command",
        "helper",
        "program",
        "driver",
        "textconv",
        "clean",
        "smudge",
        "process",
        "uploadpack",
        "receivepack",
        "sshcommand",
        "gitproxy",
        "askpass",
        "editor",
        "pager",
        "cmd",
    }
)
#: Sections (lower-cased) whose keys run programs (or include other configuration files).
_REFUSED_SECTIONS = frozenset({"alias", "include", "includeif", "filter", "credential"})

#: Why the keys a sync or push does not apply are not applied.
_NO_WORK_TREE = (
    "this task reads and writes Git objects without a work tree or a git process, and the "
    "fetch and push it makes do not read it"
)


def apply_git_config(
    repo: pygit2.Repository,
    git_config: Mapping[str, Any],
    log: Callable[[str, str], None] | None = None,
) -> None:
    """Write ``gitConfig`` into the repository's config, with Kestra's rules.

    A key is ``section.name`` or ``section.subsection.name`` (the section is lower-cased);
    another shape is skipped with a warning. A null or blank value unsets the key; a list
    writes one value per item; booleans, numbers and strings keep their type.
    """
    import pygit2

    say = log or (lambda level, message: None)
    config = repo.config
    for raw_key, value in git_config.items():
        parts = str(raw_key).split(".")
        if len(parts) < 2 or not parts[0] or not parts[-1]:
            say(
                "WARN",
                f"gitConfig: skipped key '{raw_key}': use `section.name` or "
                "`section.subsection.name`",
            )
            continue
        key = ".".join([parts[0].lower(), *parts[1:]])
        refused = refused_reason(key)
        if refused is not None:
            say("WARN", f"gitConfig: refused key '{raw_key}': {refused}")
            continue
        try:
            _set_config(config, key, value)
        except (ValueError, pygit2.GitError) as exc:
            say("WARN", f"gitConfig: skipped key '{raw_key}': {exc}")


def _set_config(config: pygit2.Config, key: str, value: Any) -> None:
    if key in config:
        config.delete_multivar(key, ".*")
    if value is None or (isinstance(value, str) and not value.strip()):
        return
    if isinstance(value, list):
        for item in value:
            config.set_multivar(key, "^$", _config_text(item))
    elif isinstance(value, bool | int):
        config[key] = value
    else:
        config[key] = _config_text(value)


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _parts(raw_key: str) -> tuple[str, str, str] | None:
    """(section, subsection, name), the section and name lower-cased; None for a bad shape."""
    parts = str(raw_key).split(".")
    if len(parts) < 2 or not parts[0] or not parts[-1]:
        return None
    return parts[0].lower(), ".".join(parts[1:-1]), parts[-1].lower()


def refused_reason(raw_key: str) -> str | None:
    """Why ``raw_key`` is never applied (it can make Git run a program), or None."""
    parts = _parts(raw_key)
    if parts is None:
        return None
    section, sub, name = parts
    if (
        f"{section}.{name}" in _REFUSED_KEYS
        or name in _REFUSED_NAMES
        or section in _REFUSED_SECTIONS
        or (section == "protocol" and name == "allow")
        or (section == "remote" and name == "vcs" and bool(sub))
    ):
        return "it can make Git run a program on the runner; gitConfig never applies it"
    return None


def config_value(git_config: Mapping[str, Any] | None, key: str) -> Any:
    """The value of ``section.name`` (case-insensitive) in ``gitConfig``; None when absent or
    blank (blank unsets a key)."""
    wanted = key.lower()
    value = None
    for raw_key, raw_value in (git_config or {}).items():
        if str(raw_key).lower() == wanted:
            value = raw_value
    if isinstance(value, str) and not value.strip():
        return None
    return value


def proxy_url(git_config: Mapping[str, Any] | None) -> str | None:
    """``http.proxy`` of ``gitConfig``, for the operation's connections (not written)."""
    value = config_value(git_config, "http.proxy")
    return None if value is None else str(value).strip()


def converts_crlf(git_config: Mapping[str, Any] | None) -> bool:
    """Whether ``core.autocrlf`` is ``true`` or ``input``: then Git (JGit's ``add`` in
    upstream's push) stores a text file's CRLF line endings as LF."""
    value = config_value(git_config, "core.autocrlf")
    return _config_text(value).lower() in {"true", "input", "yes", "on", "1"} if value else False


def crlf_to_lf(content: bytes) -> bytes:
    """``content`` with CRLF stored as LF, as Git's ``autocrlf`` check-in does: binary content
    (a NUL byte in its first 8000 bytes) and content with a lone CR are left unchanged."""
    if b"\r\n" not in content or b"\0" in content[:8000]:
        return content
    if content.count(b"\r") != content.count(b"\r\n"):
        return content
    return content.replace(b"\r\n", b"\n")


def unapplied_reasons(
    git_config: Mapping[str, Any] | None, applied: Mapping[str, str]
) -> list[str]:
    """A sentence per ``gitConfig`` key a task without a work tree does not apply.

    ``applied``: lower-cased keys the task applies, or explains itself, mapped to "" (applied)
    or to the reason it is not.
    """
    sentences = []
    for raw_key in git_config or {}:
        key = str(raw_key)
        refused = refused_reason(key)
        reason = refused or applied.get(key.lower(), _NO_WORK_TREE)
        if refused is None and _parts(key) is None:
            reason = "use `section.name` or `section.subsection.name`"
        if reason:
            sentences.append(f"gitConfig key '{key}' is not applied: {reason}")
    return sentences
