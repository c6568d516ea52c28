"""Rendering of ``{{ ... }}`` and ``<< ... >>`` templates in task properties.

Rules (SPEC section 4):

* Jinja2 in an **immutable sandbox** with **strict undefined** variables: a typo in a variable
  name is an error, and ``{{ ''.__class__.__mro__ }}`` is refused.
* Kestra's ``{{ expr }}`` and the design card's ``<< expr >>`` both work. Statements use
  ``{% %}``.
* A string without any template marker is returned as it is; a rendered value is not rendered
  again (Kestra renders once).
* Jinja2 is loaded the first time a template needs it (:mod:`kestra_git_tasks.pebble.engine`
  builds the environment): a string that is only ``{{ secret('NAME') }}`` calls the context's
  ``secret`` directly, with the environment's result, errors and messages.
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
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import KestraGitError, TemplateError

if TYPE_CHECKING:
    import jinja2

    from .pebble.engine import KestraEnvironment

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
        from .pebble import library

        return library.to_json(value)
    if isinstance(value, (datetime, date)):
        from .pebble import dates

        return dates.java_string(value)
    return str(value)


class TooLarge(Exception):
    """A value or an output over the limits of the module doc (becomes a TemplateError)."""


#: What a template's evaluation may raise that :func:`_fail` words as a TemplateError.
_FAILURES = (
    RecursionError,
    TooLarge,
    KestraGitError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
)
#: A template that is one ``secret()`` call of a plain name and nothing else.
_LONE_SECRET = re.compile(r"""\{\{ *secret\((['"])([A-Za-z0-9_.-]+)\1\) *\}\}""")


class Renderer:
    """A sandboxed Jinja2 environment configured like Kestra's Pebble engine.

    The environment (and Jinja2) is built the first time a template needs it: a string without
    a marker is returned as it is, and a string that is only ``{{ secret('NAME') }}`` calls
    the context's ``secret`` itself, with the result, the errors and the messages the
    environment would give.
    """

    def __init__(self) -> None:
        self._environment: KestraEnvironment | None = None
        self._cache: dict[str, jinja2.Template] = {}

    @property
    def _env(self) -> KestraEnvironment:
        if self._environment is None:
            from .pebble.engine import environment

            self._environment = environment(self)
        return self._environment

    def render(self, template: str, context: Mapping[str, Any], *, where: str = "") -> str:
        """Render one string. ``where`` (e.g. ``property 'url'``) prefixes error messages."""
        if not has_template(template):
            return template
        secret = _lone_secret(template, context)
        if secret is None:
            return self._render_template(template, context, where)
        function, name = secret
        try:
            return _bounded(iter((to_template_string(function(name)),)))
        except StopIteration:  # Jinja2 makes it an undefined value: its path words the error
            return self._render_template(template, context, where)
        except _FAILURES as exc:
            _fail(exc, template, where)

    def _render_template(self, template: str, context: Mapping[str, Any], where: str) -> str:
        """:meth:`render` through the Jinja2 environment."""
        import jinja2
        from jinja2.exceptions import SecurityError

        from .pebble.translate import translate

        try:
            compiled = self._cache.get(template)
            if compiled is None:
                compiled = self._env.from_string(translate(template, self._parses))
                self._cache[template] = compiled
            return _bounded(compiled.generate(_with_dates(context)))
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
        except _FAILURES as exc:
            _fail(exc, template, where)

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
        import jinja2

        from .pebble.translate import translate

        try:
            self._env.parse(translate(source))
        except jinja2.TemplateSyntaxError:
            return False
        return True

    def render_function(self, context: Any, toRender: Any, recursive: bool = True) -> Any:
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
        import jinja2
        from jinja2 import nodes

        from .pebble.translate import translate

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


def _lone_secret(
    template: str, context: Mapping[str, Any]
) -> tuple[Callable[[str], Any], str] | None:
    """``(secret, NAME)`` when ``template`` is only ``{{ secret('NAME') }}`` and the context's
    ``secret`` is a plain function the sandbox would call as it is; else None."""
    match = _LONE_SECRET.fullmatch(template)
    if match is None:
        return None
    function = context.get("secret")
    if not callable(function) or any(
        getattr(function, attribute, False) for attribute in _NOT_PLAIN
    ):
        return None
    call = getattr(function, "__call__", None)  # noqa: B004 (looked at as Jinja2 does)
    if hasattr(function, "jinja_pass_arg") or hasattr(call, "jinja_pass_arg"):
        return None
    if getattr(function, "__name__", None) in ("format", "format_map") and isinstance(
        getattr(function, "__self__", None), str
    ):
        return None  # the sandbox formats through its own formatter
    return function, match[2]


#: What makes the sandbox refuse a function: such a ``secret`` goes through the environment,
#: as does one Jinja2 passes the context to first (``jinja_pass_arg``).
_NOT_PLAIN = ("unsafe_callable", "alters_data")


def _fail(exc: BaseException, template: str, where: str) -> NoReturn:
    """Raise the TemplateError of ``exc`` (one of :data:`_FAILURES`) while rendering
    ``template``; a KestraGitError keeps its class, its message prefixed with ``where``."""
    if isinstance(exc, RecursionError):
        raise TemplateError(
            f"{_prefix(where)}the template {template!r} calls itself without end (a "
            "recursive macro?) or nests expressions too deeply; give the recursion a "
            "condition that stops it, or split the expression"
        ) from exc
    if isinstance(exc, TooLarge):
        raise TemplateError(f"{_prefix(where)}the template {template!r} is refused: {exc}") from exc
    if isinstance(exc, KestraGitError):
        exc.message = f"{_prefix(where)}{exc.message}"
        raise exc
    raise TemplateError(f"{_prefix(where)}cannot render {template!r}: {exc}") from exc


def _with_dates(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """``execution.startDate``, ``trigger.date`` and ``taskrun.startDate`` as date values."""
    from .pebble import dates

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


def _unknown(message: str, env: KestraEnvironment, template: str) -> str:
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
            raise TooLarge(f"it writes more than {MAX_RENDERED_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
