"""Kestra's filters, functions and tests, with Kestra's argument names (``Extension.java`` and
Pebble's core extension).

Contract: :func:`install` registers them on a Jinja2 environment. Every function is pure or
reads only what it is given; none reaches outside the sandbox (no file or network access here:
``read()``, ``kv()`` and ``secret()`` come from the run context). A wrong input raises
:class:`~kestra_git_tasks.errors.TemplateError` naming the filter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import unicodedata
import uuid as uuid_module
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import jinja2
import yaml
from jinja2.sandbox import safe_range

from ..errors import TemplateError
from . import dates
from .datefilters import DATE_FILTERS, now

__all__ = ["KESTRA_FILTERS", "KESTRA_FUNCTIONS", "MAX_JQ_RESULTS", "install", "to_json"]

#: Most results one ``jq`` call may give (``range(1e9)`` stops here; one huge value built by a
#: single result, such as ``[range(1e9)]``, is not bounded, as in Kestra).
MAX_JQ_RESULTS = 100_000


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return dates.java_string(value) if value.utcoffset() else _iso_offset(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


def _iso_offset(value: datetime) -> str:
    return dates.java_string(value)


def to_json(value: Any) -> str:
    """Compact JSON, as Kestra's Jackson writes it."""
    if isinstance(value, jinja2.Undefined):
        value = None
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def from_json(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"fromJson: not valid JSON ({exc.msg})") from exc


def _yaml_function(text: Any) -> Any:
    try:
        return yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        raise TemplateError(f"yaml: not valid YAML ({exc})") from exc


def _yaml_filter(value: Any) -> str:
    if isinstance(value, datetime):
        return dates.java_string(value) + "\n"
    text = yaml.safe_dump(
        json.loads(to_json(value)), sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    if isinstance(value, (list, tuple)):  # Jackson indents sequences by one space
        text = "".join(" " + line for line in text.splitlines(keepends=True))
    return text


# -- JSON, jq ---------------------------------------------------------------------------------


def _jq(value: Any, expression: str) -> list[Any]:
    import jq  # type: ignore[import-not-found]  # compiled, no type hints; loaded on first use

    data = json.loads(to_json(value))
    # limit() stops jq itself: never leave a jq iterator half read (the binding can crash
    # when one is collected); the newline ends a trailing ``#`` comment.
    bounded = f"limit({MAX_JQ_RESULTS + 1}; {expression}\n)"
    try:
        jq.compile(str(expression))  # errors name the user's expression, not the wrapper
        found = list(jq.compile(bounded).input_value(data).all())
    except ValueError as exc:
        raise TemplateError(f"jq: {expression!r} failed ({exc})") from exc
    if len(found) > MAX_JQ_RESULTS:
        raise TemplateError(
            f"jq: {expression!r} gives more than {MAX_JQ_RESULTS:,} results; narrow the filter"
        )
    return found


# -- strings ----------------------------------------------------------------------------------


def _slugify(value: Any) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"[\s_-]+", "-", text).strip("-")


def _substring(before: bool, last: bool) -> Any:
    def apply(value: Any, separator: str) -> str | None:
        if value is None:
            return None
        text, sep = str(value), str(separator)
        where = text.rfind(sep) if last else text.find(sep)
        if where < 0:
            return text if before else ""
        return text[:where] if before else text[where + len(sep) :]

    return apply


def _escape_char(value: Any, type: str) -> str:
    text = "" if value is None else str(value)
    if type == "single":
        return text.replace("'", "\\'")
    if type == "double":
        return text.replace('"', '\\"')
    if type == "shell":
        return text.replace("'", "'\\''")
    raise TemplateError(f"escapeChar: unknown type '{type}'; use single, double or shell")


def _indent(value: Any, amount: int, prefix: str = " ", first: bool = False) -> str | None:
    if value is None:
        return None
    text = str(value)
    pad = str(prefix) * int(amount)
    parts = re.split(r"(\r\n|\r|\n)", text)
    out = [(pad if first and text else "") + parts[0]]
    for index in range(1, len(parts), 2):
        out.append(parts[index] + pad + parts[index + 1])
    result = "".join(out)
    if first and text:
        newline = re.search(r"\r\n|\r|\n", text)
        return (newline.group() if newline else "\n") + result
    return result


