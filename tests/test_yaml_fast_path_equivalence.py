"""The validation fast path gives what the line-tracking path gives, on generated input.

Hypothesis (derandomized, bounded) writes YAML texts from tricky pieces (YAML 1.1 booleans,
octal-looking strings, ``1:30``, ``1e3``, ``~``, ``<<`` merge keys, ``=``, anchors and aliases,
tags, duplicate keys, flow and block styles, deep nesting) and flows from Kestra's building
blocks (valid and invalid ids, types, properties, triggers, inputs, labels). For each:

* libyaml's events (:func:`~kestra_git_tasks.yamlplain.from_events`) build the very document
  the line-tracking loader builds, or leave it to that loader (:class:`Unusual`);
* ``load_yaml(lines=False)`` and ``load_yaml(lines=True)`` build equal documents or refuse with
  the same messages;
* a flow's verdict on the fast path (plain parse, plain checks) is the verdict of
  :func:`~kestra_git_tasks.flow.parse_flow`, and the shortcuts of the checks (a task's
  properties judged valid at once, a trigger's problems remembered) answer as the full checks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validation_fast_path import TRICKY, corpus, outcome, strictly_equal

from kestra_git_tasks import yamlplain
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import _trigger_problems, _valid_without_lines, parse_flow
from kestra_git_tasks.tasks._base import Task, _no_property_problem, _property_problems
from kestra_git_tasks.tasks.registry import known_task_types, task_class
from kestra_git_tasks.triggers import TRIGGER_TYPES
from kestra_git_tasks.yamlio import MAX_NESTING, MAX_NODES, load_yaml

CASES = settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: plain scalars whose meaning differs between YAML 1.1, YAML 1.2 and Kestra's Jackson
SCALARS = [
    *("on", "off", "yes", "no", "y", "n", "Y", "NO", "true", "True", "TRUE", "tRue", "false"),
    *("0755", "0o755", "0x1F", "0b101", "1_000", "1:30", "190:20:30", "08", "+12", "-0", "0"),
    *("1e3", "1.0e+3", "1.0e3", "6.8523015e+5", ".inf", "-.Inf", ".NaN", "1.", ".5", "1.5"),
    *("~", "null", "Null", "NULL", "nul", "", "2024-01-01", "2024-01-01T10:00:00Z"),
    *("<<", "=", "-", "word", "two words", "PT5M", "5m", "{{ inputs.x }}", "a: b", "x #c"),
    *("'quoted'", '"double"', "'0755'", '"1e3"', "'~'", '"\\u00e9\\t"', "'it''s'"),
    *("!!str 1", "!!int '3'", "!!float 1", "!!bool yes", "!!null x", "!!str", "!custom t"),
    *("!!int zero", "!!binary aGVsbG8=", "! 12", "! '12'", "!!int 99999999999999999999"),
    *("&a anchored", "*a", "&b [1, 2]", "*b", "&a again", "*undefined"),
    *("[a, b]", "{x: 1}", "[]", "{}", "[1, [2, [3]]]", "{a: 1, a: 2}", "[x, {y: z}]"),
]
KEYS = [
    *("a", "b", "id", "type", "tasks", "on", "yes", "1", "1.5", "true", "~", "null", ""),
    *("<<", "=", "'quoted'", '"a"', "!!str 2", "&k key", "*k", "? x", "[a]", "{k: v}"),
]


def _scalar() -> st.SearchStrategy[str]:
    return st.sampled_from(SCALARS)


@st.composite
def _block(draw: st.DrawFn, depth: int = 0, indent: str = "") -> str:
    """A block mapping or sequence at ``indent``, its values scalars, flow collections, block
    scalars or (while ``depth`` allows) nested blocks."""
    lines = []
    mapping = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        head = f"{indent}{draw(st.sampled_from(KEYS))}:" if mapping else f"{indent}-"
        choice = draw(st.integers(0, 9))
        if choice <= 5 or depth >= 4:
            lines.append(f"{head} {draw(_scalar())}".rstrip())
        elif choice == 6:
            lines.append(f"{head} |")
            lines.extend(f"{indent}  {draw(_scalar())}" for _ in range(draw(st.integers(1, 2))))
        elif choice == 7:
            lines.append(f"{head} &{draw(st.sampled_from('ab'))}")
            lines.append(draw(_block(depth + 1, indent + "  ")))
        else:
            lines.append(head)
            lines.append(draw(_block(depth + 1, indent + "  ")))
    return "\n".join(lines)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["", "---\n", "%YAML 1.1\n---\n", "# comment\n"]))
    suffix = draw(st.sampled_from(["\n", "", "\n...\n", "\n---\nsecond: doc\n"]))
    return prefix + draw(_block()) + suffix


def _same_outcome(text: str) -> None:
    slow, fast = outcome(text, lines=True), outcome(text, lines=False)
    assert slow[0] == fast[0], text
    if slow[0] == "refused":
        assert slow == fast, text
    else:
        assert strictly_equal(slow[1], fast[1]), text
    try:
        built = yamlplain.from_events(text, MAX_NESTING, MAX_NODES)
    except yamlplain.Unusual:
        return
    assert slow[0] == "document", text  # never builds what the usual path refuses
    assert strictly_equal(slow[1], built), text


@CASES
@given(yaml_texts())
def test_generated_yaml_gives_the_same_document_or_refusal_on_both_paths(text: str) -> None:
    _same_outcome(text)


@pytest.mark.parametrize("value", SCALARS)
@pytest.mark.parametrize("form", ["v: {}\n", "- {}\n", "{{k: {}}}\n", "[{}]\n", "{}\n"])
def test_each_tricky_scalar_reads_the_same_on_both_paths(value: str, form: str) -> None:
    _same_outcome(form.format(value))


@pytest.mark.parametrize("key", KEYS)
def test_each_tricky_key_reads_the_same_on_both_paths(key: str) -> None:
    _same_outcome(f"{key}: value\nother: 1\n")
    _same_outcome(f"first: 0\n{key}: value\n{key}: again\n")


def test_the_events_path_builds_the_usual_flow_itself() -> None:
    """It is the path taken (not left to the usual loader) for what flows are made of."""
    texts = [*TRICKY[:6], TRICKY[12], TRICKY[13], *corpus()[len(TRICKY) :]]
    built = 0
    for text in texts:
        try:
            document = yamlplain.from_events(text, MAX_NESTING, MAX_NODES)
        except yamlplain.Unusual:
            continue
        built += 1
        assert strictly_equal(load_yaml(text), document), text
    assert built >= len(texts) * 3 // 4


def test_the_events_path_leaves_what_it_does_not_build_to_the_usual_loader() -> None:
    unusual = [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: &x 1\nb: &x 2\n",  # the composer refuses a duplicate anchor
        "- &x [1]\n- &x {}\n",
        "base: &b {x: 1}\nuse:\n  <<: *b\n",  # merge key
        "=: v\n",
        "1: int key\n",
        "a: 1\na: 2\n",  # duplicate key
        "a: !!set {x}\n",
        "a: !custom t\n",
        "? [a]\n: v\n",
        "a: 1\n---\nb: 2\n",
        "a: [unclosed\n",
        "a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n",
    ]
    for text in unusual:
        with pytest.raises(yamlplain.Unusual):
            yamlplain.from_events(text, MAX_NESTING, MAX_NODES)
        _same_outcome(text)


def test_the_node_limit_is_left_to_the_usual_loader() -> None:
    text = "[" + ", ".join(["x"] * 50) + "]\n"
    with pytest.raises(yamlplain.Unusual):
        yamlplain.from_events(text, MAX_NESTING, 50)
    assert yamlplain.from_events(text, MAX_NESTING, 51) == ["x"] * 50
    deep = "a: " + "[" * 5 + "]" * 5 + "\n"
    with pytest.raises(yamlplain.Unusual):
        yamlplain.from_events(deep, 5, MAX_NODES)
    assert yamlplain.from_events(deep, 6, MAX_NODES) == {"a": [[[[[]]]]]}


# -- flows ---------------------------------------------------------------------------------------
LOG = "io.kestra.plugin.core.log.Log"
VALUES: dict[str, list[Any]] = {
    "id": ["hello", "t2", "bad id", 3, None, "hello"],
    "message": ["hi", "{{ inputs.x }}", ["a", "b"], 1, None, {"k": "v"}],
    "level": ["INFO", "info", "TRACE", 1, True, "{{ vars.level }}"],
    "timeout": ["PT5M", "5m", "{{ x }}", 3],
    "retry": [{"type": "constant", "interval": "PT1S"}, {"interval": "1s"}, "often"],
    "allowFailure": [True, "yes", 1, None],
    "disabled": [False, "no"],
    "runIf": ["{{ true }}", True],
    "when": ["{{ true }}", False],
    "description": ["text", 1],
    "mesage": ["typo"],
    "taskRunner": [
        {"type": "io.kestra.plugin.core.runner.Process"},
        {"type": "io.kestra.plugin.scripts.runner.docker.Docker"},
        {"type": "io.kestra.plugin.core.runner.Proces"},
    ],
    "commands": [["echo hi"], "echo hi", [1]],
    "namespace": ["company.team", "company"],
    "flowId": ["f", "other"],
    "duration": ["PT1S", "1s"],
    "condition": ["{{ true }}", "yes"],
    "then": [[{"id": "c1", "type": LOG, "message": "x"}], [], "no"],
    "else": [[{"id": "c2", "type": LOG, "message": "y"}]],
    "tasks": [[{"id": "c3", "type": LOG, "message": "z"}], [{"id": "hello", "type": LOG}]],
    "url": ["https://example.com/r.git", 5],
    "branch": ["main"],
}
TYPES = [
    LOG,
    *("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Logg"),
    *("io.kestra.plugin.scripts.shell.Commands", "io.kestra.plugin.core.flow.Subflow"),
    *("io.kestra.plugin.core.flow.If", "io.kestra.plugin.core.flow.Sequential"),
    *("io.kestra.plugin.core.flow.Sleep", "io.kestra.plugin.git.Clone"),
    *("io.kestra.plugin.aws.s3.Upload", "com.acme.Custom", "not a type!", None),
    "io.kestra.plugin.core.trigger.Schedule",
]
TRIGGERS: list[dict[str, Any]] = [
    {"id": "nightly", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "0 2 * * *"},
    {"id": "n", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "61 2 * * *"},
    {
        "id": "z",
        "type": "io.kestra.plugin.core.trigger.Schedule",
        "cron": "@daily",
        "timezone": "Europe/Pariss",
    },
    {
        "id": "s",
        "type": "io.kestra.plugin.core.trigger.Schedule",
        "cron": "* * * * *",
        "disabled": True,
        "withSeconds": "yes",
    },
    {"id": "hook", "type": "io.kestra.plugin.core.trigger.Webhook", "key": "abc"},
    {"id": "hook", "type": "io.kestra.plugin.core.trigger.Webhook", "key": " "},
    {
        "id": "c",
        "type": "io.kestra.plugin.core.trigger.Webhook",
        "key": "k",
        "conditions": [{"type": "io.kestra.plugin.core.condition.ExecutionStatus"}],
    },
    {"id": "t", "type": "io.kestra.plugin.core.log.Log"},
    {"id": "u", "type": "io.kestra.plugin.core.trigger.Schedul"},
]
INPUTS: list[dict[str, Any]] = [
    {"id": "name", "type": "STRING", "defaults": "world"},
    {"id": "n", "type": "INT", "defaults": "x"},
    {"id": "n2", "type": "INT", "defaults": 3},
    {"id": "b", "type": "BOOLEAN", "defaults": "{{ true }}"},
    {"id": "s", "type": "SELECT", "values": ["a", "b"], "defaults": "c"},
    {"id": "s2", "type": "SELECT", "values": []},
    {"id": "bad id!", "type": "STRING"},
    {"id": "name", "type": "bogus"},
]


#: every task class the registry runs (imported here: hypothesis wants no import in a strategy)
CLASSES = {name: cls for name in known_task_types() if (cls := task_class(name)) is not None}
#: each type with properties that make a valid task of it
BASES: dict[str, dict[str, Any]] = {
    LOG: {"message": "hi"},
    "io.kestra.core.tasks.log.Log": {"message": "{{ flow.id }}", "level": "DEBUG"},
    "io.kestra.plugin.scripts.shell.Commands": {"commands": ["echo hi"]},
    "io.kestra.plugin.core.flow.Subflow": {"namespace": "company.team", "flowId": "other"},
    "io.kestra.plugin.core.flow.If": {"condition": "{{ true }}", "then": VALUES["then"][0]},
    "io.kestra.plugin.core.flow.Sequential": {"tasks": VALUES["tasks"][0]},
    "io.kestra.plugin.core.flow.Sleep": {"duration": "PT1S"},
    "io.kestra.plugin.git.Clone": {"url": "https://example.com/r.git"},
    "io.kestra.plugin.aws.s3.Upload": {"bucket": "b"},
    "com.acme.Custom": {"anything": [1, {"x": None}]},
}


def _pick(draw: st.DrawFn, options: list[Any]) -> Any:
    """Mostly the first (valid) option, sometimes any: both verdicts come up."""
    return draw(st.sampled_from(options)) if draw(st.integers(0, 3)) == 0 else options[0]


@st.composite
def _task(draw: st.DrawFn, number: int = 0) -> dict[str, Any]:
    chosen = draw(st.sampled_from(sorted(BASES))) if draw(st.booleans()) else LOG
    task: dict[str, Any] = {"id": f"t{number}", "type": chosen, **BASES[chosen]}
    if draw(st.integers(0, 2)) == 0:
        for key in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True)):
            task[key] = draw(st.sampled_from(VALUES[key]))
    if draw(st.integers(0, 9)) == 0:
        task["type"] = draw(st.sampled_from(TYPES))
        if task["type"] is None:
            del task["type"]
    return task


@st.composite
def flows(draw: st.DrawFn) -> str:
    flow: dict[str, Any] = {
        "id": _pick(draw, ["f", "flow_00001", "bad id", 3]),
        "namespace": _pick(draw, ["company.team", "company", "Company", "a..b"]),
        "tasks": [draw(_task(number)) for number in range(draw(st.integers(0, 3)))],
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "triggers": st.lists(st.sampled_from(TRIGGERS), max_size=2),
        "inputs": st.lists(st.sampled_from(INPUTS), max_size=2),
        "labels": st.sampled_from([{"team": "a"}, {"system.x": 1}, [{"key": "k", "value": 1}]]),
        "variables": st.sampled_from([{"a": 1}, ["a"], None]),
        "errors": st.lists(_task(7), max_size=1),
        "finally": st.lists(_task(8), max_size=1),
        "revision": st.sampled_from([1, 0, "x"]),
        "outputs": st.sampled_from([[{"id": "o", "type": "STRING", "value": "v"}], "x"]),
        "checks": st.sampled_from([[{"when": "{{ true }}", "message": "m"}], [{"x": 1}]]),
        "disabled": st.sampled_from([True, "no"]),
        "description": st.sampled_from(["d", 1]),
        "tasksX": st.just(1),
    }
    for key in draw(st.lists(st.sampled_from(sorted(optional)), max_size=4, unique=True)):
        flow[key] = draw(optional[key])
    style = draw(st.sampled_from([False, None, True]))
    return yaml.safe_dump(flow, sort_keys=False, default_flow_style=style)


def _parse_verdict(source: str) -> bool:
    try:
        parse_flow(source, "f.yml")
    except FlowFileError:
        return False
    return True


@CASES
@given(flows())
def test_generated_flows_get_the_same_verdict_on_both_paths(source: str) -> None:
    _same_outcome(source)
    assert _valid_without_lines(source, "f.yml") == _parse_verdict(source), source


def test_the_generated_flows_hold_valid_and_invalid_ones() -> None:
    """The flow strategy reaches both verdicts (a test that could not fail proves nothing)."""
    verdicts: set[bool] = set()

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(flows())
    def collect(source: str) -> None:
        verdicts.add(_parse_verdict(source))

    collect()
    assert verdicts == {True, False}


@st.composite
def _typed_properties(draw: st.DrawFn) -> tuple[type[Any], dict[str, Any]]:
    """A task class the registry runs and a mapping for it: mostly a valid one, sometimes with
    wrong, unknown or missing properties, sometimes another class's."""
    local = [name for name in sorted(BASES) if name in CLASSES]
    others = st.sampled_from(sorted(CLASSES))
    type_name = draw(others if draw(st.integers(0, 3)) == 0 else st.sampled_from(local))
    properties = {"id": "t", **BASES.get(type_name, BASES[LOG])}
    if draw(st.integers(0, 4)) == 0:  # required properties missing
        properties = {"id": "t"}
    if draw(st.integers(0, 2)) == 0:
        for key in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True)):
            properties[key] = draw(st.sampled_from(VALUES[key]))
    return CLASSES[type_name], properties


