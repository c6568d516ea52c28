"""A small GitOps scenario for command-line tests: a repository of flows and files, and the
flow files that sync it into ``prod`` (for real or as a dry run) and push ``prod`` back.

Used by the output, progress and recorded-session tests, which run ``kestra-git`` for real
against the smart-HTTP server of :mod:`tests.gitserver`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

__all__ = ["FLOWS", "KESTRA_GIT", "ROOT", "TOKEN_SECRET", "flow_files", "hello", "kestra_git_env"]

ROOT = Path(__file__).resolve().parent.parent
KESTRA_GIT = [sys.executable, "-m", "kestra_git_tasks"]
TOKEN_SECRET = f"GIT_TOKEN={DEFAULT_PASSWORD}"


def hello(message: str = "Hello from Git") -> str:
    return (
        "id: hello\nnamespace: prod\ntasks:\n  - id: greet\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


FLOWS: dict[str, bytes | str] = {
    "_flows/hello.yml": hello(),
    "_flows/report.yml": (
        "id: report\nnamespace: prod\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: daily report\n"
    ),
    "_files/scripts/etl.py": "print('extract')\nprint('load')\n",
}

_GIT = """\
    url: {url}
    username: {user}
    password: "{{{{ secret('GIT_TOKEN') }}}}"
"""


def flow_files(folder: Path, url: str) -> dict[str, Path]:
    """Write ``sync.yml`` (SyncFlows + SyncNamespaceFiles into ``prod``, deletes on),
    ``plan.yml`` (the same as a dry run) and ``push.yml`` (PushFlows of ``prod`` to branch
    ``export``); return their paths by name."""
    git = _GIT.format(url=url, user=DEFAULT_USERNAME)
    sync_tasks = (
        f"  - id: flows\n    type: io.kestra.plugin.git.SyncFlows\n{git}"
        "    targetNamespace: prod\n    delete: true\n    dryRun: DRY\n"
        f"  - id: files\n    type: io.kestra.plugin.git.SyncNamespaceFiles\n{git}"
        "    namespace: prod\n    delete: true\n    dryRun: DRY\n"
    )
    texts = {
        "sync": "id: sync\nnamespace: system\ntasks:\n" + sync_tasks.replace("DRY", "false"),
        "plan": "id: plan\nnamespace: system\ntasks:\n" + sync_tasks.replace("DRY", "true"),
        "push": (
            "id: push\nnamespace: system\ntasks:\n"
            f"  - id: push\n    type: io.kestra.plugin.git.PushFlows\n{git}"
            "    sourceNamespace: prod\n    branch: export\n    gitDirectory: exported\n"
            "    commitMessage: flows of prod\n"
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in texts.items():
        paths[name] = folder / f"{name}.yml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def kestra_git_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``kestra-git`` process using ``home``."""
    env = {**os.environ, "KESTRA_GIT_HOME": str(home), **extra}
    env.pop("NO_COLOR", None)
    return env | extra
