"""A YAML document as plain dicts, lists and scalars, built the cheap way: the fast path of
:func:`~.yamlio.load_yaml` (``lines=False``), which validation takes for every flow.

The contract: :func:`from_events` returns exactly what the line-tracking
loader of :mod:`.yamlio` builds (the same resolved tags, PyYAML's own scalar constructors, the
same order of keys), without lines; or it raises :class:`Unusual`, and the caller builds the
usual way, which refuses or builds exactly as the line-tracking path does. ``tests/
test_yaml_fast_path_equivalence.py`` generates flows and tricky scalars to hold them to it.

:func:`from_events` reads libyaml's events in one loop: no node graph, no resolver call per
  value (a plain scalar's tag is looked up by its text, :func:`scalar_tag`). Anchors, aliases,
  tags other than ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``/``!!map``/``!!seq``,
  keys that are not strings (merge keys ``<<`` and ``=`` included), duplicate keys, more than
  ``max_nodes`` values or lists and maps deeper than ``max_depth``, a second document and any
  YAML error are :class:`Unusual` (a YAML error is raised again, with its line, by the usual
  path).

Plain-scalar resolution is YAML 1.2-like, as Jackson reads flows in Kestra: only
true/false are booleans (``on``, ``yes``, ``no`` stay strings) and dates stay strings
(:func:`core_schema_resolvers`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

__all__ = [
    "MAP_TAG",
    "SEQ_TAG",
    "STR_TAG",
    "Unusual",
    "core_schema_resolvers",
    "from_events",
    "scalar_tag",
    "scalar_value",
]

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: libyaml's parser (None when PyYAML was built without it: then only :func:`from_node` runs)
_CParser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None)


class Unusual(Exception):
    """A document the plain construction leaves to PyYAML's (see the module doc)."""


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def core_schema_resolvers() -> dict[Any, Any]:
    """PyYAML's implicit resolvers by first character, without YAML 1.1 booleans and dates:
    only true/false are booleans (``on``, ``yes``, ``no`` stay strings), dates stay strings."""
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


_RESOLVERS = core_schema_resolvers()
_WILDCARD = _RESOLVERS.get(None, [])
#: the tag of each plain scalar seen (it depends on the text alone); bounded
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 50_000


def scalar_tag(value: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar: PyYAML's ``BaseResolver.resolve`` with
    :func:`core_schema_resolvers` and no path resolvers, remembered by text."""
    tag = _RESOLVED.get(value)
    if tag is not None:
        return tag
    tag = STR_TAG
    for candidate, regexp in _RESOLVERS.get(value[:1], []) + _WILDCARD:
        if regexp.match(value):
            tag = candidate
            break
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()
    if len(value) <= 64:
        _RESOLVED[value] = tag
    return tag


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}": getattr(yaml.constructor.SafeConstructor, f"construct_yaml_{name}")
    for name in ("int", "float", "bool", "null")
}
#: the value of each plain scalar that is not a string (an int, float, bool or None: immutable),
#: remembered by text; bounded like :data:`_RESOLVED`
_VALUES: dict[str, Any] = {}


def scalar_value(tag: str, value: str) -> Any:
    """A scalar of a tag other than ``!!str``, by PyYAML's constructor of that tag; raises
    :class:`Unusual` for another tag or a value the constructor refuses."""
    construct = _SCALAR_TAGS.get(tag)
    if construct is None:
        raise Unusual
    try:
        return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, value))
    except (ValueError, LookupError, TypeError, OverflowError) as exc:
        raise Unusual from exc


def _plain_value(value: str) -> Any:
    """A plain scalar's value when it is not a string, remembered (see :data:`_VALUES`)."""
    key = (value,)
    known = _VALUES.get(value, key)
    if known is not key:
        return known
    result = scalar_value(scalar_tag(value), value)
    if len(_VALUES) >= _RESOLVED_MAX:
        _VALUES.clear()
    if len(value) <= 64:
        _VALUES[value] = result
    return result


_NO_KEY = object()  # in a map: the next scalar is a key


def from_events(text: str, max_depth: int, max_nodes: int) -> Any:
    """``text`` built from libyaml's events (see the module doc); raises :class:`Unusual`."""
    if _CParser is None:
        raise Unusual
    try:
        get = _CParser(text).get_event
        get()  # the stream's start
        if type(get()) is StreamEndEvent:  # no document; else the document's start
            return None
        root = _build(get, max_depth, max_nodes)
        get()  # the document's end
        if type(get()) is not StreamEndEvent:  # a second document
            raise Unusual
    except yaml.YAMLError as exc:
        raise Unusual from exc
    return root


def _not_a_string(value: str, tag: str | None, key: bool) -> Any:
    """A scalar of another tag than ``!!str`` (``tag`` None: the tag its text resolves to)."""
    if key:  # a key that is not a string: `<<`, `=`, 1, true...
        raise Unusual
    return _plain_value(value) if tag is None else scalar_value(tag, value)


def _collection(event: Any, refused: bool) -> Any:
    """A new dict or list for a mapping's or sequence's start; ``refused``: too deep, or a key."""
    mapping = type(event) is MappingStartEvent
    if (
        refused
        or event.anchor is not None
        or event.tag not in (None, "!", MAP_TAG if mapping else SEQ_TAG)
    ):
        raise Unusual
    return {} if mapping else []


def _build(get: Any, max_depth: int, max_nodes: int) -> Any:
    """The root node of a document from its events (:func:`from_events`; ``get``: the parser's
    ``get_event``). ``parent`` is the list or map being filled (None before the root), ``key``
    the key waiting for its value in a map (:data:`_NO_KEY` when the next scalar is a key),
    ``stack`` the enclosing ``(parent, key)`` pairs.
    """
    resolved, str_tag, no_key = _RESOLVED, STR_TAG, _NO_KEY
    parent: Any = None
    key: Any = None
    root: Any = None
    stack: list[tuple[Any, Any]] = []
    nodes = 0
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None:
                raise Unusual
            value, tag = event.value, event.tag
            if tag is None or tag == "!":  # resolved as PyYAML's composer resolves it
                if event.implicit[0] and (resolved.get(value) or scalar_tag(value)) != str_tag:
                    value = _not_a_string(value, None, key is no_key)
            elif tag != str_tag:
                value = _not_a_string(value, tag, key is no_key)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            value = _collection(event, len(stack) >= max_depth or key is no_key)
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            parent, key = stack.pop()
            if parent is None:
                break
            continue
        else:  # an alias
            raise Unusual
        nodes += 1
        if nodes > max_nodes:
            raise Unusual
        holder = type(parent)
        if holder is dict:
            if key is no_key:
                if value in parent:  # a duplicate key
                    raise Unusual
                key = value
                continue
            parent[key] = value
            key = no_key
        elif holder is list:
            parent.append(value)
        else:
            root = value
        if kind is not ScalarEvent:
            stack.append((parent, key))
            parent, key = value, (no_key if kind is MappingStartEvent else None)
        elif parent is None:
            break
    return root
