"""The catalog of Kestra's type names and its rules on every path: validate, run, sync, deploy.

* a misspelt ``io.kestra.`` type: an invalid flow, with "did you mean";
* a Kestra type this library does not run: valid, stored, refused by ``run``;
* a type outside ``io.kestra.`` (a custom plugin): stored with a warning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, run_flow
from kestra_git_tasks.catalog import catalog_info, lookup, suggest
from kestra_git_tasks.cli import cli
from kestra_git_tasks.deploy import deploy_folder
from kestra_git_tasks.errors import ConfigError, FlowFileError, FlowValidationError
from kestra_git_tasks.flow import parse_flow, validate_source
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

ROOT = Path(__file__).resolve().parent.parent


def flow_with(task_type: str, flow_id: str = "f", extra: str = "") -> str:
    return (
        f"id: {flow_id}\nnamespace: prod\ntasks:\n  - id: t\n    type: {task_type}\n"
        f"    sql: select 1\n{extra}"
    )


TYPO = "io.kestra.plugin.git.SynFlows"
SERVER = "io.kestra.plugin.jdbc.postgresql.Query"
CUSTOM = "com.acme.kestra.Frobnicate"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


# -- the data ----------------------------------------------------------------------------------
def test_catalog_covers_core_git_scripts_and_the_main_plugin_groups() -> None:
    info = catalog_info()
    assert info["count"] >= 700
    repositories = {source["repository"] for source in info["sources"]}
    for name in ("kestra", "plugin-git", "plugin-scripts", "plugin-jdbc", "plugin-aws"):
        assert f"kestra-io/{name}" in repositories
    assert all(len(source["commit"]) == 40 for source in info["sources"])
    for type_name, kind in [
        ("io.kestra.plugin.git.SyncFlows", "task"),
        ("io.kestra.plugin.core.flow.ForEach", "task"),
        ("io.kestra.plugin.scripts.python.Script", "task"),
        ("io.kestra.plugin.aws.s3.Upload", "task"),
        ("io.kestra.plugin.gcp.bigquery.Query", "task"),
        ("io.kestra.plugin.notifications.slack.SlackIncomingWebhook", "task"),
        ("io.kestra.plugin.core.trigger.Schedule", "trigger"),
        ("io.kestra.plugin.core.condition.ExecutionStatus", "condition"),
        ("io.kestra.plugin.scripts.runner.docker.Docker", "taskRunner"),
    ]:
        entry = lookup(type_name)
        assert entry is not None and entry.kind == kind, type_name


def test_aliases_resolve_to_the_canonical_type() -> None:
    entry = lookup("io.kestra.core.tasks.flows.If")
    assert entry is not None and entry.type == "io.kestra.plugin.core.flow.If"
    condition = lookup("io.kestra.core.models.conditions.types.ExecutionStatusCondition")
    assert condition is not None and condition.kind == "condition"


def test_suggestion_finds_the_closest_name_of_the_same_kind() -> None:
    assert suggest(TYPO, "task") == "io.kestra.plugin.git.SyncFlows"
    assert suggest("io.kestra.plugin.core.trigger.Shedule", "trigger") == (
        "io.kestra.plugin.core.trigger.Schedule"
    )


def test_update_script_regenerates_the_catalog_from_git_repositories(tmp_path: Path) -> None:
    repo = tmp_path / "kestra-io+plugin-demo"
    java = repo / "src/main/java/io/kestra/plugin/demo"
    java.mkdir(parents=True)
    (java / "AbstractDemo.java").write_text(
        "package io.kestra.plugin.demo;\npublic abstract class AbstractDemo extends Task {\n}\n"
    )
    (java / "Query.java").write_text(
        'package io.kestra.plugin.demo;\n@Plugin(aliases = "io.kestra.demo.OldQuery")\n'
        "public class Query extends AbstractDemo implements RunnableTask<Query.Output> {\n}\n"
    )
    (java / "Watch.java").write_text(
        "package io.kestra.plugin.demo;\n"
        "public class Watch extends AbstractTrigger implements PollingTriggerInterface {\n}\n"
    )
    (java / "Helper.java").write_text("package io.kestra.plugin.demo;\npublic class Helper {\n}\n")
    (repo / "gradle.properties").write_text("version=9.9.9\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "demo"], check=True)
    output = tmp_path / "types.json"
    script = ROOT / "scripts" / "update_catalog.py"
    subprocess.run(
        [sys.executable, str(script), str(repo / ".git"), "--output", str(output)], check=True
    )
    data = json.loads(output.read_text())
    demo = {t["type"]: t for t in data["types"] if t["source"] == "kestra-io/plugin-demo"}
    assert set(demo) == {"io.kestra.plugin.demo.Query", "io.kestra.plugin.demo.Watch"}
    assert demo["io.kestra.plugin.demo.Query"]["aliases"] == ["io.kestra.demo.OldQuery"]
    assert demo["io.kestra.plugin.demo.Watch"]["kind"] == "trigger"
    assert data["sources"][0]["version"] == "9.9.9"
    assert data["count"] == len(data["types"])


def test_shipped_catalog_is_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"data/*.json"' in pyproject


# -- validate ------------------------------------------------------------------------------------
def test_validate_rejects_a_misspelt_kestra_type_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text(flow_with(TYPO))
    code, _, err = invoke(tmp_path / "home", "validate", str(tmp_path / "f.yml"))
    assert code == 1
    assert f"f.yml:5: task 't': unknown task type '{TYPO}'" in err
    assert "did you mean 'io.kestra.plugin.git.SyncFlows'?" in err


def test_validate_accepts_a_kestra_type_it_does_not_run_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text(flow_with(SERVER))
    code, out, err = invoke(tmp_path / "home", "validate", str(tmp_path / "f.yml"))
    assert code == 0 and "ok (prod/f)" in out
    assert "runs on a Kestra server, not locally" in err


def test_validate_accepts_a_custom_plugin_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "f.yml").write_text(flow_with(CUSTOM))
    code, out, _ = invoke(tmp_path / "home", "validate", str(tmp_path / "f.yml"), "--json")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["valid"] and "a custom plugin?" in entry["notes"][0]["message"]


def test_a_trigger_type_under_tasks_is_refused_by_kind() -> None:
    problems = validate_source(flow_with("io.kestra.plugin.core.trigger.Flow"))
    assert problems == [
        "line 5: task 't': 'io.kestra.plugin.core.trigger.Flow' is a Kestra trigger type, "
        "not a task type"
    ]


def test_triggers_conditions_and_task_runners_follow_the_same_rules() -> None:
    extra = (
        "triggers:\n  - id: on_done\n    type: io.kestra.plugin.core.trigger.Flow\n"
        "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatusCondition\n"
        "      - type: io.kestra.plugin.core.condition.ExecutonStatus\n"
        "  - id: poll\n    type: io.kestra.plugin.core.trigger.Polling\n"
    )
    problems = validate_source(flow_with("io.kestra.plugin.core.log.Log", extra=extra))
    assert any(
        "unknown condition type 'io.kestra.plugin.core.condition.ExecutonStatus'" in p
        and "did you mean 'io.kestra.plugin.core.condition.ExecutionStatus" in p
        for p in problems
    ), problems
    assert any(
        "unknown trigger type 'io.kestra.plugin.core.trigger.Polling'" in p for p in problems
    )
    docker = (
        "id: f\nnamespace: prod\ntasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    commands: [ls]\n    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n"
    )
    flow = parse_flow(docker)
    assert flow.server_only == []  # the task runs, and fails naming its runner
    assert [p.message for p in flow.refused_when_run] == [
        "task 'sh'.taskRunner (io.kestra.plugin.scripts.runner.docker.Docker) runs on a Kestra "
        "server, not locally"
    ]
    misspelt = docker.replace("docker.Docker", "docker.Dockr")
    assert any(
        "did you mean 'io.kestra.plugin.scripts.runner.docker.Docker'" in p
        for p in validate_source(misspelt)
    )


def test_hostile_type_names_are_problems_not_crashes() -> None:
    for name in [
        "io.kestra.",
        "io.kestra..x",
        "x y",
        "io.kestra.plugin.git.SyncFlows\n- id: z",
        "é",
    ]:
        source = f"id: f\nnamespace: prod\ntasks:\n  - id: t\n    type: {json.dumps(name)}\n"
        problems = validate_source(source)
        assert problems, name


# -- run ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("task_type", [SERVER, CUSTOM])
def test_run_refuses_a_type_that_runs_on_a_kestra_server(tmp_path: Path, task_type: str) -> None:
    path = tmp_path / "f.yml"
    path.write_text(flow_with(task_type))
    with pytest.raises(ConfigError, match="runs on a Kestra server"):
        run_flow(path, home=tmp_path / "home")
    with LocalInstance(tmp_path / "home") as instance:
        assert instance.list_executions() == []  # refused before anything is recorded


def test_run_rejects_a_misspelt_type(tmp_path: Path) -> None:
    path = tmp_path / "f.yml"
    path.write_text(flow_with(TYPO))
    with pytest.raises(FlowFileError, match=r"did you mean .io\.kestra\.plugin\.git\.SyncFlows."):
        run_flow(path, home=tmp_path / "home")


# -- sync and deploy ---------------------------------------------------------------------------
def _sync(instance: Instance, home: Path, url: str) -> tuple[SyncFlows.Output, list[LogRecord]]:
    task = SyncFlows(
        id="sync", url=url, target_namespace="prod", username="git_user", password="s3cr3t-token"
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = "sync"
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    output = task.run(ctx)
    assert isinstance(output, SyncFlows.Output)
    return output, records


def test_sync_fails_on_a_typo_naming_it(
    any_instance: Instance, tmp_path: Path, remote: MakeRemote
) -> None:
    repo = remote(
        files={"_flows/ok.yml": flow_with(SERVER, "ok"), "_flows/typo.yml": flow_with(TYPO, "typo")}
    )
    with pytest.raises(FlowValidationError) as caught:
        _sync(any_instance, tmp_path / "home", repo.url)
    assert "typo.yml" in str(caught.value) and TYPO in str(caught.value)
    assert "did you mean 'io.kestra.plugin.git.SyncFlows'" in str(caught.value)
    assert any_instance.list_flows("prod") == []  # nothing half-written


def test_sync_stores_kestra_plugin_types_and_custom_ones_with_a_warning(
    any_instance: Instance, tmp_path: Path, remote: MakeRemote
) -> None:
    repo = remote(
        files={
            "_flows/etl.yml": flow_with(SERVER, "etl"),
            "_flows/own.yml": flow_with(CUSTOM, "own"),
        }
    )
    _, records = _sync(any_instance, tmp_path / "home", repo.url)
    assert {record.id for record in any_instance.list_flows("prod")} == {"etl", "own"}
    warnings = [r.message for r in records if r.level == "WARN"]
    assert any("own.yml" in w and CUSTOM in w and "custom plugin" in w for w in warnings)
    assert not any(SERVER in w for w in warnings)


def test_deploy_follows_the_same_rules(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "etl.yml").write_text(flow_with(SERVER, "etl"))
    (folder / "own.yml").write_text(flow_with(CUSTOM, "own"))
    records: list[LogRecord] = []
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        rows = deploy_folder(
            folder, "prod", instance, home=tmp_path / "home", log_sinks=[records.append]
        )
        assert {row["flowId"] for row in rows} == {"etl", "own"}
        (folder / "typo.yml").write_text(flow_with(TYPO, "typo"))
        with pytest.raises(FlowValidationError, match="did you mean"):
            deploy_folder(folder, "prod", instance, home=tmp_path / "home")
    assert any(CUSTOM in r.message for r in records if r.level == "WARN")
    code, _, err = invoke(tmp_path / "home2", "flows", "deploy", str(folder / "etl.yml"))
    assert code == 0, err
    code, _, err = invoke(tmp_path / "home2", "flows", "deploy", str(folder / "typo.yml"))
    assert code == 1 and "did you mean" in err