def _replace(value: Any, replacements: Any, regexp: bool = False) -> str:
    text = str(value)
    if not isinstance(replacements, Mapping):
        raise TemplateError("replace: takes a map, e.g. replace({'old': 'new'})")
    for old, new in replacements.items():
        if regexp:
            text = re.sub(str(old), re.sub(r"\$(\d)", r"\\\1", str(new)), text)
        else:
            text = text.replace(str(old), str(new))
    return text


class _Double(float):
    """A number the ``number('DOUBLE')`` filter made (``className``: ``java.lang.Double``)."""


class _BigInteger(int):
    """A number the ``number('BIGINTEGER')`` filter made."""


def _number(value: Any, type: str = "") -> Any:
    text = str(value)
    try:
        if type == "DOUBLE":
            return _Double(text)
        if type == "BIGDECIMAL":
            return Decimal(text)
        if type == "BIGINTEGER":
            return _BigInteger(text)
        if type in ("FLOAT",) or (not type and re.search(r"[.eE]", text)):
            return float(text)
        return int(text)
    except (ValueError, ArithmeticError) as exc:
        raise TemplateError(f"'number' filter: {text!r} is not a number") from exc


def _class_name(value: Any) -> str | None:
    """The Java class Kestra would hold the value as (``className`` filter)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        if not isinstance(value, _BigInteger) and -(2**31) <= value < 2**31:
            return "java.lang.Integer"
        if not isinstance(value, _BigInteger) and -(2**63) <= value < 2**63:
            return "java.lang.Long"
        return "java.math.BigInteger"
    names = [
        (_Double, "java.lang.Double"),
        (float, "java.lang.Float"),
        (Decimal, "java.math.BigDecimal"),
        (str, "java.lang.String"),
        (Mapping, "java.util.LinkedHashMap"),
        (list, "java.util.ArrayList"),
        (datetime, "java.time.ZonedDateTime"),
        (date, "java.time.LocalDate"),
    ]
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


def _abbreviate(value: Any, length: int) -> str:
    text = str(value)
    return text if len(text) <= length else text[: max(length - 3, 0)] + "..."


def _capitalize(value: Any) -> str:
    text = str(value)
    return text[:1].upper() + text[1:]


def _default(value: Any, fallback: Any) -> Any:
    if isinstance(value, jinja2.Undefined) or _is_empty(value):
        return fallback
    return value


# -- collections ------------------------------------------------------------------------------


def _first(value: Any) -> Any:
    if isinstance(value, str):
        return value[:1] or None
    items = list(value)
    return items[0] if items else None


def _last(value: Any) -> Any:
    if isinstance(value, str):
        return value[-1:] or None
    items = list(value)
    return items[-1] if items else None


def _keys(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, (list, tuple)):
        return list(range(len(value)))
    raise TemplateError(
        "'keys' filter can only be applied to List, Map, Array. Actual type was: "
        f"{type(value).__name__}"
    )


def _values(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    raise TemplateError(f"'values' filter can only be applied to Map, not {type(value).__name__}")


def _chunk(value: Any, size: int) -> list[list[Any]]:
    if not isinstance(value, (list, tuple)):
        raise TemplateError(
            f"'chunk' filter can only be applied to List, not {type(value).__name__}"
        )
    return [list(value[i : i + int(size)]) for i in range(0, len(value), int(size))]


def _flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in value:
        out.extend(item if isinstance(item, (list, tuple)) else [item])
    return out


def _distinct(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


def _join(value: Any, separator: str = "") -> str:
    from ..templating import to_template_string

    return str(separator).join(to_template_string(item) for item in value)


def _slice(value: Any, fromIndex: int = 0, toIndex: int | None = None) -> Any:
    return value[int(fromIndex) : None if toIndex is None else int(toIndex)]


def _split(value: Any, delimiter: str, limit: int | None = None) -> list[str]:
    parts = re.split(str(delimiter), str(value), maxsplit=0 if not limit else int(limit) - 1)
    if not limit:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def _number_format(value: Any, decimalFormat: str = "#,##0.###") -> str:
    decimals = decimalFormat.split(".")[1] if "." in decimalFormat else ""
    minimum = decimals.count("0")
    text = f"{float(value):{',' if ',' in decimalFormat else ''}.{len(decimals)}f}"
    if "." in text and len(decimals) > minimum:
        head, tail = text.split(".")
        tail = tail.rstrip("0").ljust(minimum, "0")
        text = head + ("." + tail if tail else "")
    return text


# -- tests ------------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    if value is None or isinstance(value, jinja2.Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict, set)):
        return not value
    return False


def _is_json(value: Any) -> bool:
    try:
        json.loads(str(value))
    except (json.JSONDecodeError, TypeError):
        return False
    return True


def _contains(container: Any, item: Any) -> bool:
    """Pebble's ``contains``: a list on the right means all of them."""
    if container is None:
        return False
    needles = list(item) if isinstance(item, (list, tuple)) else [item]
    if isinstance(container, str):
        return all(str(needle) in container for needle in needles)
    return all(needle in container for needle in needles)


