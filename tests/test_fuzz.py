"""Fuzzing the two parsers that read user text: the flow parser and the template renderer.

Whatever the text, only a KestraGitError subclass may come out (never another exception, never
the bare root class), and every case ends well within its deadline. The runs are derandomized
(the same cases every time, so CI is stable) and bounded: CASES_PER_TARGET per target.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_git_tasks.errors import KestraGitError
from kestra_git_tasks.flow import parse_flow, validate_source
from kestra_git_tasks.templating import Renderer

ROOT = Path(__file__).resolve().parent.parent
REAL_FLOWS = sorted(
    path.read_text(encoding="utf-8")
    for path in [
        *ROOT.joinpath("flows").glob("*.y*ml"),
        *ROOT.joinpath("tests/data").rglob("*.y*ml"),
    ]
)
CASES_PER_TARGET = 600

FUZZ = settings(
    max_examples=CASES_PER_TARGET,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

YAML_PIECES = [
    *("id: ", "namespace: ", "tasks:", "  - ", "type: ", "inputs:", "triggers:", "labels:"),
    *("io.kestra.plugin.core.log.Log", "io.kestra.plugin.git.SyncFlows", "message: "),
    *(
        "&a ",
        "*a",
        "<<: ",
        "? ",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "!!str ",
        "!!binary ",
        "!!int ",
    ),
    *("\n", "\n  ", "\n    ", "\t", "'", '"', "#", "|", ">", "---", "...", "%YAML 1.1\n"),
    *(
        "{{ inputs.x }}",
        "<< x >>",
        "true",
        "null",
        "~",
        "1e309",
        "0x1F",
        "9" * 5000,
        "\x00",
        "\ufeff",
    ),
    *("company.team", "a", "1", "-1", "defaults: ", "values: ", "SELECT", "DURATION", "P1W"),
]
TEMPLATE_PIECES = [
    *("{{", "}}", "{%", "%}", "{#", "#}", "<<", ">>", " ", "inputs", "outputs", ".", "[", "]"),
    *("(", ")", "|", "'", '"', "x", "1", "10", "**", "*", "+", "-", "/", "//", "%", "~", ","),
    *("for i in range(", ")", "endfor", "if", "endif", "macro f()", "endmacro", "f()", "set "),
    *("secret('X')", "toJson", "json", "fromJson('[1]')", "length", "__class__", "mro()"),
    *("namespace(", "=", "lipsum", "cycler", "joiner", "dict", "loop", "super()", "self"),
]


def _only_kestra_errors(call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except KestraGitError as exc:
        assert type(exc) is not KestraGitError, f"bare KestraGitError: {exc}"
        str(exc)  # the message itself must not fail


@st.composite
def yaml_ish(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=8), max_size=40))
    return "".join(pieces)


@st.composite
def mutated_flow(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(REAL_FLOWS))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            piece = draw(st.sampled_from(YAML_PIECES) | st.text(max_size=6))
            text = text[:start] + piece + (text[start:] if kind == "insert" else text[end:])
    return text


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
_TREES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "type", "tasks", "message", "x"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


@st.composite
def structured_flow(draw: st.DrawFn) -> str:
    document: dict[str, Any] = {
        "id": draw(st.sampled_from(["f", "bad id", 3])),
        "namespace": draw(st.sampled_from(["company.team", "Bad"])),
        "tasks": draw(st.lists(_TREES, max_size=3)),
    }
    for key in draw(
        st.lists(st.sampled_from(["inputs", "triggers", "labels", "variables"]), max_size=2)
    ):
        document[key] = draw(_TREES)
    return yaml.safe_dump(document)


@FUZZ
@given(yaml_ish())
def test_flow_parser_on_yaml_ish_text(text: str) -> None:
    _only_kestra_errors(parse_flow, text, "fuzz.yml")
    validate_source(text, "fuzz.yml")


@FUZZ
@given(mutated_flow())
def test_flow_parser_on_mutated_real_flows(text: str) -> None:
    _only_kestra_errors(parse_flow, text, "fuzz.yml")


@FUZZ
@given(structured_flow())
def test_flow_parser_on_generated_flow_structures(text: str) -> None:
    _only_kestra_errors(parse_flow, text, "fuzz.yml")
    validate_source(text, "fuzz.yml")


CONTEXT = {
    "inputs": {"x": "value", "items": [1, 2], "map": {"k": "v"}},
    "outputs": {"t": {"v": "1"}},
    "secret": lambda name: "s3cret",
}


@FUZZ
@given(st.lists(st.sampled_from(TEMPLATE_PIECES) | st.text(max_size=4), max_size=30))
def test_renderer_on_generated_templates(pieces: list[str]) -> None:
    _only_kestra_errors(Renderer().render, "".join(pieces), CONTEXT, where="property 'p'")
