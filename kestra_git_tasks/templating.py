"""Rendering of ``{{ ... }}`` and ``<< ... >>`` templates in task properties.

Rules (SPEC section 4):

* Jinja2 in an **immutable sandbox** with **strict undefined** variables: a typo in a variable
  name is an error, and ``{{ ''.__class__.__mro__ }}`` is refused.
* Kestra's ``{{ expr }}`` and the design card's ``<< expr >>`` both work. Statements use
  ``{% %}``.
* A string without any template marker is returned as it is; a rendered value is not rendered
  again (Kestra renders once).
* The language is Kestra's (Pebble): :func:`kestra_git_tasks.pebble.translate.translate` maps
  Pebble-only syntax (``??``, ``? :``, ``contains``, ``elseif``, 0-based ``loop.index``...) onto
  Jinja2 first, and :mod:`kestra_git_tasks.pebble.library` adds Kestra's filters, functions and
  tests; ``render()`` is a second pass on purpose. Jinja2 syntax keeps working.
* Lists and maps print as compact JSON, booleans as ``true``/``false``, null as an empty string,
  dates in Java's ISO form, as Kestra's Pebble writer does; ``~`` concatenation prints alike.
* An unknown filter or function names itself and suggests the Kestra or Jinja2 spelling.
* Hostile templates fail with :class:`TemplateError`, never a crash: a macro calling itself
  without end; a ``*``, ``+`` or ``**`` whose result would exceed :data:`MAX_RENDERED_CHARS`
  items or :data:`MAX_INT_BITS` bits (refused before it is built); output over
  :data:`MAX_RENDERED_CHARS` characters (refused while it is written). The sandbox already
  refuses ``range()`` over 100,000 items.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import KestraGitError, TemplateError
from .pebble import dates, library
from .pebble.translate import translate

__all__ = ["MAX_INT_BITS", "MAX_RENDERED_CHARS", "Renderer", "has_template", "to_template_string"]

#: Most characters one template may write, and most items a ``*`` or ``+`` may build (10 MiB).
MAX_RENDERED_CHARS = 10 * 2**20
#: Largest integer ``*`` or ``**`` may build (about 3,000 decimal digits).
MAX_INT_BITS = 10_000

_MARKERS = ("{{", "{%", "{#", "<<")
#: Spellings users bring from the other engine: Jinja2 -> Kestra and Kestra -> Jinja2.
_SPELLINGS = {
    "tojson": "toJson",
    "to_json": "toJson",
    "from_json": "fromJson",
    "fromjson": "fromJson",
    "to_yaml": "yaml",
    "toyaml": "yaml",
    "int": "number",
    "float": "number('FLOAT')",
    "string": "~ ''",
    "striptags": "replace({'<b>': ''}, regexp=true)",
    "strftime": "date('yyyy-MM-dd')",
    "datetimeformat": "date('yyyy-MM-dd HH:mm:ss')",
    "items": "keys / values",
    "dictsort": "keys | sort",
    "unique": "distinct",
    "batch": "chunk",
    "wordcount": "split(' ') | length",
    "b64encode": "base64encode",
    "b64decode": "base64decode",
    "substring_before": "substringBefore",
    "substring_after": "substringAfter",
    "random_int": "randomInt",
    "randint": "randomInt",
    "uuid4": "uuid",
    "date_add": "dateAdd",
    "dateadd": "dateAdd",
    "timedelta": "dateAdd(1, 'DAYS')",
}


def has_template(value: str) -> bool:
    """True when ``value`` contains a template marker and must be rendered."""
    return any(marker in value for marker in _MARKERS)


def to_template_string(value: Any) -> str:
    """How a rendered value prints: JSON for collections, Kestra's spelling for the rest."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple, set)):
        return library.to_json(value)
    if isinstance(value, (datetime, date)):
        return dates.java_string(value)
    return str(value)


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


