"""The Jinja2 environment configured like Kestra's Pebble engine, built the first time a
template needs it.

Contract: :func:`environment` returns a sandboxed Jinja2 environment with Kestra's filters,
functions and tests (:mod:`.library`) and the globals ``render``/``renderOnce`` (through the
given :class:`~kestra_git_tasks.templating.Renderer`) and ``fetchContext``/``printContext``.
Its rules are those of :mod:`kestra_git_tasks.templating` (immutable sandbox, strict undefined
variables, maps looked up by key only, size-checked ``*``, ``+`` and ``**``, ``~`` printing as
Kestra prints). Importing this module imports Jinja2: :mod:`kestra_git_tasks.templating`
imports it only when a template is more than the text it is written with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..templating import MAX_INT_BITS, MAX_RENDERED_CHARS, TooLarge, to_template_string
from . import library

if TYPE_CHECKING:
    from ..templating import Renderer

__all__ = ["KestraEnvironment", "environment", "is_data"]


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if operator == "**" and right > 0 and abs(left) > 1:
            bits = right * abs(left).bit_length()
        else:
            bits = left.bit_length() + right.bit_length() if operator == "*" else 0
        if bits > MAX_INT_BITS:
            raise TooLarge(f"{left} {operator} {right} is too large a number")
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
        raise TooLarge(f"{operator} would build a value of more than {MAX_RENDERED_CHARS:,} items")


class _KestraCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` through :meth:`KestraEnvironment.kestra_concat` (Kestra's printing)."""

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


class KestraEnvironment(ImmutableSandboxedEnvironment):
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


def environment(renderer: Renderer) -> KestraEnvironment:
    """A new environment whose ``render()``/``renderOnce()`` go through ``renderer``."""
    env = KestraEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=to_template_string,
        optimized=False,  # no constant folding: 'x' ~ true must print through kestra_concat
    )
    library.install(env)

    @jinja2.pass_context
    def render(context: Any, toRender: Any, recursive: bool = True) -> Any:
        return renderer.render_function(context, toRender, recursive)

    @jinja2.pass_context
    def render_once(context: Any, toRender: Any) -> Any:
        return renderer.render_function(context, toRender, False)

    @jinja2.pass_context
    def fetch_context(context: Any) -> dict[str, Any]:
        return {k: v for k, v in context.get_all().items() if is_data(v)}

    env.globals["fetchContext"] = fetch_context
    env.globals["printContext"] = fetch_context
    env.globals["render"] = render
    env.globals["renderOnce"] = render_once
    return env


def is_data(value: Any) -> bool:
    """A template variable that is data (not a function, a macro or an undefined value)."""
    return not callable(value) and not isinstance(value, jinja2.Undefined)
