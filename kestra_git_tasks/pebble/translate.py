"""Pebble (Kestra) template syntax to Jinja2 syntax, with a real tokenizer.

Contract:

* :func:`translate` scans the template once. Text, ``{# #}`` comments and the content of
  ``{% raw %}``/``{% verbatim %}`` blocks are copied as they are; only the inside of ``{{ }}``,
  ``<< >>`` and ``{% %}`` tags is tokenized (string literals are single tokens, never looked
  into).
* Inside a tag, only Pebble-only syntax is rewritten: ``a ?? b`` and ``a ??? b`` (precedence
  120, tighter than any other operator and than ``|``, as in Kestra's ``Extension.java``),
  ``a..b`` (Pebble's inclusive range), ``c ? a : b``, ``x contains y``, ``x isIn list``,
  ``equals``, the ``null`` literal, Pebble's 0-based ``loop.index`` and ``loop.revindex``,
  ``{% elseif %}`` and ``{% verbatim %}``. A tag without any of these is copied character for
  character, so valid Jinja2 is left unchanged.
* ``<< expr >>`` becomes ``{{ expr }}`` only when ``expr`` is a valid expression (``is_valid``);
  otherwise (a shell heredoc ``cat <<EOF``) the text stays literal.
* Helpers the output calls (``_kestra_contains``) and tests it uses (``kestra_nullish``) are
  registered by :mod:`kestra_git_tasks.pebble.library`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["translate"]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>\?\?\?|\?\?|\.\.|==|!=|<=|>=|//|\*\*|[-+]?%\}|[-+]?\}\}|>>|.)""",
    re.VERBOSE | re.DOTALL,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}
_KEYWORDS = {"and", "or", "not", "in", "is", "if", "else", "contains", "isIn"}
_RAW_END = {
    "raw": re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}"),
    "verbatim": re.compile(r"\{%[-+]?\s*endverbatim\s*[-+]?%\}"),
}
_BINARY = ("??", "???", "..")
_PEBBLE_NAMES = {"contains", "isIn", "equals", "null", "elseif", "verbatim", "endverbatim"}

Token = tuple[str, str]  # (kind, text); kind "group" is an already translated unit


