"""A no-change sync hands on its remembered rows without parsing them (``SyncRows``), and
every consumer sees exactly what the full path gives: the Python output, the recorded
execution, templates of later tasks, the diff file and the CLI table.

Each no-change run is compared with the same run sent down the full path (the no-change head
files removed, so the run re-plans and builds its rows as objects). That ``run()`` parses no
row is shown by the JSON documents the interpreter decodes while it runs (``sys.setprofile``
sees every call of ``json.decoder.JSONDecoder.decode`` and the text it is given).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from test_change_stamps import sync_files

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, run_flow
from kestra_git_tasks.cli.run import echo_task_tables
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.tasks.git._sync_rows import SyncRows

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
LOG = "io.kestra.plugin.core.log.Log"
DECODER = ("json/decoder.py", "json\\decoder.py")


def flow(flow_id: str, namespace: str = "anything") -> str:
    return f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n    type: {LOG}\n    message: hi\n"


REPO = {
    "_flows/a.yml": flow("a"),
    "_flows/team/b.yml": flow("b"),
    "_flows/team/é\u2028c.yml": flow("c"),  # a line separator: not a line break of JSON Lines
    "_files/x.txt": "x",
    "_files/deep/y.txt": "y",
}


def forget_no_change(home: Path) -> None:
    """Send the next run down the full path (same commit, same instance)."""
    for head in (home / "sync-quick").glob("*.head.json"):
        head.unlink()


def sync_flows(instance: LocalInstance, home: Path, url: str) -> SyncFlows.Output:
    task = SyncFlows(
        id="sync",
        url=url,
        username=USER,
        password=PASSWORD,
        target_namespace="prod",
        include_child_namespaces=True,
        delete=True,
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = "sync"
    return task.run(ctx)


@contextmanager
def decoded_documents() -> Iterator[list[str]]:
    """The text of every JSON document decoded by the json module inside the block."""
    seen: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == "decode" and code.co_filename.endswith(DECODER):
            text = frame.f_locals.get("s")
            seen.append(text.decode() if isinstance(text, bytes) else str(text))

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def test_a_no_change_run_parses_no_row(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files=REPO)
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync_flows(instance, home, repo.url)
        with decoded_documents() as during_run:
            output = sync_flows(instance, home, repo.url)
        assert isinstance(output.flows, SyncRows) and not output.flows.parsed
        assert len(output.flows) == 3 and not output.flows.parsed  # the count needs no parse
        with decoded_documents() as when_read:
            assert output.flows[0]["flowId"] == "a"
    assert during_run, "the profiler saw no decode: it would prove nothing"
    assert not [text for text in during_run if "_flows/a.yml" in text]
    assert [text for text in when_read if "_flows/a.yml" in text]  # parsed when read


def test_the_python_output_of_a_no_change_run_equals_the_full_paths(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files=REPO)
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync_flows(instance, home, repo.url)
        sync_files(instance, home, repo.url)
        quick_flows = sync_flows(instance, home, repo.url)
        quick_files = sync_files(instance, home, repo.url)
        quick_diffs = [Path(o.diff_file).read_bytes() for o in (quick_flows, quick_files)]
        forget_no_change(home)
        full_flows = sync_flows(instance, home, repo.url)
        full_files = sync_files(instance, home, repo.url)
    for quick, full in (
        (quick_flows.flows, full_flows.flows),
        (quick_files.files, full_files.files),
    ):
        assert isinstance(quick, SyncRows) and isinstance(full, list)
        assert quick == full and full == quick and quick != full[:-1]
        assert len(quick) == len(full) and list(quick) == full and quick[:] == full
        assert quick[-1] == full[-1] and full[0] in quick
        assert json.dumps(list(quick)) == json.dumps(full)
        assert repr(quick) == repr(full)
    assert [r["syncState"] for r in quick_flows.flows] == ["UNCHANGED"] * 3
    for quick_output, full_output in ((quick_flows, full_flows), (quick_files, full_files)):
        quick_dict, full_dict = quick_output.to_dict(), full_output.to_dict()
        assert list(quick_dict) == list(full_dict)  # the same keys, in the same order
        assert {**quick_dict, "diffFile": ""} == {**full_dict, "diffFile": ""}
        assert quick_output.model_dump(exclude={"diff_file"}) == full_output.model_dump(
            exclude={"diff_file"}
        )
    assert quick_diffs == [Path(o.diff_file).read_bytes() for o in (full_flows, full_files)]


def test_a_torn_rows_file_sends_a_no_change_run_down_the_full_path(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files=REPO)
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        first = sync_flows(instance, home, repo.url)
        (rows,) = (home / "sync-quick").glob("*.rows.jsonl")
        rows.write_bytes(rows.read_bytes()[:-30])
        again = sync_flows(instance, home, repo.url)
    assert isinstance(again.flows, list)
    assert [r["flowId"] for r in again.flows] == [r["flowId"] for r in first.flows]


def test_damaged_remembered_rows_fail_when_read_not_silently(tmp_path: Path) -> None:
    rows = SyncRows(b'{"gitPath": "a"}\n{"gitPath": \n')
    assert len(rows) == 2
    try:
        rows.to_list()
    except ValueError:
        pass
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a torn row was parsed")
    assert SyncRows(b"") == [] and len(SyncRows(b"")) == 0


def runner_flow(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "flow.yml"
    path.write_text(
        f"""id: sync
namespace: system
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: {url}
    username: {USER}
    password: "{{{{ secret('GIT_PASSWORD') }}}}"
    targetNamespace: prod
    includeChildNamespaces: true
    delete: true
  - id: seen
    type: io.kestra.plugin.core.output.OutputValues
    values:
      count: "{{{{ outputs.sync.flows | length }}}}"
      first: "{{{{ outputs.sync.flows[0].flowId }}}}"
      paths: "{{% for r in outputs.sync.flows %}}{{{{ r.gitPath }}}}={{{{ r.syncState }}}};{{% endfor %}}"
"""
    )
    return path


def test_recorded_outputs_templates_and_table_of_a_no_change_run_equal_the_full_paths(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files=REPO)
    home = tmp_path / "home"
    path = runner_flow(tmp_path, repo.url)
    secrets = {"GIT_PASSWORD": PASSWORD}
    assert run_flow(path, home=home, secrets=secrets).state == "SUCCESS"
    quick = run_flow(path, home=home, secrets=secrets)
    forget_no_change(home)
    full = run_flow(path, home=home, secrets=secrets)
    assert quick.state == full.state == "SUCCESS", (quick.error, full.error)
    assert quick.outputs["seen"]["values"]["count"] == "3"
    assert quick.outputs["seen"]["values"] == full.outputs["seen"]["values"]

    def without_paths(outputs: dict[str, Any]) -> dict[str, Any]:
        sync = dict(outputs["sync"])
        assert Path(sync.pop("diffFile")).is_file()
        return {**outputs, "sync": sync}

    assert without_paths(quick.outputs) == without_paths(full.outputs)
    with LocalInstance(home) as instance:
        stored = [instance.get_execution(e.id) for e in (quick, full)]
    assert [without_paths(e.outputs) for e in stored if e] == [without_paths(full.outputs)] * 2
    tables = []
    for execution in (quick, full):
        out = io.StringIO()
        with redirect_stdout(out):
            echo_task_tables(execution.outputs, style=None)
        tables.append(out.getvalue())
    assert tables[0] == tables[1] and "UNCHANGED" in tables[0]
