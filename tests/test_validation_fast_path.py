"""The fast path of validation: a plain parse (no lines) that equals the line-tracking one, the
same refusals of hostile input, and messages with lines for invalid flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.yamlio import MAX_FILE_BYTES, MAX_NESTING, LineDict, LineList, load_yaml

ROOT = Path(__file__).resolve().parent.parent

#: Scalars whose meaning differs between YAML 1.1, YAML 1.2 and Kestra's Jackson, and every
#: construct the plain construction leaves to PyYAML's (tags, merge keys, aliases, odd keys).
TRICKY = [
    "a: on\nb: yes\nc: no\nd: off\ne: y\nf: n\ng: True\nh: FALSE\ni: tRue\n",
    "a: 0755\nb: 0o755\nc: 0x1F\nd: 0b101\ne: 1_000\nf: 1:30\ng: 08\nh: -0\ni: +12\n",
    "a: 1e3\nb: 1.0e+3\nc: 1.0e3\nd: .inf\ne: -.Inf\nf: .NaN\ng: 1.\nh: .5\ni: 6.8523015e+5\n",
    "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nul\ng: 'null'\n",
    "a: 2024-01-01\nb: 2024-01-01T10:00:00Z\nc: 2001-12-14 21:59:43.10 -5\n",
    'a: \'0755\'\nb: "1e3"\nc: "true"\nd: \'~\'\ne: "\\u00e9\\t"\n',
    "a: !!str 1\nb: !!int '3'\nc: !!float 1\nd: !!bool yes\ne: !!null x\nf: !!str\n",
    "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [{k: 1}]\nd: !!pairs [{k: 1}]\n",
    "base: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  y: 3\n",
    "list: &l [1, 2]\nagain: *l\nscalar: &s word\nsame: *s\n",
    "=: value\n1: int key\n~: null key\ntrue: bool key\n1.5: float key\n",
    "? complex\n: value\n\"quoted key\": 1\n'single': 2\n",
    "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nplain: a\n  b\n",
    "flow: {a: [1, {b: c}], d: 'e'}\nempty_map: {}\nempty_list: []\n",
    "- a\n- [b, c]\n- {d: e}\n",
    "just a string\n",
    "42\n",
    "",
    "# only a comment\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: !custom tag\n",
    "a: !!int 99999999999999999999999999999\nb: !!float 1e400\n",
    "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    when: true\n",
]


def strictly_equal(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (``True == 1`` does not count)."""
    plain: dict[type, type] = {LineDict: dict, LineList: list}
    if plain.get(type(left), type(left)) is not plain.get(type(right), type(right)):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(
            strictly_equal(key, other) and strictly_equal(left[key], right[other])
            for key, other in zip(left, right, strict=True)
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(map(strictly_equal, left, right))
    if isinstance(left, float) and left != left:  # NaN
        return bool(right != right)
    return bool(left == right)


def outcome(text: str, *, lines: bool) -> tuple[str, Any]:
    try:
        return "document", load_yaml(text, "f.yml", lines=lines)
    except FlowFileError as exc:
        return "refused", [str(problem) for problem in exc.problems]


def corpus() -> list[str]:
    flows = [p.read_text() for p in sorted((ROOT / "flows").rglob("*.y*ml"))]
    data = [p.read_text() for p in sorted((ROOT / "tests" / "data").rglob("*.y*ml"))]
    return TRICKY + flows + data


def test_plain_parse_equals_the_line_parse_on_tricky_scalars_and_real_flows() -> None:
    texts = corpus()
    assert len(texts) > len(TRICKY)  # the repository's own flows are in the corpus
    for text in texts:
        slow, fast = outcome(text, lines=True), outcome(text, lines=False)
        assert slow[0] == fast[0], text
        if slow[0] == "refused":
            assert slow == fast, text
        else:
            assert strictly_equal(slow[1], fast[1]), text


def test_the_plain_parse_keeps_kestra_scalar_rules() -> None:
    document = load_yaml(TRICKY[0] + "j: 0755\nk: 2024-01-01\nl: 1_000\n", lines=False)
    assert document["a"] == "on" and document["b"] == "yes" and document["e"] == "y"
    assert document["g"] is True and document["h"] is False and document["i"] == "tRue"
    assert document["j"] == 0o755 and document["k"] == "2024-01-01" and document["l"] == 1000
    assert type(load_yaml("a: {}\n", lines=False)) is dict  # plain, no lines


def bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (bomb(), "once aliases are expanded"),
    "nesting": ("a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n", "nested"),
    "deep maps": ("".join("  " * i + f"k{i}:\n" for i in range(MAX_NESTING + 1)) + "", "nested"),
    "alias in its own anchor": ("a: &a [*a]\n", "nested"),
    "duplicate key": ("id: a\nnamespace: n\nid: b\n", "duplicate key 'id'"),
    "nested duplicate": ("a:\n  b: 1\n  c: 2\n  b: 3\n", "duplicate key 'b'"),
    "list as key": ("? [a, b]\n: value\n", "must be a plain value"),
    "bad int": ("a: !!int zero\n", "not a valid !!int"),
    "not YAML": ("a: [unclosed\n", "invalid YAML"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_input_check_fires_on_the_fast_path(name: str) -> None:
    text, expected = HOSTILE[name]
    fast = outcome(text, lines=False)
    assert fast[0] == "refused" and expected in fast[1][0], fast
    assert fast == outcome(text, lines=True)


def test_a_text_over_the_size_limit_is_refused_on_the_fast_path() -> None:
    text = "a: " + "x" * MAX_FILE_BYTES + "\n"
    assert outcome(text, lines=False) == outcome(text, lines=True)
    assert "larger than" in outcome(text, lines=False)[1][0]


def test_an_invalid_flow_is_reported_with_lines_although_the_fast_path_judged_it() -> None:
    source = (
        "id: a\nnamespace: company\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: hi\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
    )
    problems = validate_source(source, "f.yml")
    assert len(problems) == 1 and problems[0].startswith("f.yml:7: Duplicate task id")


def test_a_flow_with_plugin_defaults_is_judged_as_before() -> None:
    source = (
        "id: a\nnamespace: company\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
        "pluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values:\n"
        "      message: from defaults\n"
    )
    assert validate_source(source) == []
    assert validate_source(source.replace("message: from", "nonsense: from")) != []


def test_the_resolver_remembering_plain_scalars_answers_as_pyyaml_does() -> None:
    import yaml

    from kestra_git_tasks.yamlio import _LineLoader

    loader = _LineLoader("")
    scalars = [line.partition(": ")[2] for text in TRICKY[:5] for line in text.splitlines()]
    values = [*scalars, "word", "=", "<<", "-", "", "1" * 100, "0x" + "f" * 70]
    for _ in range(2):  # the second time from what was remembered
        for value in values:
            for implicit in ((True, False), (False, True), (False, False)):
                for kind in (yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode):
                    resolve = yaml.resolver.BaseResolver.resolve
                    pyyaml = resolve(loader, kind, value, implicit)  # type: ignore[no-untyped-call]
                    assert loader.resolve(kind, value, implicit) == pyyaml, (value, implicit)


def test_the_custom_type_prefilter_finds_what_the_word_boundary_regex_finds() -> None:
    import re

    from kestra_git_tasks.flow_types import _names_a_foreign_type

    reference = re.compile(r"\btype:\s*[\"']?(?!io\.kestra\.)[A-Za-z_$][\w$]*\.[\w$.]")
    texts = [
        *corpus(),
        "type: com.acme.Task\n",
        "task_type: com.acme.Task\n",
        "xtype: a.b\ntype: c.d\n",
        "étype: a.b\n",
        "-type: a.b\n",
        "  type: 'io.kestra.plugin.core.log.Log'\n",
        'type: "org.example.T"\n',
        "type:\n  com.acme.T\n",
        "type: a\n",
        "type: io.kestra.x\nxtype: y.z\n",
    ]
    for text in texts:
        assert _names_a_foreign_type(text) == bool(reference.search(text)), text
