"""Several sync processes in one home at once: every one succeeds, and the memory of the last
sync stays readable (each process writes its own temporary file, then moves it into place)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kestra_git_tasks import LocalInstance

if TYPE_CHECKING:
    from conftest import MakeRemote

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 6

SCRIPT = """
import sys, time
from pathlib import Path
from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, SyncNamespaceFiles
from kestra_git_tasks.flow import validate_source

home, url, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ROUNDS = 10
EDITED = (
    "id: f0000\\nnamespace: prod\\ntasks:\\n  - id: log\\n"
    "    type: io.kestra.plugin.core.log.Log\\n    message: edited\\n"
)
time.sleep(max(0.0, start - time.time()))  # start together
auth = {"username": "git_user", "password": "s3cr3t-token"}
with LocalInstance(home, validator=validate_source) as instance:
    for round in range(ROUNDS):
        # an edit in the instance: every round plans, applies and remembers again
        instance.put_flow(EDITED.replace("edited", f"edited {round}"))
        for task in (
            SyncFlows(id="flows", url=url, target_namespace="prod", **auth),
            SyncNamespaceFiles(id="files", url=url, namespace="prod", **auth),
        ):
            ctx = RunContext.create(
                instance=instance, home=home, namespace="system", flow_id="sync"
            )
            ctx.task_id = task.id
            task.run(ctx)
print("ok", flush=True)
"""


def flow(flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: dev\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


def test_concurrent_sync_processes_in_one_home_all_succeed(
    remote: MakeRemote, tmp_path: Path
) -> None:
    files: dict[str, bytes | str] = {f"_flows/f{i:04d}.yml": flow(f"f{i:04d}") for i in range(400)}
    files.update({f"_files/d{i:04d}.txt": f"file {i}\n" for i in range(400)})
    repo = remote(files=files)
    home = tmp_path / "home"
    LocalInstance(home).close()  # the schema exists before the processes race
    script = tmp_path / "sync_child.py"
    script.write_text(SCRIPT)
    start = __import__("time").time() + 2.0
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(home), repo.url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(PROCESSES)
    ]
    results = [child.communicate(timeout=300) for child in children]
    failures = [err for child, (_, err) in zip(children, results, strict=True) if child.returncode]
    assert failures == []
    state = home / "sync-state"
    assert sorted(p.suffix for p in state.iterdir()) == [".json", ".json"]  # no temp left
    for path in state.iterdir():
        assert json.loads(path.read_text())["commit"] == repo.head("main")
    with LocalInstance(home) as instance:
        assert len(instance.list_flows("prod")) == 400
        assert len(instance.list_files("prod")) == 400


SAVE_SCRIPT = """
import sys, time
from pathlib import Path
from kestra_git_tasks.tasks.git._sync_rows import FileRow, SyncMemory, SyncState

path, start = Path(sys.argv[1]), float(sys.argv[2])
rows = [FileRow(f"_files/{i}.txt", SyncState.ADDED, f"/prod/_files/{i}.txt") for i in range(2000)]
memory = SyncMemory("prod", sys.argv[3], rows, {"/a.txt": [1, "0" * 64]})
time.sleep(max(0.0, start - time.time()))
for _ in range(100):
    memory.save(path)
"""


def test_processes_remembering_the_same_sync_at_once_never_fail_or_leave_temp_files(
    tmp_path: Path,
) -> None:
    path = tmp_path / "home" / "sync-state" / "key.json"
    script = tmp_path / "save_child.py"
    script.write_text(SAVE_SCRIPT)
    start = __import__("time").time() + 1.0
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), str(start), f"{n:040d}"],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for n in range(PROCESSES)
    ]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * PROCESSES, errors
    assert [p.name for p in path.parent.iterdir()] == ["key.json"]
    saved = json.loads(path.read_text())
    assert saved["commit"] in {f"{n:040d}" for n in range(PROCESSES)} and len(saved["rows"]) == 2000
