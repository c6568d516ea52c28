"""``pluginDefaults`` applied as Kestra 1.x applies them, before a flow is checked.

Rules (Kestra's ``PluginDefaultService`` and ``MapUtils.merge``):

* Each entry is ``{type, values, forced (false)}``; ``taskDefaults`` is the deprecated name of
  the same list. An entry applies to every mapping of the flow with a ``type`` (tasks at any
  depth, triggers, task runners...) whose type equals the entry's or starts with it: a
  ``type: io.kestra.plugin.git`` entry applies to every Git task. An entry naming an older alias
  of a type applies to the current name too.
* Not forced: the mapping's own values win. Forced: the entry's values win.
* Merging is deep: maps merge key by key, lists are concatenated (the default's items first),
  a null never replaces a value.
* When several entries match, the one written first wins (Kestra's order between different
  ``type`` keys is a hash map's; ours is the file's).
* Checked like Kestra: ``type`` and ``values`` required, no null value, and, for a type this
  library implements, each key must be one of its properties.

Kestra 2.0 removed ``pluginDefaults`` from flows (defaults move to namespaces and the server
configuration); a 1.x flow keeps working here, as on Kestra 1.x.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .tasks.registry import task_class
from .yamlio import LineDict, LineList, line_of

__all__ = ["apply_plugin_defaults"]

_ENTRY_KEYS = frozenset({"type", "values", "forced"})

Problem = Callable[[int | None, str], None]


class _Default:
    def __init__(self, type_name: str, values: LineDict, forced: bool) -> None:
        self.type_name, self.values, self.forced = type_name, values, forced

    def matches(self, type_name: str) -> bool:
        return type_name == self.type_name or type_name.startswith(self.type_name)


def apply_plugin_defaults(document: LineDict, problem: Problem) -> LineDict:
    """``document`` with its ``pluginDefaults`` (or ``taskDefaults``) merged into every
    matching mapping; each problem of an entry goes to ``problem(line, message)``."""
    defaults = [
        *_entries(document, "pluginDefaults", problem),
        *_entries(document, "taskDefaults", problem),
    ]
    if not defaults:
        return document
    result = LineDict()
    result.line, result.key_lines = document.line, dict(document.key_lines)
    for key, value in document.items():
        skip = key in ("pluginDefaults", "taskDefaults")
        result[key] = value if skip else _apply(value, defaults)
    return result


def _entries(document: LineDict, key: str, problem: Problem) -> list[_Default]:
    raw = document.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problem(line_of(document, key), f"'{key}' must be a list of {{type, values, forced}}")
        return []
    entries: list[_Default] = []
    for index, item in enumerate(raw):
        entry = _entry(item, f"{key}[{index}]", line_of(raw, index), problem)
        if entry is not None:
            entries.append(entry)
            cls = task_class(entry.type_name)
            if cls is not None and cls.type != entry.type_name:  # an alias: the name too
                entries.append(_Default(cls.type, entry.values, entry.forced))
    return entries


def _entry(item: Any, where: str, line: int | None, problem: Problem) -> _Default | None:
    if not isinstance(item, dict):
        problem(line, f"{where} must be a mapping with 'type' and 'values'")
        return None
    violations: list[str] = []
    for key in item:
        if key not in _ENTRY_KEYS:
            violations.append(f"unknown key '{key}' (use type, values, forced)")
    type_name, values = item.get("type"), item.get("values")
    if not isinstance(type_name, str) or not type_name:
        violations.append("No 'type' provided")
    if not isinstance(values, dict):
        violations.append("No 'values' provided")
    else:
        violations += [f"No value provided for key '{k}'" for k, v in values.items() if v is None]
        if isinstance(type_name, str):
            violations += _unknown_properties(type_name, values)
    forced = item.get("forced", False)
    if not isinstance(forced, bool):
        violations.append("'forced' must be true or false")
    if violations:
        problem(line, f"{where}: Invalid Plugin Default: " + ", ".join(violations))
        return None
    assert isinstance(type_name, str) and isinstance(values, LineDict)
    return _Default(type_name, values, forced)


def _unknown_properties(type_name: str, values: dict[str, Any]) -> list[str]:
    """Kestra checks the keys only when the type names one plugin exactly (not a prefix)."""
    cls = task_class(type_name)
    if cls is None:
        return []
    names = {field.alias or name for name, field in cls.model_fields.items()}
    names |= set(cls.model_fields)
    found = []
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), sorted(names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            found.append(f"No property '{key}' exists in plugin '{type_name}'{hint}")
    return found


def _apply(node: Any, defaults: list[_Default]) -> Any:
    if isinstance(node, LineList):
        copy = LineList(_apply(item, defaults) for item in node)
        copy.line, copy.item_lines = node.line, list(node.item_lines)
        return copy
    if not isinstance(node, dict):
        return node
    result = _copy(node, {key: _apply(value, defaults) for key, value in node.items()})
    type_name = result.get("type")
    if not isinstance(type_name, str):
        return result
    matching = [entry for entry in defaults if entry.matches(type_name)]
    for entry in [e for e in matching if not e.forced]:
        result = _merge(entry.values, result)
    for entry in reversed([e for e in matching if e.forced]):
        result = _merge(result, entry.values)
    result.line = getattr(node, "line", None)  # the mapping's own lines win for its keys
    result.key_lines.update(getattr(node, "key_lines", {}))
    return result


def _merge(base: Any, over: Any) -> Any:
    """Kestra's ``MapUtils.merge(base, over)``: ``over`` wins; maps merge, lists concatenate."""
    result = _copy(base, dict(base))
    for key, value in over.items():
        original = result.get(key)
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(original, dict):
            result[key] = _merge(original, value)
        elif isinstance(value, list) and isinstance(original, list):
            merged = LineList([*original, *value])
            merged.line = getattr(original, "line", None)
            merged.item_lines = [*getattr(original, "item_lines", []), *_lines(value)]
            result[key] = merged
        else:
            result[key] = value
        if isinstance(over, LineDict) and key in over.key_lines:
            result.key_lines.setdefault(key, over.key_lines[key])
    return result


def _lines(value: Any) -> list[int]:
    return list(getattr(value, "item_lines", []))


def _copy(template: Any, items: dict[Any, Any]) -> LineDict:
    copy = LineDict(items)
    copy.line = getattr(template, "line", None)
    copy.key_lines = dict(getattr(template, "key_lines", {}))
    return copy