def _range(start: int, end: int | None = None, step: int = 1) -> Any:
    """Pebble's ``range(start, end[, step])`` includes ``end``; ``range(n)`` stays Jinja2's."""
    if end is None:
        return safe_range(start)
    return safe_range(start, end + (1 if step > 0 else -1), step)


KESTRA_FILTERS: dict[str, Any] = {
    **DATE_FILTERS,
    "jq": _jq,
    "json": to_json,
    "toJson": to_json,
    "yaml": _yaml_filter,
    "toYaml": _yaml_filter,
    "indent": _indent,
    "nindent": lambda v, amount, prefix=" ": _indent(v, amount, prefix, first=True),
    "escapeChar": _escape_char,
    "urlencode": lambda v: quote_plus(str(v)),
    "urldecode": lambda v: unquote_plus(str(v)),
    "slugify": _slugify,
    "substringBefore": _substring(True, False),
    "substringBeforeLast": _substring(True, True),
    "substringAfter": _substring(False, False),
    "substringAfterLast": _substring(False, True),
    "startsWith": lambda v, prefix: str(v).startswith(str(prefix)),
    "endsWith": lambda v, suffix: str(v).endswith(str(suffix)),
    "chunk": _chunk,
    "keys": _keys,
    "values": _values,
    "flatten": _flatten,
    "distinct": _distinct,
    "number": _number,
    "className": _class_name,
    "md5": lambda v: hashlib.md5(str(v).encode()).hexdigest(),
    "sha1": lambda v: hashlib.sha1(str(v).encode()).hexdigest(),
    "sha256": lambda v: hashlib.sha256(str(v).encode()).hexdigest(),
    "sha512": lambda v: hashlib.sha512(str(v).encode()).hexdigest(),
    "base64encode": lambda v: base64.b64encode(str(v).encode()).decode(),
    "base64decode": lambda v: base64.b64decode(str(v)).decode(),
    "abbreviate": _abbreviate,
    "capitalize": _capitalize,
    "default": _default,
    "first": _first,
    "last": _last,
    "join": _join,
    "replace": _replace,
    "slice": _slice,
    "split": _split,
    "numberFormat": _number_format,
    "numberformat": _number_format,
    "rsort": lambda v: sorted(v, reverse=True),
    "reverse": lambda v: v[::-1] if isinstance(v, (str, list, tuple)) else list(reversed(list(v))),
    "merge": lambda v, other: {**v, **other} if isinstance(v, Mapping) else [*v, *other],
}

KESTRA_FUNCTIONS: dict[str, Any] = {
    "now": now,
    "fromJson": from_json,
    "json": from_json,
    "yaml": _yaml_function,
    "uuid": lambda: str(uuid_module.uuid4()),
    "id": lambda: uuid_module.uuid4().hex[:22],
    "randomInt": lambda lower, upper: random.randrange(int(lower), max(int(upper), int(lower) + 1)),
    "_kestra_contains": _contains,
    "range": _range,
    "max": lambda *values: max(values),
    "min": lambda *values: min(values),
}

_TESTS: dict[str, Any] = {
    "null": lambda v: v is None or isinstance(v, jinja2.Undefined),
    "kestra_nullish": lambda v: v is None or isinstance(v, jinja2.Undefined),
    "empty": _is_empty,
    "map": lambda v: isinstance(v, Mapping),
    "json": _is_json,
    "iterable": lambda v: isinstance(v, (list, tuple, set)),
}


def install(env: jinja2.Environment) -> None:
    """Register Kestra's filters, functions and tests on ``env``."""
    env.filters.update(KESTRA_FILTERS)
    env.globals.update(KESTRA_FUNCTIONS)
    env.tests.update(_TESTS)
