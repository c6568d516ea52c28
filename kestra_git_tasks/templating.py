"""Rendering of ``{{ ... }}`` and ``<< ... >>`` templates in task properties.

Rules (SPEC section 4):

* Jinja2 in an **immutable sandbox** with **strict undefined** variables: a typo in a variable
  name is an error, and ``{{ ''.__class__.__mro__ }}`` is refused.
* Kestra's ``{{ expr }}`` and the design card's ``<< expr >>`` both work. Statements use
  ``{% %}``.
* A string without any template marker is returned as it is; a rendered value is not rendered
  again (Kestra renders once).
* Lists and maps print as compact JSON, booleans as ``true``/``false``, null as an empty string,
  as Kestra's Pebble writer does.
* Hostile templates fail with :class:`TemplateError`, never a crash: a macro calling itself
  without end; a ``*``, ``+`` or ``**`` whose result would exceed :data:`MAX_RENDERED_CHARS`
  items or :data:`MAX_INT_BITS` bits (refused before it is built); output over
  :data:`MAX_RENDERED_CHARS` characters (refused while it is written). The sandbox already
  refuses ``range()`` over 100,000 items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import KestraGitError, TemplateError

__all__ = ["MAX_INT_BITS", "MAX_RENDERED_CHARS", "Renderer", "has_template", "to_template_string"]

#: Most characters one template may write, and most items a ``*`` or ``+`` may build (10 MiB).
MAX_RENDERED_CHARS = 10 * 2**20
#: Largest integer ``*`` or ``**`` may build (about 3,000 decimal digits).
MAX_INT_BITS = 10_000

_MARKERS = ("{{", "{%", "{#", "<<")
_ANGLE = re.compile(r"<<(.+?)>>", re.DOTALL)


def has_template(value: str) -> bool:
    """True when ``value`` contains a template marker and must be rendered."""
    return any(marker in value for marker in _MARKERS)


def to_template_string(value: Any) -> str:
    """How a rendered value prints: JSON for collections, Kestra's spelling for the rest."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def _from_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"fromJson: not valid JSON ({exc.msg})") from exc


class _TooLarge(Exception):
    """A value or an output over the limits of the module doc (becomes a TemplateError)."""


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if operator == "**" and right > 0 and abs(left) > 1:
            bits = right * abs(left).bit_length()
        else:
            bits = left.bit_length() + right.bit_length() if operator == "*" else 0
        if bits > MAX_INT_BITS:
            raise _TooLarge(f"{left} {operator} {right} is too large a number")
        return
    if operator == "**":
        return
    sized = [side for side in (left, right) if isinstance(side, (str, list, tuple))]
    if operator == "*" and len(sized) == 1:
        count = right if sized[0] is left else left
        size = len(sized[0]) * count if isinstance(count, int) else 0
    elif operator == "+" and len(sized) == 2:
        size = len(left) + len(right)
    else:
        return
    if size > MAX_RENDERED_CHARS:
        raise _TooLarge(f"{operator} would build a value of more than {MAX_RENDERED_CHARS:,} items")


class _KestraEnvironment(ImmutableSandboxedEnvironment):
    """Maps are looked up by key only, as in Pebble: ``inputs.items`` is the input ``items``,
    never the dict method. ``*``, ``+`` and ``**`` are size-checked first."""

    intercepted_binops = frozenset({"*", "+", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                if attribute.startswith("_"):  # let the sandbox refuse dunder access
                    return super().getattr(obj, attribute)
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class Renderer:
    """A sandboxed Jinja2 environment configured like Kestra's Pebble engine."""

    def __init__(self) -> None:
        self._env = _KestraEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=to_template_string,
        )
        self._env.filters["toJson"] = _to_json
        self._env.filters["json"] = _from_json
        self._env.globals["fromJson"] = _from_json
        self._cache: dict[str, jinja2.Template] = {}

    def render(self, template: str, context: Mapping[str, Any], *, where: str = "") -> str:
        """Render one string. ``where`` (e.g. ``property 'url'``) prefixes error messages."""
        if not has_template(template):
            return template
        source = self._translate_angle_brackets(template)
        try:
            compiled = self._cache.get(source)
            if compiled is None:
                compiled = self._env.from_string(source)
                self._cache[source] = compiled
            return _bounded(compiled.generate(context))
        except RecursionError as exc:
            raise TemplateError(
                f"{_prefix(where)}the template {template!r} calls itself without end (a "
                "recursive macro?); give the recursion a condition that stops it"
            ) from exc
        except _TooLarge as exc:
            raise TemplateError(
                f"{_prefix(where)}the template {template!r} is refused: {exc}"
            ) from exc
        except SecurityError as exc:
            raise TemplateError(
                f"{_prefix(where)}the template {template!r} tries to reach outside the sandbox "
                f"({exc}); only variables, filters and functions are allowed"
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"{_prefix(where)}{exc.message} in the template {template!r}; check the "
                "variable name (available: flow, execution, inputs, outputs, vars, labels, "
                "trigger, envs, task, secret())"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{_prefix(where)}template syntax error in {template!r}: {exc.message}"
            ) from exc
        except KestraGitError as exc:
            exc.message = f"{_prefix(where)}{exc.message}"
            raise
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateError(f"{_prefix(where)}cannot render {template!r}: {exc}") from exc

    def render_tree(
        self, value: Any, context: Mapping[str, Any], *, where: str = "", skip: frozenset[str]
    ) -> Any:
        """Render every string inside ``value`` (dicts and lists recursively).

        Keys listed in ``skip`` at the top level are left untouched (child tasks, which render
        when they run).
        """
        if isinstance(value, Mapping):
            return {
                key: (
                    item
                    if key in skip
                    else self.render_tree(
                        item, context, where=_join(where, str(key)), skip=frozenset()
                    )
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [
                self.render_tree(item, context, where=f"{where}[{index}]", skip=frozenset())
                for index, item in enumerate(value)
            ]
        if isinstance(value, str):
            return self.render(value, context, where=f"property '{where}'" if where else "")
        return value

    def _translate_angle_brackets(self, template: str) -> str:
        """Turn ``<< expr >>`` into ``{{ expr }}`` where ``expr`` parses as an expression.

        Text such as a shell heredoc (``cat <<EOF``) has no closing ``>>`` or no valid
        expression inside, and stays literal.
        """
        if "<<" not in template:
            return template

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            try:
                self._env.parse("{{" + inner + "}}")
            except jinja2.TemplateSyntaxError:
                return match.group(0)
            return "{{" + inner + "}}"

        return _ANGLE.sub(replace, template)


def _bounded(chunks: Iterator[str]) -> str:
    """Join a template's output, stopping once it passes :data:`MAX_RENDERED_CHARS`."""
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_RENDERED_CHARS:
            raise _TooLarge(f"it writes more than {MAX_RENDERED_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
