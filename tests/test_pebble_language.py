"""Kestra's language on Jinja2 beyond the conformance table: values, dates, errors, hostile input."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from kestra_git_tasks.errors import TemplateError
from kestra_git_tasks.templating import Renderer

CONTEXT: dict[str, Any] = {
    "execution": {"id": "e1", "startDate": "2024-02-24T22:00:00.123456+00:00"},
    "trigger": {},
    "inputs": {"flag": True, "items": ["a", "b"], "name": "world", "crlf": "a\r\nb"},
}


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'x' ~ true }}", "xtrue"),
        ("{{ 'x' ~ inputs.flag ~ false }}", "xtruefalse"),
        ("{{ 'x' ~ inputs.items }}", 'x["a","b"]'),
        ("{{ execution.startDate }}", "2024-02-24T22:00:00.123456Z"),
        ("{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}", "2024-02-24"),
        ("{{ execution.startDate | date('EEEE, MMM d') }}", "Saturday, Feb 24"),
        ("{{ execution.startDate > '2024-01-01T00:00:00Z' }}", "true"),
        ("{{ execution.startDate < '2024-01-01' }}", "false"),
        ("{{ execution.startDate | dateAdd(1, 'MONTHS', format='iso_local_date') }}", "2024-03-24"),
        ("{{ execution.startDate | date('iso_instant') }}", "2024-02-24T22:00:00.123456Z"),
        (
            "{{ execution.startDate | date('iso_date_time', timeZone='Europe/Paris') }}",
            "2024-02-24T23:00:00.123456+01:00[Europe/Paris]",
        ),
        ("{{ execution.startDate | date('sql_seq') }}", "2024-02-24 22:00:00"),
        ("{% for i in inputs.items %}{{ loop.index }}{{ loop.first }}{% endfor %}", "0true1false"),
        ("{% if false %}a{% elseif inputs.flag %}b{% else %}c{% endif %}", "b"),
        ("{{ inputs.name is null ? 'n' : inputs.name | upper }}", "WORLD"),
        ("{{ inputs.items contains 'a' and not (inputs.items contains 'z') }}", "true"),
        ("{{ 'abc' contains 'b' }}", "true"),
        ("{{ inputs.crlf | indent(2) }}", "a\r\n  b"),
        ("{{ [3, 1, 3, 2] | distinct }}", "[3,1,2]"),
        ("{{ inputs.items | join(', ') }}", "a, b"),
        ("{{ [true, null] | join('-') }}", "true-"),
        ("{{ 'hello' | first }}{{ 'hello' | last }}", "ho"),
        ("{{ -3 | abs }}", "3"),
        ("{{ 1234567.891 | numberFormat('#,##0.00') }}", "1,234,567.89"),
        ("{{ {'a': 1} | toYaml }}", "a: 1\n"),
        ("{{ uuid() | length }}", "36"),
        ("{{ randomInt(1, 2) }}", "1"),
        ("{{ now(format='yyyy') | length }}", "4"),
        ("<< inputs.missing ?? 'fallback' >>", "fallback"),
        ("{% verbatim %}{{ x ?? y }}{% endverbatim %}", "{{ x ?? y }}"),
        # Jinja2 extras kept
        ("{{ inputs.name if inputs.flag else 'no' }}", "world"),
        ("{% for i in inputs.items %}{{ loop.index0 }}{% endfor %}", "01"),
        ("{{ inputs.items | map('upper') | list }}", '["A","B"]'),
    ],
)
def test_kestra_language(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CONTEXT) == expected


def test_execution_start_date_as_a_datetime_is_a_date_value(renderer: Renderer) -> None:
    context = {"execution": {"startDate": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)}}
    assert renderer.render("{{ execution.startDate }}", context) == "2024-01-02T03:04:05Z"
    assert renderer.render("{{ execution.startDate | timestamp }}", context) == "1704164645"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ inputs.name | to_json }}",
            r"Filter \[to_json\] does not exist.*Kestra spells it toJson",
        ),
        (
            "{{ inputs.name | substringbefore('o') }}",
            r"Filter \[substringbefore\].*substringBefore",
        ),
        ("{{ inputs.name | tojsn }}", r"Filter \[tojsn\].*did you mean"),
        (
            "{{ fromjson('{}') }}",
            r"Function or Macro \[fromjson\] does not exist.*Kestra spells it fromJson",
        ),
        ("{{ nwo() }}", r"Function or Macro \[nwo\].*did you mean now"),
        ("{{ inputs.name is nul }}", r"Test \[nul\] does not exist.*did you mean null"),
    ],
)
def test_unknown_filter_function_or_test_names_itself_the_property_and_a_spelling(
    renderer: Renderer, template: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        renderer.render(template, CONTEXT, where="property 'message'")
    assert str(caught.value).startswith("property 'message': ")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' | date(timeZone='Mars/Olympus') }}", "unknown timeZone 'Mars/Olympus'"),
        ("{{ 'not a date' | date }}", "could not be parsed"),
        ("{{ '2024-01-01' | dateAdd(1, 'FORTNIGHTS') }}", "unknown unit 'FORTNIGHTS'"),
        ("{{ [1] | jq('.[') }}", "jq: '.\\[' failed"),
        ("{{ 1 | keys }}", "'keys' filter can only be applied to List, Map, Array"),
        ("{{ 'x' | replace('a') }}", "replace: takes a map"),
    ],
)
def test_wrong_arguments_are_template_errors_naming_the_filter(
    renderer: Renderer, template: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        renderer.render(template, CONTEXT)


# -- hostile input on the new layer ---------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{{ missing ?? ''.__class__.__mro__ }}",
        "{{ true ? ''.__class__ : 1 }}",
        "{{ [''.__class__] contains 1 }}",
        "{{ render(\"{{ ''.__class__.__mro__ }}\") }}",
        "<< x ??? ''.__class__ >>",
        "{{ (missing ?? '').__class__ }}",
    ],
)
def test_pebble_syntax_does_not_weaken_the_sandbox(renderer: Renderer, template: str) -> None:
    with pytest.raises(TemplateError, match="outside the sandbox"):
        renderer.render(template, CONTEXT)


def test_long_coalescing_chain_stays_linear(renderer: Renderer) -> None:
    template = "{{ " + " ?? ".join(["a.b"] * 30) + " ?? 'end' }}"
    started = time.monotonic()
    assert renderer.render(template, CONTEXT) == "end"
    assert time.monotonic() - started < 5


def test_coalescing_chain_too_deep_for_the_parser_is_a_template_error(renderer: Renderer) -> None:
    template = "{{ " + " ?? ".join(["a.b"] * 2000) + " ?? 'end' }}"
    with pytest.raises(TemplateError, match="nests expressions too deeply"):
        renderer.render(template, CONTEXT)


def test_render_of_a_value_rendering_itself_is_an_error_not_a_crash(renderer: Renderer) -> None:
    context = {"x": "{{ render(x) }}"}
    with pytest.raises(TemplateError, match="calls itself without end"):
        renderer.render("{{ render(x) }}", context)


def test_render_output_stays_bounded(renderer: Renderer) -> None:
    context = {
        "x": "{% for i in range(100000) %}{% for j in range(1000) %}xx{% endfor %}{% endfor %}"
    }
    with pytest.raises(TemplateError, match="more than"):
        renderer.render("{{ render(x) }}", context)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'unterminated }}",
        "{{ a ?? }}",
        "{{ ? : }}",
        "{{ ((((( }}",
        "{% elseif %}",
        "{{ a contains }}",
    ],
)
def test_broken_pebble_syntax_is_a_template_error(renderer: Renderer, template: str) -> None:
    with pytest.raises(TemplateError):
        renderer.render(template, CONTEXT)


def test_an_undefined_variable_next_to_a_macro_call_is_not_called_an_unknown_function(
    renderer: Renderer,
) -> None:
    template = "{% macro m() %}x{% endmacro %}{{ m() }}{{ nope }}"
    with pytest.raises(TemplateError) as caught:
        renderer.render(template, CONTEXT)
    assert "Function or Macro" not in str(caught.value)
    assert "'nope' is undefined" in str(caught.value)


def test_jq_with_endless_results_is_refused_not_run_to_the_end(renderer: Renderer) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="more than 100,000 results"):
        renderer.render("{{ 1 | jq('range(1e9)') }}", CONTEXT)
    assert time.monotonic() - started < 5
