"""`kestra-git schema`: the JSON Schema of flow files accepts every flow the project shows (the
seed's flows, every docs example, the valid test flows) and refuses broken ones, checked with
the `jsonschema` package."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from kestra_git_tasks.cli import cli
from kestra_git_tasks.docgen import docstring_examples
from kestra_git_tasks.flow import load_flow_file
from kestra_git_tasks.schema import flow_schema
from kestra_git_tasks.tasks._base import _yaml_names
from kestra_git_tasks.tasks.registry import TASK_CLASSES
from kestra_git_tasks.triggers import TRIGGER_TYPES

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "validate"
LOG = "io.kestra.plugin.core.log.Log"
WD = "io.kestra.plugin.core.flow.WorkingDirectory"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = flow_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, flow: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(flow)]


def _docs_flows() -> list[tuple[str, str]]:
    """Every example flow: docstrings of tasks and triggers, and flow blocks of the docs."""
    found = []
    for cls in [*TASK_CLASSES, *dict.fromkeys(TRIGGER_TYPES.values())]:
        found += [(f"{cls.__name__}[{i}]", text) for i, text in enumerate(docstring_examples(cls))]
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, text in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(), re.DOTALL)):
            if re.search(r"(?m)^id: ", text) and re.search(r"(?m)^tasks:", text):
                found.append((f"{page.name}[{i}]", text))
    return found


SEED = sorted((ROOT / "flows").glob("*.yml"))
DOCS = _docs_flows()
GOOD = sorted(DATA.glob("good_*.y*ml"))
#: Broken test flows a schema can see (not: cron syntax, duplicate ids or keys, YAML syntax).
SCHEMA_VISIBLE = [
    *("bad_misspelt_property", "bad_property_type", "bad_task_type", "bad_top_level_key"),
    *("bad_trigger_type", "bad_webhook_missing_key", "bad_empty_tasks", "bad_namespace"),
    *("bad_flow_id", "bad_task_id"),
]


@pytest.mark.parametrize("path", SEED, ids=lambda p: p.name)
def test_the_seed_flows_are_accepted(validator: jsonschema.Draft7Validator, path: Path) -> None:
    assert errors(validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(("name", "text"), DOCS, ids=[name for name, _ in DOCS])
def test_every_docs_example_flow_is_accepted(
    validator: jsonschema.Draft7Validator, name: str, text: str
) -> None:
    flow = yaml.safe_load(text)
    found = errors(validator, flow)
    if "pluginDefaults" in flow:  # a property a default gives is not in the task's mapping
        found = [e for e in found if not e.endswith("is a required property")]
    assert found == []


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_valid_test_flows_are_accepted(validator: jsonschema.Draft7Validator, path: Path) -> None:
    load_flow_file(path)  # valid for `kestra-git validate` too
    assert errors(validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("name", SCHEMA_VISIBLE)
def test_broken_test_flows_are_refused(validator: jsonschema.Draft7Validator, name: str) -> None:
    assert errors(validator, yaml.safe_load((DATA / f"{name}.yml").read_text()))


def log_flow(**properties: Any) -> dict[str, Any]:
    task = {"id": "say", "type": LOG, "message": "hi", **properties}
    return {"id": "f", "namespace": "dev", "tasks": [task]}


BROKEN: dict[str, Any] = {
    "misspelt property": log_flow(mesage="hi"),
    "snake_case property": log_flow(allow_failure=True),
    "wrong property type": log_flow(disabled="often"),
    "bad level enum": log_flow(level="LOUD"),
    "unknown task type": {"id": "f", "namespace": "dev", "tasks": [{"id": "a", "type": "x.Y"}]},
    "missing required property": {
        "id": "f",
        "namespace": "dev",
        "tasks": [{"id": "say", "type": LOG}],
    },
    "misspelt property in a WorkingDirectory child": {
        "id": "f",
        "namespace": "dev",
        "tasks": [{"id": "wd", "type": WD, "tasks": [{"id": "c", "type": LOG, "mesage": "x"}]}],
    },
    "misspelt trigger property": {
        **log_flow(),
        "triggers": [
            {"id": "t", "type": "io.kestra.plugin.core.trigger.Schedule", "crn": "@daily"}
        ],
    },
    "misspelt top-level key": {**log_flow(), "trigers": []},
    "empty tasks": {"id": "f", "namespace": "dev", "tasks": []},
    "upper-case namespace": {**log_flow(), "namespace": "Dev"},
    "bad task id": log_flow(id="-x"),
    "unknown input type": {**log_flow(), "inputs": [{"id": "i", "type": "COLOUR"}]},
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_flows_are_refused(validator: jsonschema.Draft7Validator, name: str) -> None:
    assert errors(validator, BROKEN[name]), name


def test_a_misspelt_property_is_refused_where_it_is(validator: jsonschema.Draft7Validator) -> None:
    found = errors(validator, log_flow(mesage="hi"))
    assert any("'mesage' was unexpected" in e and e.startswith("[") for e in found), found


def test_templates_are_accepted_where_a_typed_value_is_expected(
    validator: jsonschema.Draft7Validator,
) -> None:
    assert errors(validator, log_flow(disabled="{{ inputs.off }}")) == []


def test_every_type_and_property_is_described(validator: jsonschema.Draft7Validator) -> None:
    definitions = flow_schema()["definitions"]
    for cls in TASK_CLASSES:
        for name in (cls.type, *cls.aliases):
            task = definitions[f"task:{name}"]
            yaml_names = {cls.model_fields[f].alias or f for f in cls.model_fields}
            when = {"when"} if "runIf" in yaml_names else set()  # Kestra 2.0's name for runIf
            assert set(task["properties"]) == yaml_names | {"type"} | when
            assert set(task["properties"]) <= set(_yaml_names(cls)) | {"type"} | when
            assert set(task["required"]) == {
                cls.model_fields[f].alias or f
                for f, field in cls.model_fields.items()
                if field.is_required()
            }
            assert task["description"], name
            for key, prop in task["properties"].items():
                assert key == "type" or prop.get("description"), (name, key)
    log = definitions[f"task:{LOG}"]["properties"]["level"]
    assert log["default"] == "INFO" and "enum" in json.dumps(log)
    assert set(definitions["trigger"]["properties"]["type"]["enum"]) == set(TRIGGER_TYPES)


def test_the_command_prints_and_writes_the_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == flow_schema()
    target = tmp_path / ".vscode" / "flow.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--output", str(target)])
    assert result.exit_code == 0 and json.loads(target.read_text()) == flow_schema()


def test_unknown_types_are_accepted_only_when_asked() -> None:
    other = {"id": "q", "type": "io.kestra.plugin.jdbc.postgresql.Query", "sql": "select 1"}
    flow = {"id": "f", "namespace": "dev", "tasks": [other]}
    strict = jsonschema.Draft7Validator(flow_schema())
    loose = jsonschema.Draft7Validator(flow_schema(allow_unknown_types=True))
    assert errors(strict, flow) and errors(loose, flow) == []
    assert errors(loose, log_flow(mesage="hi"))  # known types are still checked
    assert errors(loose, {"id": "f", "namespace": "dev", "tasks": [{**other, "type": "a..b"}]})
    result = CliRunner().invoke(cli, ["schema", "--allow-unknown-types"])
    assert json.loads(result.stdout) == flow_schema(allow_unknown_types=True)


def test_a_switch_takes_a_mapping_of_task_lists_and_when_is_accepted(
    validator: jsonschema.Draft7Validator,
) -> None:
    flow: dict[str, Any] = {
        "id": "switch",
        "namespace": "company.team",
        "tasks": [
            {
                "id": "env",
                "type": "io.kestra.plugin.core.flow.Switch",
                "value": "prod",
                "when": "{{ true }}",
                "cases": {
                    "prod": [{"id": "p", "type": "io.kestra.plugin.core.log.Log", "message": "p"}]
                },
            }
        ],
    }
    assert errors(validator, flow) == []
    task = flow["tasks"][0]
    assert isinstance(task, dict)
    task["cases"] = [{"id": "p", "type": "io.kestra.plugin.core.log.Log", "message": "p"}]
    assert errors(validator, flow) != []
