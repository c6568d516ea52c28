"""PushExecutionFiles: files of the running execution to Git, through real flow runs (real
processes, the real smart-HTTP git server).

Ported from upstream's PushExecutionFilesTest: pushing output files by glob, by filesMap
(renamed), all output files when nothing is selected, and errorOnMissing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.instance.base import ExecutionRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

GENERATE = """\
  - id: generate
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - "*.txt"
      - run.log
    commands:
      - printf 'report\\n' > report.txt
      - printf 'summary\\n' > summary.txt
      - printf 'log\\n' > run.log
"""


def run(tmp_path: Path, url: str, push: str, generate: str = GENERATE) -> ExecutionRecord:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""id: push_exec
namespace: company.team
tasks:
{generate}  - id: push
    type: io.kestra.plugin.git.PushExecutionFiles
    url: {url}
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT') }}}}"
{push}"""
    )
    with LocalInstance(tmp_path / "home") as instance:
        return run_flow(
            flow, instance=instance, home=tmp_path / "home", secrets={"GIT": DEFAULT_PASSWORD}
        )


def test_globs_push_matching_output_files_and_delete_stale_matching_ones(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n", "reports/old.txt": "old\n", "reports/keep.csv": "k\n"})
    execution = run(tmp_path, repo.url, '    files: ["*.txt"]\n    gitDirectory: reports\n')
    assert execution.state == "SUCCESS", execution.error
    assert repo.files("main") == {
        "README.md": b"r\n",
        "reports/keep.csv": b"k\n",
        "reports/report.txt": b"report\n",
        "reports/summary.txt": b"summary\n",
    }
    output = execution.outputs["push"]
    assert output["commitId"] == repo.head("main")
    assert {row["file"] for row in output["files"]} == {
        "reports/old.txt",
        "reports/report.txt",
        "reports/summary.txt",
    }


def test_files_map_renames_and_keeps_earlier_archives(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"logs/run-earlier.log": "earlier\n"})
    push = (
        "    filesMap:\n"
        '      "run-{{ execution.id }}.log": "{{ outputs.generate.outputFiles[\'run.log\'] }}"\n'
        "    gitDirectory: logs\n"
        '    commitMessage: "Archive log for run {{ execution.id }}"\n'
    )
    execution = run(tmp_path, repo.url, push)
    assert execution.state == "SUCCESS", execution.error
    assert repo.files("main") == {
        "logs/run-earlier.log": b"earlier\n",
        f"logs/run-{execution.id}.log": b"log\n",
    }
    commit = repo.head_commit("main")
    assert commit.message == f"Archive log for run {execution.id}"


def test_without_selection_every_output_file_goes_to_outputs(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n"})
    execution = run(tmp_path, repo.url, "")
    assert execution.state == "SUCCESS", execution.error
    assert set(repo.files("main")) == {
        "README.md",
        "_outputs/report.txt",
        "_outputs/summary.txt",
        "_outputs/run.log",
    }
    assert repo.head_commit("main").message == f"Add files from execution {execution.id}"
    assert any("pushing all execution output files" in log.message for log in execution.logs)


def test_working_folder_files_are_matched_first_inside_a_working_directory(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n"})
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""id: push_wd
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: make
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - mkdir -p out && printf 'a\\n' > out/a.csv && printf 'b\\n' > b.txt
      - id: push
        type: io.kestra.plugin.git.PushExecutionFiles
        url: {repo.url}
        username: {DEFAULT_USERNAME}
        password: "{{{{ secret('GIT') }}}}"
        files: "**.csv"
"""
    )
    with LocalInstance(tmp_path / "home") as instance:
        execution = run_flow(
            flow, instance=instance, home=tmp_path / "home", secrets={"GIT": DEFAULT_PASSWORD}
        )
    assert execution.state == "SUCCESS", execution.error
    assert set(repo.files("main")) == {"README.md", "_outputs/out/a.csv"}


@pytest.mark.parametrize(
    ("push", "generate", "message"),
    [
        ("    errorOnMissing: true\n", "", "No output files found in this execution"),
        (
            '    files: "*.parquet"\n    errorOnMissing: true\n',
            GENERATE,
            "No files matched the provided patterns",
        ),
    ],
)
def test_error_on_missing_fails_when_nothing_is_selected(
    remote: MakeRemote, tmp_path: Path, push: str, generate: str, message: str
) -> None:
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    execution = run(
        tmp_path,
        repo.url,
        push,
        generate or "  - id: noop\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    assert execution.state == "FAILED"
    assert message in (execution.error or "")
    assert repo.head("main") == before


def test_nothing_selected_without_error_on_missing_pushes_nothing(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    noop = "  - id: noop\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    execution = run(tmp_path, repo.url, "", noop)
    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["push"]["commitId"] is None
    assert repo.head("main") == before


@pytest.mark.parametrize(
    ("files_map", "message"),
    [
        ('      "stolen.txt": "/etc/passwd"\n', "is not a file of this execution"),
        (
            '      "../escape.log": "{{ outputs.generate.outputFiles[\'run.log\'] }}"\n',
            "inside gitDirectory",
        ),
        (
            '      "/abs.log": "{{ outputs.generate.outputFiles[\'run.log\'] }}"\n',
            "inside gitDirectory",
        ),
    ],
)
def test_a_files_map_leaving_the_execution_or_the_directory_is_refused(
    remote: MakeRemote, tmp_path: Path, files_map: str, message: str
) -> None:
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    execution = run(tmp_path, repo.url, "    filesMap:\n" + files_map)
    assert execution.state == "FAILED"
    assert message in (execution.error or "")
    assert repo.head("main") == before
