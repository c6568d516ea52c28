"""The runner's home folder (a leaf module: the CLI reads it before importing anything heavy)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["HOME_ENV", "default_home"]

HOME_ENV = "KESTRA_GIT_HOME"


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """The runner's home folder: ``KESTRA_GIT_HOME``, else ``~/.kestra-git``."""
    environ = os.environ if environ is None else environ
    configured = environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".kestra-git"
