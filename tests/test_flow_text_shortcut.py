"""The text shortcut of a flow's identity (``flowfile.top_level_identity``) reads a plain
``id:`` / ``namespace:`` line and nothing else: every other form gives None (the parse decides).

It is read by string searches (it runs for every flow of every sync); these cases pin what the
former line regex ``^(id|namespace):(.*?)(\\r?)$`` read, including line endings and duplicates.
"""

from __future__ import annotations

import pytest

from kestra_git_tasks.flowfile import namespace_line_set, top_level_identity

PLAIN = "id: hello\nnamespace: company.team\ntasks: []\n"


def test_plain_lines_give_namespace_id_and_the_namespace_line_span() -> None:
    namespace, flow_id, start, end = top_level_identity(PLAIN) or ("", "", 0, 0)
    assert (namespace, flow_id) == ("company.team", "hello")
    assert PLAIN[start:end] == "namespace: company.team"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("namespace: a.b\r\nid: f\r\n", ("a.b", "f", 0, 14)),  # CRLF: the \r is not the value's
        ("id: f\nnamespace: a # note\r", ("a", "f", 6, 25)),  # one \r at the very end
        ("id: f\nnamespace: a\n  id: nested\n", ("a", "f", 6, 18)),  # indented keys are not top
        ("idx: 1\nid: f\nnamespace: a", ("a", "f", 13, 25)),  # another key starting with id
        ("id:\tf\t\nnamespace:\ta\t# c\t", ("a", "f", 7, 24)),
    ],
)
def test_plain_forms_are_read(source: str, expected: tuple[str, str, int, int]) -> None:
    assert top_level_identity(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "id: f\nnamespace: a\nnamespace: b\n",  # twice
        "id: f\nid: g\nnamespace: a\n",
        "id: f\n",  # missing
        "namespace: a\n",
        "id: f\nnamespace: 'a'\n",  # quoted
        "id: f\nnamespace: &x a\n",  # anchor
        "id: f\nnamespace: !!str a\n",  # tag
        "id: f\nnamespace:\n  a\n",  # value on the next line
        "id: f\nnamespace: a\rb\n",  # a lone \r inside the line
        "id: f\nnamespace: a\r\r\n",  # only one \r is a line ending
        "id: true\nnamespace: a\n",  # not a string
        "id: 12\nnamespace: a\n",
        "id: f\nnamespace: null\n",
        "id: f\nnamespace:a\n",  # no blank after the colon
        "",
    ],
)
def test_other_forms_are_left_to_the_parse(source: str) -> None:
    assert top_level_identity(source) is None


def test_the_namespace_line_is_rewritten_with_its_comment_kept() -> None:
    source = "id: f\r\nnamespace: dev # mine\r\ntasks: []\r\n"
    assert (
        namespace_line_set(source, "prod.x") == "id: f\r\nnamespace: prod.x # mine\r\ntasks: []\r\n"
    )
