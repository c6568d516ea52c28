"""YAML loading that remembers where every value came from and refuses duplicate keys.

Kestra parses flows with Jackson's ``STRICT_DUPLICATE_DETECTION``; a YAML file that says
``branch:`` twice is an error there, and here too. Every mapping and sequence that comes out of
:func:`load_yaml` is a :class:`LineDict` / :class:`LineList` that knows the line of each key or
item, so errors can name the file and line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import FlowFileError, FlowProblem

__all__ = ["LineDict", "LineList", "line_of", "load_yaml"]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[Any, Any]):
    """A dict that knows the (1-based) line of itself and of each of its keys."""

    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class LineList(list[Any]):
    """A list that knows the (1-based) line of itself and of each item."""

    line: int | None = None
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines = []


def line_of(container: Any, key: Any = None) -> int | None:
    """Line of ``container[key]`` (or of the container itself when ``key`` is None)."""
    if key is None:
        return getattr(container, "line", None)
    if isinstance(container, LineDict):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int):
        if 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return None


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from exc
            if key in result:
                raise _DuplicateKey(
                    None,
                    None,
                    f"duplicate key '{key}' (first at line {result.key_lines[key]}); "
                    "remove one of them",
                    key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    return loader.construct_mapping(node)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    return loader.construct_sequence(node)


def _core_schema_resolvers() -> dict[Any, Any]:
    """YAML 1.2-like scalars, as Jackson reads them in Kestra: only true/false are booleans
    (``on``, ``yes``, ``no`` stay strings), and dates stay strings."""
    resolvers: dict[Any, Any] = {}
    for first, entries in _BaseLoader.yaml_implicit_resolvers.items():
        kept = [
            (tag, regexp)
            for tag, regexp in entries
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
        ]
        if first in "tTfF":
            kept.insert(0, ("tag:yaml.org,2002:bool", _BOOL))
        if kept:
            resolvers[first] = kept
    return resolvers


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_LineLoader.yaml_implicit_resolvers = _core_schema_resolvers()
_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str, path: str = "<string>") -> Any:
    """Parse one YAML document; raise :class:`FlowFileError` with file and line on any error."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        message = problem if isinstance(exc, _DuplicateKey) else f"invalid YAML: {problem}"
        raise FlowFileError([FlowProblem(path, line, message)]) from exc
    except yaml.YAMLError as exc:
        raise FlowFileError([FlowProblem(path, None, f"invalid YAML: {exc}")]) from exc
