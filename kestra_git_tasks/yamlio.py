"""YAML loading that remembers where every value came from and refuses duplicate keys.

Kestra parses flows with Jackson's ``STRICT_DUPLICATE_DETECTION``; a YAML file that says
``branch:`` twice is an error there, and here too. Every mapping and sequence that comes out of
:func:`load_yaml` is a :class:`LineDict` / :class:`LineList` that knows the line of each key or
item, so errors can name the file and line. ``load_yaml(..., lines=False)`` is the fast path of
validation: the same document as plain dicts and lists, built from libyaml's events
(:mod:`.yamlplain`) or else from PyYAML's nodes, refused exactly when the line-tracking one is
(``tests/test_validation_fast_path.py``, ``tests/test_yaml_fast_path_equivalence.py``).

Hostile input is refused before anything is built from it, each limit named in the message:
text over :data:`MAX_FILE_BYTES`, collections nested deeper than :data:`MAX_NESTING` levels,
more than :data:`MAX_NODES` values once aliases are expanded (a "billion laughs" bomb), an
alias that refers to its own node, and a mapping key that is not a plain value. Construction is
iterative, so the nesting allowed never comes near Python's recursion limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from . import yamlplain
from .errors import FlowFileError, FlowProblem

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_NODES",
    "TOO_LARGE",
    "LineDict",
    "LineList",
    "line_of",
    "load_yaml",
    "read_flow_text",
]

#: Largest flow text read (10 MiB): a flow is a few kilobytes; a file larger than this is not one.
MAX_FILE_BYTES = 10 * 2**20
#: Deepest nesting of lists and maps (the flow's own mapping counts as one level). Kestra's
#: Jackson allows 1000; real flows stay under 20, and 100 keeps every recursive step that
#: follows (checks, rendering, masking) far from Python's recursion limit.
MAX_NESTING = 100
#: Most values (scalars, lists and maps) a flow may hold once every alias is expanded.
MAX_NODES = 1_000_000
TOO_LARGE = f"larger than {MAX_FILE_BYTES // 2**20} MiB; a flow file is a few kilobytes"

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


_NO_LINES = (dict, list, str, type(None))


def line_of(container: Any, key: Any = None) -> int | None:
    """Line of ``container[key]`` (or of the container itself when ``key`` is None)."""
    if type(container) in _NO_LINES:  # the fast path's plain documents
        return None
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


_STR_TAG, _MAP_TAG, _SEQ_TAG = yamlplain.STR_TAG, yamlplain.MAP_TAG, yamlplain.SEQ_TAG


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        """PyYAML's, without its per-value overhead: libyaml calls it for every value. With no
        path resolvers, a plain scalar's tag depends on its text alone (remembered), any other
        value's on its kind."""
        if self.yaml_path_resolvers:
            return str(super().resolve(kind, value, implicit))
        if kind is yaml.MappingNode:
            return _MAP_TAG
        if kind is yaml.SequenceNode:
            return _SEQ_TAG
        if not implicit[0]:
            return _STR_TAG
        return yamlplain.scalar_tag(value)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers here: nothing to track (PyYAML's is called for every value)."""

    def ascend_resolver(self) -> None:
        """See :meth:`descend_resolver`."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with what its constructors raise on odd values (``!!int`` with no digits,
        an integer of 5,000 digits, ``!!bool maybe``) turned into an error at the value's line."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, LookupError, TypeError, OverflowError) as exc:
            tag = str(node.tag).rpartition(":")[2]
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{str(value)[:40]!r} is not a valid !!{tag} value", node.start_mark
            ) from exc

    def fill_mapping(self, result: LineDict, node: yaml.MappingNode) -> None:
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)  # a scalar: see _check_shape
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
            # deep=False: a nested list or map is filled later, from a queue, not by recursion
            result[key] = self.construct_object(value_node, deep=False)
            result.key_lines[key] = key_node.start_mark.line + 1


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    result = LineDict()
    result.line = node.start_mark.line + 1
    yield result
    loader.fill_mapping(result, node)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    result = LineList()
    result.line = node.start_mark.line + 1
    yield result
    result.extend(loader.construct_object(child, deep=False) for child in node.value)
    result.item_lines = [child.start_mark.line + 1 for child in node.value]


def _check_shape(root: yaml.Node, path: str) -> None:
    """Refuse, before construction, what would exhaust memory or recursion (module doc).

    An iterative walk over the composed graph, where an alias is the very node it names, so
    walking it expands the aliases: the walk stops as soon as it has seen more than
    :data:`MAX_NODES` values, or a list or map deeper than :data:`MAX_NESTING` (which is also
    how an alias inside its own anchor ends), whatever the document would expand to.
    """
    seen = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            seen += 1
            continue
        if depth > MAX_NESTING:
            _refuse(
                path,
                node,
                f"lists and maps nested more than {MAX_NESTING} levels deep (or an alias "
                "inside its own anchor); flatten this value",
            )
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    _refuse(path, key_node, "a mapping key must be a plain value, not a list")
                stack.append((value_node, depth + 1))
            seen += 1 + len(node.value)
        else:
            stack.extend((child, depth + 1) for child in node.value)
            seen += 1
        if seen > MAX_NODES:
            _refuse(
                path,
                node,
                f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?); "
                "use fewer aliases",
            )


def _refuse(path: str, node: yaml.Node, message: str) -> None:
    raise FlowFileError([FlowProblem(path, node.start_mark.line + 1, message)])


_LineLoader.yaml_implicit_resolvers = yamlplain.core_schema_resolvers()
_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _plain(node: yaml.Node, depth: int, seen: list[int], ids: set[int]) -> Any:
    """``node`` as plain dicts, lists and scalars, exactly as :class:`_LineLoader` builds it
    (the same resolved tags, PyYAML's own scalar constructors) but without lines: the fast
    path's second try, for what :func:`.yamlplain.from_events` leaves (aliases of scalars).

    It also counts values and depth as :func:`_check_shape` does, which holds as long as no
    alias names a list or map. Raises :class:`~.yamlplain.Unusual` for anything else (such an
    alias, a limit reached, a merge key, ``=``, another tag, a duplicate key, a value PyYAML's
    constructor refuses): the caller then checks the shape and builds the usual way, which
    refuses or builds exactly as the line-tracking path.
    """
    tag = node.tag
    seen[0] += 1
    if type(node) is yaml.ScalarNode:
        if tag == _STR_TAG:
            return node.value
        return yamlplain.scalar_value(tag, node.value)
    if depth > MAX_NESTING or seen[0] > MAX_NODES or id(node) in ids:
        raise yamlplain.Unusual
    ids.add(id(node))  # an alias of a list or map is found again here
    depth += 1
    if tag == _MAP_TAG and type(node) is yaml.MappingNode:
        result: dict[Any, Any] = {}
        seen[0] += len(node.value)
        for key_node, value_node in node.value:
            if key_node.tag != _STR_TAG:  # merge keys, `=`, numbers or lists as keys
                raise yamlplain.Unusual
            key = key_node.value
            if key in result:
                raise yamlplain.Unusual
            result[key] = _plain(value_node, depth, seen, ids)
        return result
    if tag == _SEQ_TAG and type(node) is yaml.SequenceNode:
        return [_plain(child, depth, seen, ids) for child in node.value]
    raise yamlplain.Unusual


def load_yaml(text: str, path: str = "<string>", *, lines: bool = True) -> Any:
    """Parse one YAML document; raise :class:`FlowFileError` with file and line on any error,
    and on the hostile shapes the module doc lists.

    ``lines=False`` is the fast path: plain dicts and lists without lines, equal to what
    ``lines=True`` gives (tests compare both); the same checks refuse the same input with the
    same messages (what the plain construction does not handle is built the usual way).
    """
    if len(text) > MAX_FILE_BYTES:
        raise FlowFileError([FlowProblem(path, None, TOO_LARGE)])
    if not lines:
        try:
            return yamlplain.from_events(text, MAX_NESTING, MAX_NODES)
        except yamlplain.Unusual:
            pass  # built again below, the usual way
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if not lines:
            seen = [0]
            try:
                document = _plain(node, 1, seen, set())
                if seen[0] <= MAX_NODES:
                    return document
            except yamlplain.Unusual:
                pass
        _check_shape(node, path)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise FlowFileError([_marked_problem(exc, path)]) from exc
    except yaml.YAMLError as exc:
        raise FlowFileError([FlowProblem(path, None, f"invalid YAML: {exc}")]) from exc
    except RecursionError as exc:  # only without libyaml: PyYAML's own composer recurses
        message = f"lists and maps nested more than {MAX_NESTING} levels deep; flatten them"
        raise FlowFileError([FlowProblem(path, None, message)]) from exc
    finally:
        loader.dispose()


def _marked_problem(exc: yaml.MarkedYAMLError, path: str) -> FlowProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or exc.context or "invalid YAML"
    if isinstance(exc, _DuplicateKey):
        return FlowProblem(path, line, problem)
    if "maximum nesting depth" in problem:  # libyaml's own limit (1000 levels)
        return FlowProblem(
            path,
            line,
            f"lists and maps nested more than {MAX_NESTING} levels deep; flatten this value",
        )
    return FlowProblem(path, line, f"invalid YAML: {problem}")


def read_flow_text(path: str | Path) -> str:
    """The text of a flow file, refusing what is not one: anything but a regular file (a FIFO or
    a device would block or never end), more than :data:`MAX_FILE_BYTES`, bytes that are not
    UTF-8 (reported with their offset; nothing is replaced)."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise FlowFileError([FlowProblem(name, None, f"cannot read: {exc.strerror}")]) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            raise FlowFileError(
                [FlowProblem(name, None, f"not a regular file ({kind}); give a flow file")]
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FlowFileError([FlowProblem(name, None, f"cannot read: {exc.strerror}")]) from exc
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise FlowFileError([FlowProblem(name, None, TOO_LARGE)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}; "
            "save the file as UTF-8"
        )
        raise FlowFileError([FlowProblem(name, line, message)]) from exc
