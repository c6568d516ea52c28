"""README's main job (scripts/main_job.py) does what README says, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_main_job(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "main_job.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "KESTRA_GIT_HOME": str(home)},
    )


def test_main_job_syncs_the_example_repository_and_lists_the_flows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run_main_job(home)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "your_git_dir/hello.yml                ADDED  git        1" in out
    assert "your_git_dir/team/nightly_report.yml  ADDED  git.team   1" in out
    assert "_files/scripts/etl.py     ADDED  prod       /scripts/etl.py" in out
    assert "_flows/on_push.yml  ADDED  git        1" in out
    assert "README.md" not in out.split("kestra-git flows list:")[0].split("sync_flows.yml:")[1]
    listing = out.split("kestra-git flows list:")[1]
    for flow_id in ("hello", "on_push", "nightly_report"):
        assert flow_id in listing
    second = run_main_job(home)
    assert second.returncode == 0, second.stderr
    assert "ADDED" not in second.stdout and "UNCHANGED" in second.stdout
    for file in home.rglob("*"):
        if file.is_file():
            assert b"demo-token" not in file.read_bytes(), file
