"""Small things of issue 14: errors for a local repository speak of paths, not proxies and ports;
`kestra-git docs` writes only where it is told (or its own checkout's docs/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.cli import cli
from kestra_git_tasks.cli.docs import project_docs

ROOT = Path(__file__).resolve().parent.parent


def sync_flow(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sync.yml"
    path.write_text(
        "id: s\nnamespace: system\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {url}\n    targetNamespace: prod\n"
    )
    return path


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///nonexistent/repo.git", "Cannot open the local repository"),
        ("file://{tmp}/not-a-repo", "Cannot open the local repository"),
        ("/nonexistent/repo.git", "is not a URL"),
        ("relative/repo", "is not a URL"),
    ],
)
def test_a_local_repository_error_talks_about_the_path(tmp_path: Path, url: str, says: str) -> None:
    (tmp_path / "not-a-repo").mkdir()
    url = url.format(tmp=tmp_path)
    with LocalInstance(tmp_path / "home") as instance:
        execution = run_flow(sync_flow(tmp_path, url), instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED"
    error = execution.error or ""
    assert says in error
    for word in ("proxy", "noProxy", "port", "server is up"):
        assert not re.search(rf"\b{word}\b", error), error


def test_a_network_error_still_names_host_and_port(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home") as instance:
        flow = sync_flow(tmp_path, "http://127.0.0.1:9/repo.git")
        execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED" and re.search(r"\bport\b", execution.error or "")


def test_docs_output_writes_the_pages_there(tmp_path: Path) -> None:
    target = tmp_path / "reference"
    result = CliRunner().invoke(cli, ["docs", "--output", str(target)])
    assert result.exit_code == 0, result.stderr
    assert (target / "cli.md").is_file() and (target / "tasks" / "index.md").is_file()
    result = CliRunner().invoke(cli, ["docs", "--check", "--output", str(target)])
    assert result.exit_code == 0 and "up to date" in result.stdout


def test_docs_default_is_this_checkouts_docs_folder() -> None:
    assert project_docs() == ROOT / "docs"


def test_docs_outside_its_checkout_never_writes_a_users_docs_folder(tmp_path: Path) -> None:
    """An installed package (no checkout around it), run in a project that has its own docs/."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "kestra_git_tasks", site / "kestra_git_tasks")
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "cli.md").write_text("my own page\n")
    result = subprocess.run(
        [sys.executable, "-m", "kestra_git_tasks", "docs"],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=120,
    )
    assert result.returncode == 2 and "--output DIR" in result.stderr
    assert (project / "docs" / "cli.md").read_text() == "my own page\n"
    assert sorted(p.name for p in (project / "docs").iterdir()) == ["cli.md"]