@CASES
@given(_typed_properties())
def test_a_task_judged_valid_at_once_is_one_the_full_check_finds_nothing_in(
    case: tuple[type[Any], dict[str, Any]],
) -> None:
    cls, properties = case
    full = _property_problems(cls, properties)
    for _ in range(2):  # the second time from the values remembered valid
        assert _no_property_problem(cls, properties) == (full == [])
    assert Task.check_properties.__func__(cls, properties) == full  # type: ignore[attr-defined]


@pytest.mark.parametrize("index", range(len(TRIGGERS)))
def test_a_remembered_trigger_check_answers_as_the_check(index: int) -> None:
    raw = dict(TRIGGERS[index])
    cls = TRIGGER_TYPES.get(raw.pop("type"))
    if cls is None:
        return
    for _ in range(2):
        assert _trigger_problems(cls, raw) == cls.check_properties(raw)
    assert _trigger_problems(cls, {**raw, "id": 1}) == cls.check_properties({**raw, "id": 1})
    assert _trigger_problems(cls, {**raw, "id": True}) == cls.check_properties({**raw, "id": True})
    for zero in (0.0, -0.0, 0, False):  # equal values of other types or texts
        changed = {**raw, "description": zero}
        assert _trigger_problems(cls, changed) == cls.check_properties(changed)


def test_values_remembered_valid_are_told_apart_by_type_and_text() -> None:
    """``1`` and ``True``, ``0.0`` and ``-0.0`` are equal in Python, not to a field's check."""
    from pydantic import Field

    class Strict(Task):
        type: ClassVar[str] = "test.Strict"
        amount: str = Field(pattern=r"^[0-9.]+$")
        flag: int = Field(strict=True)

    for _ in range(2):
        assert _no_property_problem(Strict, {"id": "t", "amount": 0.0, "flag": 1})
        assert not _no_property_problem(Strict, {"id": "t", "amount": -0.0, "flag": 1})
        assert not _no_property_problem(Strict, {"id": "t", "amount": "1", "flag": True})
