"""Draft flows (Kestra's "save as draft") are never pushed to Git, as upstream PushFlows."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from kestra_git_tasks import PushFlows, RunContext

if TYPE_CHECKING:
    from conftest import MakeRemote
    from fakekestra import FakeKestra

    from kestra_git_tasks.instance.kestra import KestraInstance


def flow(flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: dev\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


def test_drafts_are_left_out_of_a_push_to_git(
    fake_kestra: FakeKestra,
    kestra_instance: KestraInstance,
    remote: MakeRemote,
    tmp_path: Path,
) -> None:
    fake_kestra.add_flow(flow("saved"))
    fake_kestra.add_flow(flow("sketch"), draft=True)
    repo = remote(files={"README.md": "x", "_flows/sketch.yml": flow("sketch")})
    task = PushFlows(
        id="push",
        url=repo.url,
        username="git_user",
        password="s3cr3t-token",
        source_namespace="dev",
    )
    ctx = RunContext.create(instance=kestra_instance, home=tmp_path / "home", flow_id="p")
    ctx.task_id = "push"
    output = task.run(ctx)
    target = tmp_path / "back"
    subprocess.run(
        ["git", "clone", "-q", repo.authenticated_url, str(target)], check=True, capture_output=True
    )
    assert sorted(p.name for p in (target / "_flows").iterdir()) == ["saved.yml"]
    assert isinstance(output, PushFlows.Output)
    assert "_flows/saved.yml" in [row["file"] for row in output.flows]
