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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import KestraGitError, TemplateError

__all__ = ["Renderer", "has_template", "to_template_string"]

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


class _KestraEnvironment(ImmutableSandboxedEnvironment):
    """Maps are looked up by key only, as in Pebble: ``inputs.items`` is the input ``items``,
    never the dict method."""

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
            return compiled.render(context)
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


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
