"""README's main job, offline: the seed document's sync flows against a local Git repository.

1. Creates a Git repository holding example flows (with a child-namespace folder) and namespace
   files, in ``$KESTRA_GIT_HOME/demo/repo.git``.
2. Runs the seed document's SyncFlows, SyncNamespaceFiles and webhook SyncFlows examples
   (``flows/*.yml``, unchanged except their ``url``) with ``kestra-git run`` against it and the
   embedded instance.
3. Prints what each changed (path, state, namespace, revision; for files the path that
   ``kestra-git files list`` shows), as ``kestra-git run`` does, then ``kestra-git flows list``.

Run it again: the repository is rebuilt with the same content, so every row says UNCHANGED,
unless you edit ``EXAMPLE_FLOWS`` below or a flow in the instance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from kestra_git_tasks.cli._tables import git_rows, task_table

ROOT = Path(__file__).resolve().parent.parent
KESTRA_GIT = [sys.executable, "-m", "kestra_git_tasks"]

EXAMPLE_FLOWS = {
    "your_git_dir/hello.yml": """\
id: hello
namespace: company.team
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: Hello from Git
""",
    "your_git_dir/team/nightly_report.yml": """\
id: nightly_report
namespace: company.team
tasks:
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "Report for {{ execution.startDate }}"
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
""",
    "your_git_dir/README.md": "Only .yml and .yaml files are flows; this one is skipped.\n",
    "_flows/on_push.yml": """\
id: on_push
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: Synced by the webhook-triggered flow
""",
    "_files/scripts/etl.py": "print('extract, transform, load')\n",
    "_files/queries/daily.sql": "select current_date;\n",
}

SEED_FLOWS = [
    ("sync_flows.yml", "https://github.com/kestra/scripts"),
    ("sync_namespace_files.yml", "https://github.com/kestra-io/flows"),
    ("sync_flows_webhook.yml", "https://github.com/kestra/scripts"),
]


def make_repository(bare: Path) -> None:
    """A bare repository whose main branch holds ``EXAMPLE_FLOWS`` (rebuilt each run)."""
    shutil.rmtree(bare, ignore_errors=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    with tempfile.TemporaryDirectory() as work:
        for relative, content in EXAMPLE_FLOWS.items():
            path = Path(work) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git = ["git", "-C", work, "-c", "init.defaultBranch=main"]
        subprocess.run([*git, "init", "-q"], check=True, env=env)
        subprocess.run([*git, "add", "-A"], check=True, env=env)
        subprocess.run([*git, "commit", "-q", "-m", "Example flows"], check=True, env=env)
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", work, str(bare)], check=True, env=env)


def print_rows(task_output: dict[str, object]) -> None:
    """The task's rows as ``kestra-git run`` prints them (one table code for both)."""
    rows = git_rows(task_output)
    for line in task_table(rows or [], indent="    "):
        print(line)


def main() -> int:
    home = Path(os.environ.get("KESTRA_GIT_HOME", ROOT / ".kestra-git"))
    demo = home / "demo"
    bare = demo / "repo.git"
    make_repository(bare)
    url = bare.as_uri()
    print(f"Example repository: {url}")
    for name, original_url in SEED_FLOWS:
        flow_file = demo / "flows" / name
        flow_file.parent.mkdir(parents=True, exist_ok=True)
        flow_file.write_text((ROOT / "flows" / name).read_text().replace(original_url, url))
        result = subprocess.run(
            [
                *KESTRA_GIT,
                "run",
                str(flow_file),
                "--home",
                str(home),
                "--json",
                "--quiet",
                "--secret",
                "GITHUB_ACCESS_TOKEN=demo-token",
                "--secret",
                "WEBHOOK_KEY=demo-key",
            ],
            capture_output=True,
            text=True,
        )
        print(f"\n{name}:")
        if result.returncode != 0:
            print(result.stderr.strip() or result.stdout.strip(), file=sys.stderr)
            return 1
        execution = json.loads(result.stdout)
        for task_output in execution["outputs"].values():
            print_rows(task_output)
    print("\nkestra-git flows list:")
    listed = subprocess.run([*KESTRA_GIT, "flows", "list", "--home", str(home)], check=False)
    webhook_flow = demo / "flows" / "sync_flows_webhook.yml"
    print(
        "\nTo run the webhook flow on its trigger instead of once, store it and start the "
        "server:\n"
        f"  .venv/bin/kestra-git flows deploy {webhook_flow} --home {home}\n"
        "  SECRET_WEBHOOK_KEY=$(printf demo-key | base64) "
        "SECRET_GITHUB_ACCESS_TOKEN=$(printf demo-token | base64) \\\n"
        f"    .venv/bin/kestra-git server --home {home}\n"
        "  curl -X POST http://127.0.0.1:8080/api/v1/main/executions/webhook/system/"
        "sync_from_git/demo-key\n"
        "(docs/server.md: systemd, a reverse proxy, GitHub's webhook step by step)"
    )
    return listed.returncode


if __name__ == "__main__":
    sys.exit(main())
