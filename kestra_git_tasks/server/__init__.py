"""``kestra-git server``: a long-running server over the embedded instance.

It serves Kestra's webhook URLs, fires Schedule triggers, exposes a subset of Kestra's
executions API and a status page, and runs every execution through
:func:`kestra_git_tasks.runner.run_flow` on a bounded pool of workers, recorded exactly as
``kestra-git run`` records it. See docs/server.md.

::

    from kestra_git_tasks.server import ServerConfig, serve

    serve(ServerConfig(home=Path("~/.kestra-git").expanduser()), on_ready=print)
"""

from __future__ import annotations

from .config import ServerConfig
from .runtime import KestraGitServer, serve

__all__ = ["KestraGitServer", "ServerConfig", "serve"]
