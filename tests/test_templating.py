"""Sandboxed rendering with Kestra's conventions."""

from __future__ import annotations

from typing import Any

import pytest

from kestra_git_tasks.errors import TemplateError
from kestra_git_tasks.templating import MAX_RENDERED_CHARS, Renderer, has_template

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


# -- hostile templates ---------------------------------------------------------------------------


def test_recursive_macro_is_a_template_error_not_a_crash(renderer: Renderer) -> None:
    template = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    with pytest.raises(TemplateError, match="calls itself without end") as caught:
        renderer.render(template, CONTEXT, where="property 'message'")
    assert str(caught.value).startswith("property 'message': ")
    assert renderer.render("{{ inputs.name }}", CONTEXT) == "world"  # still usable after


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ ['x'] * 10**9 }}",
        "{{ 10 ** 100000000 }}",
        "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
    ],
)
def test_values_too_large_are_refused_before_they_are_built(
    renderer: Renderer, template: str
) -> None:
    with pytest.raises(TemplateError, match=f"more than {MAX_RENDERED_CHARS:,}|too large a number"):
        renderer.render(template, CONTEXT)


def test_output_too_large_is_refused_while_it_is_written(renderer: Renderer) -> None:
    template = "{% for i in range(100000) %}{% for j in range(100000) %}xx{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match=f"more than {MAX_RENDERED_CHARS:,} characters"):
        renderer.render(template, CONTEXT)


def test_reasonable_sizes_still_render(renderer: Renderer) -> None:
    assert renderer.render("{{ ('ab' * 1000) | length }}", CONTEXT) == "2000"
    assert renderer.render("{{ 2 ** 64 }}", CONTEXT) == str(2**64)
    assert renderer.render("{{ [1, 2] + [3] }}", CONTEXT) == "[1,2,3]"
