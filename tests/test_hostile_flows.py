"""Hostile flow files: deep nesting, alias bombs, files that are not regular files, huge files,
text that is not UTF-8. Each is refused with a FlowFileError naming the file (and line or byte
offset), quickly, and a sync with ignoreInvalidFlows still syncs the other flows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, run_flow
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import load_flow_file, parse_flow, validate_source
from kestra_git_tasks.yamlio import MAX_FILE_BYTES, MAX_NESTING, MAX_NODES, load_yaml

if TYPE_CHECKING:
    from conftest import MakeRemote

GOOD = "id: good\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def nested_flow(depth: int, flow_id: str = "deep") -> str:
    """A flow whose variable ``v`` (line 4) is a list nested ``depth`` levels."""
    return (
        f"id: {flow_id}\nnamespace: n\nvariables:\n  v: {'[' * depth}{']' * depth}\n"
        "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
    )


def alias_bomb(levels: int = 9) -> str:
    """Billion laughs: ``levels`` lists of ten aliases each, 10**levels values once expanded."""
    lines = ["id: bomb", "namespace: n", "variables:", '  a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]")
    lines += ["tasks:", "  - id: a", "    type: io.kestra.plugin.core.log.Log", "    message: hi"]
    return "\n".join(lines) + "\n"


# -- nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 150, 990])
def test_deep_nesting_is_refused_with_file_and_line(depth: int) -> None:
    with pytest.raises(FlowFileError) as caught:
        parse_flow(nested_flow(depth), "flows/deep.yml")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("flows/deep.yml", 4)
    assert f"nested more than {MAX_NESTING} levels" in problem.message


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # the flow's own mapping and ``variables`` are the first two levels
    assert parse_flow(nested_flow(MAX_NESTING - 2)).variables["v"] == _nested(MAX_NESTING - 2)
    assert "nested more than" in validate_source(nested_flow(MAX_NESTING - 1))[0]


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_beyond_libyamls_own_limit_is_refused_too() -> None:
    with pytest.raises(FlowFileError, match=r"deep\.yml:4: "):
        load_yaml(nested_flow(5000), "deep.yml")


def test_validate_reports_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.yml"
    path.write_text(nested_flow(500))
    problems = validate_source(path.read_text(), str(path))
    assert len(problems) == 1 and problems[0].startswith(f"{path}:4: ")
    assert "nested more than" in problems[0]


def test_sync_with_ignore_invalid_flows_skips_a_deep_flow_and_syncs_the_others(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/deep.yml": nested_flow(500), "_flows/good.yml": GOOD})
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        ctx = RunContext.create(instance=instance, home=tmp_path / "home")
        ctx.task_id = "sync"
        task = SyncFlows(
            id="sync",
            url=repo.url,
            username="git_user",
            password="s3cr3t-token",
            target_namespace="prod",
            ignore_invalid_flows=True,
        )
        task.run(ctx)
        assert [f.id for f in instance.list_flows("prod")] == ["good"]


# -- alias bombs ---------------------------------------------------------------------------------


def test_alias_bomb_is_refused_while_loading_with_file_and_line() -> None:
    with pytest.raises(FlowFileError) as caught:
        load_yaml(alias_bomb(), "flows/bomb.yml")
    problem = caught.value.problems[0]
    assert problem.path == "flows/bomb.yml" and problem.line is not None
    assert f"more than {MAX_NODES:,} values" in problem.message


def test_alias_bomb_run_fails_before_any_task(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(alias_bomb())
    with pytest.raises(FlowFileError, match=r"bomb\.yml:"):
        run_flow(path, home=tmp_path / "home")


def test_a_few_aliases_are_fine() -> None:
    flow = parse_flow(alias_bomb(levels=2))
    assert flow.id == "bomb"


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(FlowFileError, match="alias inside its own anchor"):
        load_yaml("a: &a [1, *a]\n", "r.yml")


# -- files that are not flow files ---------------------------------------------------------------


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "flow.yml"
    os.mkfifo(fifo)
    with pytest.raises(FlowFileError, match="not a regular file"):
        load_flow_file(fifo)


def test_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match=r"/dev/zero: not a regular file"):
        load_flow_file("/dev/zero")
    with pytest.raises(FlowFileError, match="not a regular file"):
        run_flow("/dev/zero", home=tmp_path / "home")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match="not a regular file"):
        load_flow_file(tmp_path)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yml"
    path.write_text(GOOD + "#" * MAX_FILE_BYTES)
    with pytest.raises(FlowFileError, match=f"larger than {MAX_FILE_BYTES // 2**20} MiB"):
        load_flow_file(path)


def test_latin1_flow_is_refused_with_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    content = GOOD.replace("hi", "caf\u00e9").encode("latin-1")
    path.write_bytes(content)
    offset = content.index(b"\xe9")
    with pytest.raises(FlowFileError) as caught:
        load_flow_file(path)
    problem = caught.value.problems[0]
    assert problem.path == str(path) and problem.line == 6
    assert f"not UTF-8 text: byte 0xe9 at offset {offset}" in problem.message
    assert path.read_bytes() == content  # nothing was altered


def test_cli_validate_and_run_refuse_a_fifo_and_latin1_with_exit_1(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kestra_git_tasks.cli import cli

    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes(GOOD.replace("hi", "caf\u00e9").encode("latin-1"))
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    for args in (["validate", str(fifo)], ["run", str(fifo)]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 1 and "not a regular file" in result.stderr, result.output
    for args in (["validate", str(latin1)], ["run", str(latin1)]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 1 and f"{latin1}:6: not UTF-8 text" in result.stderr


def test_a_list_as_a_mapping_key_is_refused_with_its_line() -> None:
    with pytest.raises(FlowFileError, match=r"k\.yml:2: a mapping key must be a plain value"):
        load_yaml("a: 1\n? [x, y]\n: 2\n", "k.yml")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("!!int", "'' is not a valid !!int value"),
        ("!!bool maybe", "'maybe' is not a valid !!bool"),
        ("9" * 5000, "!!int value"),
    ],
)
def test_odd_tagged_values_are_refused_with_their_line(value: str, fragment: str) -> None:
    # found by tests/test_fuzz.py: PyYAML raised IndexError for an empty !!int
    with pytest.raises(FlowFileError, match=r"v\.yml:2: invalid YAML: ") as caught:
        load_yaml(f"a: 1\nb: {value}\n", "v.yml")
    assert fragment in str(caught.value)
