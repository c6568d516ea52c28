"""Patterns on task and trigger properties match the whole value.

pydantic searches a ``Field(pattern=...)`` anywhere in the value, so an unanchored namespace
pattern let ``targetNamespace: ../system`` through. Every pattern must be anchored, and the
namespace properties refuse values that only contain a namespace.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.tasks.git.push_flows import PushFlows
from kestra_git_tasks.tasks.git.push_namespace_files import PushNamespaceFiles
from kestra_git_tasks.tasks.git.sync_flow import SyncFlow
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows
from kestra_git_tasks.tasks.git.sync_namespace_files import SyncNamespaceFiles
from kestra_git_tasks.tasks.registry import TASK_CLASSES
from kestra_git_tasks.triggers import TRIGGER_TYPES

URL = "https://git.example.com/org/repo.git"


def _patterns(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["pattern"]] if isinstance(schema.get("pattern"), str) else []
        return found + [p for value in schema.values() for p in _patterns(value)]
    if isinstance(schema, list):
        return [p for item in schema for p in _patterns(item)]
    return []


def _models() -> list[type[BaseModel]]:
    return [*TASK_CLASSES, *TRIGGER_TYPES.values()]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_property_pattern_is_anchored(model: type[BaseModel]) -> None:
    loose = [
        p
        for p in _patterns(model.model_json_schema())
        if not (p.startswith("^") and p.endswith("$"))
    ]
    assert loose == [], f"{model.__name__}: anchor these patterns with ^...$"


HOSTILE = ["../system", "prod/../system", "system\nprod", "Prod", "prod namespace", "a/b"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("model", "properties"),
    [
        (SyncFlows, {"url": URL, "target_namespace": "{}"}),
        (SyncNamespaceFiles, {"url": URL, "namespace": "{}"}),
        (SyncFlow, {"url": URL, "flow_path": "_flows/a.yml", "target_namespace": "{}"}),
        (PushFlows, {"url": URL, "source_namespace": "{}"}),
        (PushFlows, {"url": URL, "target_namespace": "{}"}),
        (PushNamespaceFiles, {"url": URL, "namespace": "{}"}),
    ],
    ids=[
        "SyncFlows",
        "SyncNamespaceFiles",
        "SyncFlow",
        "PushFlows-source",
        "PushFlows-target",
        "PushNamespaceFiles",
    ],
)
def test_a_namespace_property_refuses_what_only_contains_a_namespace(
    model: type[Any], properties: dict[str, str], value: str
) -> None:
    filled = {key: value if text == "{}" else text for key, text in properties.items()}
    with pytest.raises(ConfigError, match="should match pattern"):
        model(id="t", **filled)
    model(
        id="t",
        **{key: "company.team" if text == "{}" else text for key, text in properties.items()},
    )