class _KestraCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` through :meth:`_KestraEnvironment.kestra_concat` (Kestra's printing)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.kestra_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if isinstance(node, nodes.Concat) or node.find(nodes.Concat) is not None:
            raise nodes.Impossible()  # printed at run time, through kestra_concat
        return super()._output_child_to_const(node, frame, finalize)


class _KestraEnvironment(ImmutableSandboxedEnvironment):
    """Maps are looked up by key only, as in Pebble: ``inputs.items`` is the input ``items``,
    never the dict method. ``*``, ``+`` and ``**`` are size-checked first. An attribute or item
    of an undefined value is that undefined value (Pebble's ``??`` and ``is defined`` work on
    ``a.b.c``; printing or using it is still an error)."""

    intercepted_binops = frozenset({"*", "+", "**"})
    code_generator_class = _KestraCodeGenerator

    def kestra_concat(self, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``: each part printed as Kestra prints it."""
        return "".join(to_template_string(value) for value in values)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, jinja2.Undefined):
            return obj
        if isinstance(argument, jinja2.Undefined):
            return argument
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, jinja2.Undefined) and not attribute.startswith("_"):
            return obj
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
            optimized=False,  # no constant folding: 'x' ~ true must print through kestra_concat
        )
        library.install(self._env)
        renderer = self

        @jinja2.pass_context
        def render(context: Any, toRender: Any, recursive: bool = True) -> Any:
            return renderer._render_function(context, toRender, recursive)

        @jinja2.pass_context
        def render_once(context: Any, toRender: Any) -> Any:
            return renderer._render_function(context, toRender, False)

        @jinja2.pass_context
        def fetch_context(context: Any) -> dict[str, Any]:
            return {k: v for k, v in context.get_all().items() if _is_data(v)}

        self._env.globals["fetchContext"] = fetch_context
        self._env.globals["printContext"] = fetch_context
        self._env.globals["render"] = render
        self._env.globals["renderOnce"] = render_once
        self._cache: dict[str, jinja2.Template] = {}

    def render(self, template: str, context: Mapping[str, Any], *, where: str = "") -> str:
        """Render one string. ``where`` (e.g. ``property 'url'``) prefixes error messages."""
        if not has_template(template):
            return template
        try:
            compiled = self._cache.get(template)
            if compiled is None:
                compiled = self._env.from_string(translate(template, self._parses))
                self._cache[template] = compiled
            return _bounded(compiled.generate(_with_dates(context)))
        except RecursionError as exc:
            raise TemplateError(
                f"{_prefix(where)}the template {template!r} calls itself without end (a "
                "recursive macro?) or nests expressions too deeply; give the recursion a "
                "condition that stops it, or split the expression"
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
            unknown = self._unknown_function(template, context, exc.message or "")
            if unknown is not None:
                raise TemplateError(f"{_prefix(where)}{unknown}") from exc
            raise TemplateError(
                f"{_prefix(where)}{exc.message} in the template {template!r}; check the "
                "variable name (available: flow, execution, inputs, outputs, vars, labels, "
                "trigger, envs, task, secret())"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            if exc.message and exc.message.startswith(("No filter named", "No test named")):
                raise TemplateError(
                    f"{_prefix(where)}{_unknown(exc.message, self._env, template)}"
                ) from exc
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

    def _parses(self, source: str) -> bool:
        try:
            self._env.parse(translate(source))
        except jinja2.TemplateSyntaxError:
            return False
        return True

    def _render_function(self, context: Any, toRender: Any, recursive: bool = True) -> Any:
        """Kestra's ``render()``: evaluate a value that itself holds a template, on purpose."""
        variables = context.get_all()
        value = toRender
        for _ in range(100 if recursive else 1):
            rendered = self.render_tree(value, variables, skip=frozenset())
            if rendered == value:
                break
            value = rendered
        return value

    def _unknown_function(
        self, template: str, context: Mapping[str, Any], message: str
    ) -> str | None:
        """When the undefined name was called as a function: Kestra's wording and a hint."""
        try:
            tree = self._env.parse(translate(template, self._parses))
        except jinja2.TemplateSyntaxError:
            return None
        for call in tree.find_all(nodes.Call):
            name = getattr(call.node, "name", None)
            if (
                isinstance(call.node, nodes.Name)
                and name not in context
                and name not in self._env.globals
                and f"'{name}' is undefined" in message
            ):
                return (
                    f"Function or Macro [{name}] does not exist in the template "
                    f"{template!r}{_suggest(str(name), self._env.globals)}"
                )
        return None


def _is_data(value: Any) -> bool:
    """A template variable that is data (not a function, a macro or an undefined value)."""
    return not callable(value) and not isinstance(value, jinja2.Undefined)


def _with_dates(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """``execution.startDate``, ``trigger.date`` and ``taskrun.startDate`` as date values."""
    result = dict(context)
    for key, attribute in (
        ("execution", "startDate"),
        ("trigger", "date"),
        ("taskrun", "startDate"),
    ):
        holder = result.get(key)
        if isinstance(holder, Mapping) and attribute in holder:
            value = holder[attribute]
            try:
                if isinstance(value, str):
                    value = dates.KestraDate.of(datetime.fromisoformat(value))
                elif isinstance(value, datetime):
                    value = dates.KestraDate.of(value)
            except ValueError:
                continue
            result[key] = {**holder, attribute: value}
    return result


def _unknown(message: str, env: jinja2.Environment, template: str) -> str:
    kind = "Filter" if message.startswith("No filter") else "Test"
    name = message.split("'")[1] if "'" in message else message
    known = env.filters if kind == "Filter" else env.tests
    return f"{kind} [{name}] does not exist in the template {template!r}{_suggest(name, known)}"


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    if name in _SPELLINGS:
        return f"; Kestra spells it {_SPELLINGS[name]}"
    close = difflib.get_close_matches(name, [k for k in known if not k.startswith("_")], n=2)
    close += [k for k in known if k.lower() == name.lower() and k not in close]
    return f"; did you mean {' or '.join(close)}?" if close else ""


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