def translate(template: str, is_valid: Callable[[str], bool] = lambda _s: True) -> str:
    """``template`` with Pebble-only syntax rewritten to Jinja2 (see the module doc)."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        j = _next_marker(template, i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        marker = template[j : j + 2]
        if marker == "{#":
            end = template.find("#}", j + 2)
            stop = n if end < 0 else end + 2
            out.append(template[j:stop])
            i = stop
        elif marker == "<<":
            i = _angle(template, j, out, is_valid)
        else:
            i = _tag(template, j, out)
    return "".join(out)


def _next_marker(text: str, start: int) -> int:
    found = [p for p in (text.find(m, start) for m in ("{{", "{%", "{#", "<<")) if p >= 0]
    return min(found) if found else -1


def _scan(text: str, start: int, closer: str) -> tuple[list[Token], int] | None:
    """Tokens from ``start`` up to ``closer`` at bracket depth 0; None when never closed."""
    tokens: list[Token] = []
    depth = 0
    pos = start
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match is not None  # the last alternative matches any character
        kind = match.lastgroup or "op"
        value = match.group()
        if kind == "op" and depth == 0 and value.lstrip("+-") == closer:
            tokens.append(("end", value))
            return tokens, match.end()
        if kind == "op" and value.endswith(("}}", "%}")) and len(value) > 1 and depth > 0:
            # ``}}`` closing two dict literals: split so depth counting stays right
            for char in value:
                tokens.append(("op", char))
                depth -= char in _CLOSE
            pos = match.end()
            continue
        if value in _OPEN:
            depth += 1
        elif value in _CLOSE:
            depth -= 1
        tokens.append((kind, value))
        pos = match.end()
    return None


def _tag(text: str, start: int, out: list[str]) -> int:
    closer = "}}" if text[start + 1] == "{" else "%}"
    scanned = _scan(text, start + 2, closer)
    if scanned is None:  # unterminated: let Jinja2 report the syntax error
        out.append(text[start:])
        return len(text)
    tokens, stop = scanned
    body, end = tokens[:-1], tokens[-1][1]
    if closer == "}}":
        out.append("{{" + _expression(body) + end)
        return stop
    return _statement(text, start, stop, body, end, out)


def _statement(
    text: str, start: int, stop: int, body: list[Token], end: str, out: list[str]
) -> int:
    lead = ""
    if body and body[0][1] in "-+" and body[0][0] == "op":
        lead, body = body[0][1], body[1:]
    words = [k for k in range(len(body)) if body[k][0] == "name"]
    name = body[words[0]][1] if words else ""
    if name in _RAW_END:
        found = _RAW_END[name].search(text, stop)
        if found is None:
            out.append(text[start:])
            return len(text)
        if name == "raw":
            out.append(text[start : found.end()])
        else:
            closing = found.group().replace("endverbatim", "endraw")
            out.append("{%" + lead + " raw " + end + text[stop : found.start()] + closing)
        return found.end()
    if name == "elseif":
        body = [*body[: words[0]], ("name", "elif"), *body[words[0] + 1 :]]
    split = _expression_start(body, name)
    head = "".join(t for _, t in body[:split])
    out.append("{%" + lead + head + _expression(body[split:]) + end)
    return stop


def _expression_start(body: list[Token], name: str) -> int:
    """Where the expression of a statement starts (after ``if``, ``=``, ``in``...)."""
    marker = {"if": "if", "elif": "elif", "elseif": "elif", "set": "=", "for": "in"}.get(name)
    if marker is None:
        return 0 if name not in ("macro", "call", "import", "from", "block") else len(body)
    for index, (_kind, value) in enumerate(body):
        if value == marker or (name == "elseif" and value == "elif"):
            return index + 1
    return len(body)


def _angle(text: str, start: int, out: list[str], is_valid: Callable[[str], bool]) -> int:
    scanned = _scan(text, start + 2, ">>")
    if scanned is not None:
        tokens, stop = scanned
        inner = _expression(tokens[:-1])
        if inner.strip() and is_valid("{{" + inner + "}}"):
            out.append("{{" + inner + "}}")
            return stop
    out.append("<<")
    return start + 2


# -- expressions --------------------------------------------------------------------------------


def _expression(tokens: list[Token]) -> str:
    if not _has_pebble(tokens):
        return "".join(t for _, t in tokens)
    return _render(_rewrite(_words(tokens)))


def _has_pebble(tokens: list[Token]) -> bool:
    for index, (kind, value) in enumerate(tokens):
        if value in ("?", "??", "???", "..") and kind == "op":
            return True
        if kind == "name" and value in _PEBBLE_NAMES:
            return True
        if (
            kind == "name"
            and value == "loop"
            and _attribute_after(tokens, index)
            in (
                "index",
                "revindex",
            )
        ):
            return True
    return False


def _attribute_after(tokens: list[Token], index: int) -> str | None:
    rest = [t for t in tokens[index + 1 : index + 3] if t[0] != "ws"]
    if len(rest) == 2 and rest[0][1] == "." and rest[1][0] == "name":
        return rest[1][1]
    return None


def _words(tokens: list[Token]) -> list[Token]:
    """Word-level rewrites: ``null``, ``equals``, ``loop.index`` and ``loop.revindex``."""
    result: list[Token] = []
    for kind, value in tokens:
        previous = [t for t in result if t[0] != "ws"][-2:]
        after_dot = bool(previous) and previous[-1][1] == "."
        after_is = any(t[1] == "is" for t in previous)
        if kind == "name" and value == "null" and not after_dot and not after_is:
            value = "none"
        elif kind == "name" and value == "equals" and not after_dot:
            kind, value = "op", "=="
        elif (
            kind == "name"
            and value in ("index", "revindex")
            and after_dot
            and len(previous) == 2
            and previous[0] == ("name", "loop")
        ):
            value += "0"
        result.append((kind, value))
    return result


def _render(tokens: list[Token]) -> str:
    return "".join(t for _, t in tokens)


def _significant(tokens: list[Token]) -> list[int]:
    return [k for k, t in enumerate(tokens) if t[0] != "ws"]


def _top_level(tokens: list[Token]) -> list[int]:
    """Indexes of the tokens at bracket depth 0."""
    result, depth = [], 0
    for index, (kind, value) in enumerate(tokens):
        if kind == "op" and value in _CLOSE:
            depth -= 1
        if depth == 0 and kind != "ws":
            result.append(index)
        if kind == "op" and value in _OPEN:
            depth += 1
    return result


def _rewrite(tokens: list[Token]) -> list[Token]:
    tokens = _inner_groups(tokens)
    top = _top_level(tokens)
    ternary = next((k for k in top if tokens[k] == ("op", "?")), None)
    colon = next((k for k in top if tokens[k] == ("op", ":")), None)
    if colon is not None and (ternary is None or colon < ternary):  # a map entry or a slice
        return [*tokens[: colon + 1], *_rewrite(tokens[colon + 1 :])]
    if ternary is not None:
        colon = _matching_colon(tokens, top, ternary)
        if colon is not None:
            cond = _render(_rewrite(tokens[:ternary]))
            yes = _render(_rewrite(tokens[ternary + 1 : colon]))
            no = _render(_rewrite(tokens[colon + 1 :]))
            if cond.strip() and yes.strip() and no.strip():  # else Jinja2 reports the error
                return [("group", f"(({yes}) if ({cond}) else ({no}))")]
            return tokens
    pieces: list[Token] = []
    segment: list[Token] = []
    depth = 0
    for kind, value in tokens:
        if kind == "op" and value in _CLOSE:
            depth -= 1
        if depth == 0 and kind == "name" and value in ("and", "or", "not", "if", "else"):
            pieces += [*_segment(segment), (kind, value)]
            segment = []
        else:
            segment.append((kind, value))
        if kind == "op" and value in _OPEN:
            depth += 1
    return pieces + _segment(segment)


def _inner_groups(tokens: list[Token]) -> list[Token]:
    """Rewrite the inside of every bracket group first (calls, subscripts, literals)."""
    result: list[Token] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "op" and value in _OPEN:
            close = _matching(tokens, index)
            if close is None:
                return tokens
            inside = _split_commas(tokens[index + 1 : close])
            text = ",".join(_render(_rewrite(part)) for part in inside)
            result.append(("group", value + text + tokens[close][1]))
            index = close + 1
            continue
        result.append((kind, value))
        index += 1
    return result


def _split_commas(tokens: list[Token]) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for kind, value in tokens:
        if kind == "op" and value in _CLOSE:
            depth -= 1
        if depth == 0 and (kind, value) == ("op", ","):
            parts.append([])
            continue
        parts[-1].append((kind, value))
        if kind == "op" and value in _OPEN:
            depth += 1
    return parts


def _matching(tokens: list[Token], index: int) -> int | None:
    depth = 0
    for position in range(index, len(tokens)):
        kind, value = tokens[position]
        if kind == "op" and value in _OPEN:
            depth += 1
        elif kind == "op" and value in _CLOSE:
            depth -= 1
            if depth == 0:
                return position
    return None


def _matching_colon(tokens: list[Token], top: list[int], question: int) -> int | None:
    nested = 0
    for index in top:
        if index <= question:
            continue
        if tokens[index] == ("op", "?"):
            nested += 1
        elif tokens[index] == ("op", ":"):
            if nested == 0:
                return index
            nested -= 1
    return None


def _segment(tokens: list[Token]) -> list[Token]:
    """One operand of ``and``/``or``/``not``: ``contains`` (precedence 20), then ``??``."""
    significant = _significant(tokens)
    where = next((k for k in significant if tokens[k][1] in ("contains", "isIn")), None)
    if where is not None and tokens[where][0] == "name":
        left = _render(_coalesce(tokens[:where])).strip()
        right = _render(_segment(tokens[where + 1 :])).strip()
        if not left or not right:
            return tokens  # Jinja2 reports the syntax error
        if tokens[where][1] == "isIn":  # the value on the left, the list on the right
            left, right = right, left
        return [("ws", " "), ("group", f"_kestra_contains({left}, {right})"), ("ws", " ")]
    return _coalesce(tokens)


def _coalesce(tokens: list[Token]) -> list[Token]:
    """Rewrite ``a ?? b`` and ``a ??? b`` on postfix units, the rightmost first: each left
    unit is then written twice at most, so a long chain grows linearly, never exponentially."""
    while True:
        significant = _significant(tokens)
        where = next((k for k in reversed(significant) if tokens[k][1] in _BINARY), None)
        if where is None:
            return tokens
        first = _unit_start(tokens, where)
        last = _unit_end(tokens, where)
        left = _render(tokens[first:where]).strip()
        right = _render(tokens[where + 1 : last]).strip()
        if not left or not right:
            return tokens  # Jinja2 reports the syntax error
        if tokens[where][1] == "..":
            group = ("group", f"range({left}, {right})")
        else:
            test = "kestra_nullish" if tokens[where][1] == "??" else "undefined"
            group = ("group", f"(({right}) if ({left}) is {test} else ({left}))")
        tokens = [*tokens[:first], group, *tokens[last:]]


def _is_atom(token: Token) -> bool:
    kind, value = token
    return kind in ("group", "str", "num") or (kind == "name" and value not in _KEYWORDS)


def _unit_start(tokens: list[Token], where: int) -> int:
    """Start of the postfix unit (``a.b[c](d)``) ending just before ``where``."""
    position, state = where, "need"  # need an atom / have a unit / after a call or subscript
    for index in range(where - 1, -1, -1):
        kind, value = tokens[index]
        if kind == "ws":
            continue
        if kind == "group" and value[0] in "([" and state != "have":
            state = "after"
        elif _is_atom((kind, value)) and state != "have":
            state = "have"
        elif value == "." and state == "have":
            state = "need"
        else:
            break
        position = index
    return position


def _unit_end(tokens: list[Token], where: int) -> int:
    position = where + 1
    expect_atom = True
    for index in range(where + 1, len(tokens)):
        token = tokens[index]
        if token[0] == "ws":
            continue
        if expect_atom and _is_atom(token):
            expect_atom = False
        elif not expect_atom and token[1] == ".":
            expect_atom = True
        elif not expect_atom and token[0] == "group" and token[1][0] in "([":
            pass
        else:
            break
        position = index + 1
    return position
