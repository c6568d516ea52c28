"""Kestra's ``gitConfig`` property written into a repository's config (``.git/config``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pygit2

__all__ = ["apply_git_config"]


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
