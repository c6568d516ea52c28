"""Sandboxed rendering with Kestra's conventions."""

from __future__ import annotations

from typing import Any

import pytest

from kestra_git_tasks.errors import TemplateError
from kestra_git_tasks.templating import Renderer, has_template

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "world", "count": 3, "flag": True, "items": ["a", "b"], "map": {"k": 1}},
    "outputs": {"task-1": {"value": "x"}},
    "nothing": None,
}


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ inputs.name }}", "world"),
        ("<< inputs.name >>", "world"),
        ("{{ inputs.name }} and << inputs.count >>", "world and 3"),
        ("{{ inputs.flag }}", "true"),
        ("{{ inputs.items }}", '["a","b"]'),
        ("{{ inputs.map }}", '{"k":1}'),
        ("{{ nothing }}", ""),
        ("{{ outputs['task-1'].value }}", "x"),
        ("{% for i in inputs.items %}{{ i }}{% endfor %}", "ab"),
        ("{{ inputs.map | toJson }}", '{"k":1}'),
        ("cat <<EOF > out.txt", "cat <<EOF > out.txt"),
        ("a << b", "a << b"),
    ],
)
def test_render(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ inputs.__class__ }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{{ inputs.items.append('x') }}",
        "<< ''.__class__ >>",
    ],
)
def test_sandbox_escape_fails_with_template_error(renderer: Renderer, template: str) -> None:
    with pytest.raises(TemplateError, match="outside the sandbox"):
        renderer.render(template, CONTEXT, where="property 'message'")


def test_undefined_variable_is_an_error_naming_the_template(renderer: Renderer) -> None:
    with pytest.raises(TemplateError) as caught:
        renderer.render("{{ inputs.nme }}", CONTEXT, where="property 'message'")
    assert str(caught.value).startswith("property 'message': ")
    assert "'{{ inputs.nme }}'" in str(caught.value)


def test_syntax_error_is_a_template_error(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        renderer.render("{{ inputs.name ", CONTEXT)


def test_render_tree_renders_nested_values_and_skips_child_tasks(renderer: Renderer) -> None:
    tree = {"a": ["{{ inputs.name }}", {"b": "{{ inputs.count }}"}], "tasks": ["{{ later }}"]}
    assert renderer.render_tree(tree, CONTEXT, skip=frozenset({"tasks"})) == {
        "a": ["world", {"b": "3"}],
        "tasks": ["{{ later }}"],
    }


def test_render_tree_error_names_the_property_path(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match=r"property 'env\.TOKEN'"):
        renderer.render_tree({"env": {"TOKEN": "{{ nope }}"}}, CONTEXT, skip=frozenset())


def test_rendering_happens_once(renderer: Renderer) -> None:
    context = {"value": "{{ inputs }}"}
    assert renderer.render("{{ value }}", context) == "{{ inputs }}"


def test_has_template() -> None:
    assert has_template("{{ x }}") and has_template("<< x >>") and has_template("{% if %}")
    assert not has_template("no markers here")
