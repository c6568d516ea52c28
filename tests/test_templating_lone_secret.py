"""A template that is only ``{{ secret('NAME') }}`` renders without Jinja2, exactly as Jinja2
renders it: the same value, the same error class and message, the same masking.

Each case renders the lone secret (the direct path) and ``{{ (secret('NAME')) }}``, the same
expression the direct path does not take, through a fresh :class:`Renderer` each, and compares
the outcomes (the template's own text in a message replaced by ``T``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import unsafe

from kestra_git_tasks.context import RunContext
from kestra_git_tasks.errors import ConfigError, SecretNotFoundError, TemplateError
from kestra_git_tasks.templating import MAX_RENDERED_CHARS, Renderer

WHERE = "property 'password'"


def _outcome(template: str, context: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return ("value", Renderer().render(template, context, where=WHERE))
    except Exception as exc:  # compared, whatever it is
        return ("error", type(exc), str(exc).replace(repr(template), "T"))


def _both(function: Any, name: str = "GIT_TOKEN") -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    context = {"secret": function, "flow": {"id": "f"}}
    lone = _outcome(f"{{{{ secret('{name}') }}}}", context)
    through_jinja2 = _outcome(f"{{{{ (secret('{name}')) }}}}", context)
    return lone, through_jinja2


def _raises(error: Callable[[], BaseException]) -> Callable[[str], str]:
    def secret(name: str) -> str:
        raise error()  # a new one each call: ours get their message prefixed

    return secret


VALUES: list[Any] = [
    "s3cr3t",
    "",
    "line\r\nbreak {{ not a template }}",
    42,
    None,
    True,
    {"a": [1, 2]},
    ["x"],
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
]


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_a_lone_secret_prints_its_value_as_jinja2_prints_it(value: Any) -> None:
    lone, through_jinja2 = _both(lambda name: value)
    assert lone == through_jinja2
    assert lone[0] == "value"


ERRORS: list[Callable[[], BaseException]] = [
    lambda: SecretNotFoundError("Cannot find secret for key 'GIT_TOKEN'.", name="GIT_TOKEN"),
    lambda: ConfigError("Could not decode secret 'SECRET_GIT_TOKEN'"),
    lambda: ValueError("bad value"),
    lambda: KeyError("GIT_TOKEN"),
    lambda: TypeError("not a string"),
    lambda: ZeroDivisionError("division by zero"),
    lambda: RecursionError("maximum recursion depth exceeded"),
    StopIteration,
]


@pytest.mark.parametrize("error", ERRORS, ids=[type(e()).__name__ for e in ERRORS])
def test_a_failing_secret_fails_with_the_class_and_message_jinja2_gives(
    error: Callable[[], BaseException],
) -> None:
    lone, through_jinja2 = _both(_raises(error))
    assert lone == through_jinja2
    assert lone[0] == "error"


def test_a_secret_over_the_output_limit_is_refused_alike() -> None:
    lone, through_jinja2 = _both(lambda name: "x" * (MAX_RENDERED_CHARS + 1))
    assert lone == through_jinja2
    assert lone[:2] == ("error", TemplateError) and "more than" in lone[2]


def test_secret_functions_the_sandbox_treats_apart_go_through_jinja2() -> None:
    """A function the sandbox refuses, or one Jinja2 passes the context to, keeps Jinja2's
    behaviour: refused, or called with the context first."""
    refused = unsafe(lambda name: "s3cr3t")
    lone, through_jinja2 = _both(refused)
    assert lone == through_jinja2
    assert lone[:2] == ("error", TemplateError) and "outside the sandbox" in lone[2]

    @jinja2.pass_context
    def with_context(context: Any, name: str) -> str:
        return f"{context['flow']['id']}:{name}"

    assert _both(with_context) == (("value", "f:GIT_TOKEN"), ("value", "f:GIT_TOKEN"))
    lone, through_jinja2 = _both("not callable")
    assert lone == through_jinja2 and lone[0] == "error"


def test_a_context_without_secret_names_the_missing_function() -> None:
    outcome = _outcome("{{ secret('GIT_TOKEN') }}", {"flow": {"id": "f"}})
    assert outcome[:2] == ("error", TemplateError)
    assert "Function or Macro [secret] does not exist" in outcome[2]


HOSTILE = [
    "{{ secret('A\\'B') }}",
    "{{ secret('X') }}{{ secret('X') }}",
    "{{ secret('X') ~ '!' }}",
    "{{ secret('X') }}\n",
    "{{- secret('X') -}}",
    "{{ secret('X', subkey='k') }}",
    "{{ secret('X') | upper }}",
    "<< secret('X') >>",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_templates_that_only_look_like_a_lone_secret_render_through_jinja2(
    template: str,
) -> None:
    seen: list[Any] = []

    def secret(name: str, subkey: str | None = None) -> str:
        seen.append((name, subkey))
        return json.dumps({"k": "v"}) if subkey is None else "v"

    rendered = Renderer().render(template, {"secret": secret})
    assert seen, "secret() was called"
    assert "{{" not in rendered and "<<" not in rendered


def test_a_run_context_masks_the_secret_it_rendered_directly(tmp_path: Path) -> None:
    with RunContext.create(secrets={"GIT_TOKEN": "s3cr3t"}, home=tmp_path, environ={}) as ctx:
        rendered = ctx.render(
            {"password": "{{ secret('GIT_TOKEN') }}", "other": '{{secret("GIT_TOKEN")}}'}
        )
        assert rendered == {"password": "s3cr3t", "other": "s3cr3t"}
        assert ctx.mask("token s3cr3t") == "token ******"
        with pytest.raises(SecretNotFoundError, match=r"^property 'password': Cannot find"):
            ctx.render({"password": "{{ secret('MISSING') }}"})


def test_a_lone_secret_does_not_load_jinja2() -> None:
    code = (
        "import sys\n"
        "from kestra_git_tasks.templating import Renderer\n"
        "r = Renderer()\n"
        "assert r.render(\"{{ secret('X') }}\", {'secret': lambda n: n + '!'}) == 'X!'\n"
        "assert r.render('plain text', {}) == 'plain text'\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
