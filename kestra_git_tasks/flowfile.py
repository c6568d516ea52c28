"""A flow file's identity: which files are flows, the ``(namespace, id)`` a source declares, and
setting or rewriting its namespace.

The contract:

* **The parsed document decides.** :func:`flow_identity` / :func:`read_identity` parse the YAML
  (the loader Kestra's rules use: duplicate keys refused, ``on``/``no`` stay strings). A text
  read (:func:`top_level_identity`) is only a shortcut to *rewrite* a plain ``namespace:`` line;
  every rewritten source is parsed before it is used, and the parse wins.
* :func:`prepare_flow` sets a flow's namespace to a target whatever YAML form the file uses
  (plain line, value on the next line, quoted or explicit key, flow style, tags). A source whose
  parsed namespace still is not the target afterwards (merge keys, aliases) is reported as a
  problem, so a flow from Git can never be stored outside the namespace a sync writes to.
* :func:`rewrite_namespaces` is the push side: ``dev`` -> ``prod`` rewrites ``dev`` and
  ``dev.*`` values of ``namespace:`` keys (a Subflow's too), never ``devops``.

Parsed identities are remembered per source (bounded), so a sync that prepares, validates and
saves the same source parses it once.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import yaml

from .errors import FlowFileError, FlowValidationError
from .yamlio import load_yaml

__all__ = [
    "FLOW_SUFFIXES",
    "PreparedFlow",
    "child_namespace",
    "flow_identity",
    "is_flow_file",
    "namespace_line_set",
    "prepare_flow",
    "read_identity",
    "remember_identity",
    "remember_known_identity",
    "rewrite_namespaces",
    "top_level_identity",
]

#: Files that are flows (in Git, in a deployed folder, in a Kestra export).
FLOW_SUFFIXES = (".yml", ".yaml")


def is_flow_file(name: str) -> bool:
    """True when a file of this name (or path) is a flow file: ``.yml`` or ``.yaml``."""
    return name.endswith(FLOW_SUFFIXES)


def child_namespace(namespace: str, folder: str) -> str:
    """The namespace of a sub-folder: ``("prod", "a/b")`` -> ``prod.a.b``; ``""`` -> ``prod``."""
    return namespace + ("." + folder.replace("/", ".") if folder else "")


# -- the text shortcut ---------------------------------------------------------------------------
_SIMPLE_VALUE = re.compile(r"[ \t]+([A-Za-z0-9][A-Za-z0-9._-]*)([ \t]+#.*)?[ \t]*")
_NOT_A_STRING = re.compile(r"(?:true|false|null|~|[-+]?[0-9][0-9_.eExXoObB+-]*)", re.IGNORECASE)


def top_level_identity(source: str) -> tuple[str, str, int, int] | None:
    """``(namespace, id, start, end)`` as the text reads, without parsing; ``start:end`` spans
    the ``namespace:`` line (without its line break).

    Only a shortcut: ``id:`` and ``namespace:`` each start exactly one line at column 0 and hold
    a plain identifier (not a number, boolean or null, not quoted, no anchors or tags), else
    None. A line inside a multi-line scalar reads the same, so the answer may be wrong: parse
    (:func:`flow_identity`) before trusting it.
    """
    namespace = _top_value(source, "namespace:")
    flow_id = _top_value(source, "id:") if namespace is not None else None
    if namespace is None or flow_id is None:
        return None
    return namespace[0], flow_id[0], namespace[1], namespace[2]


def _top_value(source: str, head: str) -> tuple[str, int, int] | None:
    """The plain identifier of the one line that starts with ``head`` (``id:``...), and where
    the line starts and ends (before ``\r\n`` or ``\n``); None when no line or more than one
    starts with it, or its value is not a plain identifier. String searches, no regex scan:
    each flow is read this way on every sync."""
    found = [0] if source.startswith(head) else []
    at = source.find("\n" + head)
    while at >= 0 and len(found) < 2:
        found.append(at + 1)
        at = source.find("\n" + head, at + 1)
    if len(found) != 1:
        return None
    start = found[0]
    end = source.find("\n", start)
    if end < 0:
        end = len(source)
    if source[end - 1] == "\r" and end - 1 >= start + len(head):
        end -= 1  # one \r before the line break (or the end) is not part of the value
    value = _SIMPLE_VALUE.fullmatch(source, start + len(head), end)
    if value is None or _NOT_A_STRING.fullmatch(value.group(1)):
        return None
    return value.group(1), start, end


# -- the parsed identity -------------------------------------------------------------------------
_Parsed = tuple[tuple[str, str] | None, str | None]
_CACHE_CHARS = 32_000_000
_cache: dict[str, _Parsed] = {}
_cache_chars = 0
_cache_lock = threading.Lock()


def _parse_identity(source: str) -> _Parsed:
    try:
        document = load_yaml(source, "", lines=False)
    except FlowFileError as exc:
        first = exc.problems[0]
        where = f" at line {first.line}" if first.line is not None else ""
        message = first.message.removeprefix("invalid YAML: ")
        return None, f"flow source is not valid YAML{where}: {message}"
    return _identity_of(document)


def _identity_of(document: object) -> _Parsed:
    if not isinstance(document, dict):
        return None, "flow source must be a YAML mapping with top-level 'id' and 'namespace'"
    for key in ("id", "namespace"):
        value = document.get(key)
        if not isinstance(value, str) or not value:
            got = "missing" if value is None else f"{value!r}"
            problem = f"flow '{key}' must be a non-empty string (got {got})"
            return None, problem
    return (document["namespace"], document["id"]), None


def _parsed(source: str) -> _Parsed:
    cached = _cache.get(source)
    if cached is not None:
        return cached
    result = _parse_identity(source)
    _remember(source, result)
    return result


def remember_identity(source: str, document: object) -> None:
    """Remember the identity of ``source`` from its parsed ``document`` (what
    :func:`~.yamlio.load_yaml` made of it), so that reading it later parses nothing: validation
    parses each flow once and shares it with this module."""
    if source not in _cache:
        _remember(source, _identity_of(document))


def remember_known_identity(source: str, identity: tuple[str, str]) -> None:
    """Remember ``identity`` for ``source`` without parsing it: only for a source known to
    parse to it (:mod:`.validated` keeps such sources only)."""
    if source not in _cache:
        _remember(source, (identity, None))


def _remember(source: str, result: _Parsed) -> None:
    global _cache_chars
    with _cache_lock:
        if _cache_chars + len(source) > _CACHE_CHARS:
            _cache.clear()
            _cache_chars = 0
        _cache[source] = result
        _cache_chars += len(source)


def flow_identity(source: str) -> tuple[str, str] | None:
    """``(namespace, id)`` of a flow source as its parsed YAML says, or None when they cannot be
    read (not YAML, not a mapping, or no string ``id`` / ``namespace``)."""
    return _parsed(source)[0]


def read_identity(source: str) -> tuple[str, str]:
    """``(namespace, id)`` of a flow source as its parsed YAML says; raises
    :class:`~kestra_git_tasks.errors.FlowValidationError` naming the problem."""
    identity, problem = _parsed(source)
    if identity is None:
        message = problem or "flow source has no readable 'id' and 'namespace'"
        raise FlowValidationError(message, constraints=[message])
    return identity


# -- setting the namespace (Git -> instance) -----------------------------------------------------
@dataclass(frozen=True)
class PreparedFlow:
    """A flow source made ready to save into one namespace.

    ``identity`` is the parsed ``(namespace, id)`` of ``source``. ``problem`` says why the
    namespace could not be set (the flow is then invalid); identity None without a problem
    means the source does not parse or declares no id/namespace, which validation reports.
    """

    source: str
    identity: tuple[str, str] | None
    problem: str | None = None


def prepare_flow(source: str, namespace: str, *, shortcut: str | None = None) -> PreparedFlow:
    """``source`` with its top-level namespace set to ``namespace``; see the module docstring.

    A plain ``namespace: x`` line is rewritten as text (its comment kept); any other form has
    its value replaced where the parsed document places it. Either way the result is parsed,
    and only a result whose parsed namespace is ``namespace`` is returned without a problem.
    ``shortcut``: what :func:`namespace_line_set` returned for these arguments, if the caller
    has it already.
    """
    candidate = shortcut if shortcut is not None else namespace_line_set(source, namespace)
    if candidate is not None:
        identity = flow_identity(candidate)
        if identity is not None and identity[0] == namespace:
            return PreparedFlow(candidate, identity)
    declared = flow_identity(source)
    if declared is None:
        return PreparedFlow(source, None)
    rewritten = _set_value(source, namespace)
    if rewritten is not None:
        identity = flow_identity(rewritten)
        if identity is not None and identity[0] == namespace:
            return PreparedFlow(rewritten, identity)
    return PreparedFlow(
        source,
        declared,
        f"its namespace '{declared[0]}' cannot be set to '{namespace}' (the namespace is not "
        "a plain top-level key of the flow, e.g. it comes from a merge key or an alias); "
        f"write it as one top-level line `namespace: {namespace}`",
    )


def namespace_line_set(source: str, namespace: str) -> str | None:
    """The text shortcut of :func:`prepare_flow`, without parsing: ``source`` with its plain
    top-level ``namespace:`` line (:func:`top_level_identity`) set to ``namespace``, its comment
    kept; None when there is no such line. Parse the result before trusting it."""
    quick = top_level_identity(source)
    if quick is None:
        return None
    _, _, start, end = quick
    comment = re.search(r"\s+#.*$", source[start:end])
    line = f"namespace: {namespace}{comment.group(0) if comment else ''}"
    return source[:start] + line + source[end:]


def _set_value(source: str, namespace: str) -> str | None:
    """``source`` with the text of its top-level ``namespace`` value replaced, or None when
    there is no such single key whose value is written right after it."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    pairs = [
        (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value == "namespace"
    ]
    if len(pairs) != 1:
        return None
    key, value = pairs[0]
    start, end = value.start_mark.index, value.end_mark.index
    if not isinstance(value, yaml.ScalarNode) or start < key.end_mark.index:
        return None  # a collection, or an alias of a value defined elsewhere
    return source[:start] + namespace + source[end:]


# -- rewriting namespaces (instance -> Git) ------------------------------------------------------
def rewrite_namespaces(source: str, old: str, new: str) -> str:
    """Rewrite ``namespace:`` values that are ``old`` or a child of it (``old.x``) to ``new``.

    Indented keys (a Subflow task's ``namespace``) are rewritten too, as Kestra does, but the
    match is exact on dot boundaries: ``dev`` -> ``prod`` never turns ``devops`` into
    ``prodops``.
    """
    if old == new:
        return source
    pattern = re.compile(
        r"^(?P<key>[ \t]*namespace:[ \t]*)(?P<quote>[\"']?)"
        + re.escape(old)
        + r"(?P<child>(?:\.[a-z0-9._-]*)?)(?P=quote)(?P<rest>[ \t]*(?:#[^\r\n]*)?)(?=\r?$)",
        re.MULTILINE,
    )
    return pattern.sub(
        lambda m: f"{m['key']}{m['quote']}{new}{m['child']}{m['quote']}{m['rest']}", source
    )
