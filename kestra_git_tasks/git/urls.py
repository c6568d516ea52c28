"""URLs of remotes: taking credentials out of them, and what may be stored or shown.

- :func:`redact_url`: the URL without its password (the user is kept);
- :func:`split_url_credentials`: the URL to hand to libgit2 and the user and password taken out
  of it (an ``http(s)`` URL loses its whole user part); a URL whose credentials cannot be split
  out safely is refused with a :class:`~kestra_git_tasks.errors.ConfigError` that never shows
  them;
- :func:`storage_url`: the URL as it may be written to disk or shown (no user part, password,
  query string or fragment);
- :func:`origin_of`: (scheme, host, port), what credentials are tied to.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from kestra_git_tasks.errors import ConfigError

__all__ = [
    "origin_of",
    "redact_url",
    "scrub_fetch_head",
    "split_url_credentials",
    "storage_url",
    "without_userinfo",
]

_MASK = "******"


def redact_url(url: str) -> str:
    """Return ``url`` without the password of its userinfo (the username is kept).

    >>> redact_url("https://user:tok@github.com/org/repo.git")
    'https://user@github.com/org/repo.git'

    URLs without a password (including scp-like ``git@host:org/repo.git``) come back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.netloc or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if ":" not in userinfo:
        return url
    username = userinfo.split(":", 1)[0]
    netloc = f"{username}@{hostport}" if username else hostport
    return urlunsplit(parts._replace(netloc=netloc))


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split the credentials out of a URL: (URL to hand to libgit2, user, password).

    For ``http(s)://`` URLs the whole user part goes (a token is often written as the user:
    ``https://TOKEN@host/...``); for other schemes only the password. User and password come
    back percent-decoded; either is None when absent.

    Raises:
        ConfigError: the URL cannot be parsed, or holds an ``@`` outside its user part (a
            password with an unescaped ``/``, ``?`` or ``#``); the message never shows it.
    """
    if "://" not in url:
        return url, None, None  # a local path or scp-like ``git@host:org/repo.git``
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigError(
            f"`url` '{_masked(url)}' is not a valid URL: check it; give credentials in "
            "`username` and `password` rather than in the URL."
        ) from None
    if parts.netloc and "@" in url.partition("://")[2].partition(parts.netloc)[2]:
        raise ConfigError(
            f"`url` '{_masked(url)}' holds an '@' outside its user part: a password written in "
            "the URL must percent-encode '/', '?', '#' and '@'; better, give it in `password`."
        )
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    keep_user = parts.scheme not in {"http", "https"} and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    clean = urlunsplit(parts._replace(netloc=netloc))
    return clean, unquote(user) or None, (unquote(password) if sep else None)


def storage_url(url: str) -> str:
    """``url`` as it may be written to disk or shown: no user part for ``http(s)`` (nor any
    password), no query string and no fragment (either can carry a token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _masked(url)
    if not parts.scheme or "://" not in url:
        return redact_url(url)
    clean = urlunsplit(parts._replace(query="", fragment=""))
    try:
        return split_url_credentials(clean)[0]
    except ConfigError:
        return _masked(clean)


def _masked(url: str) -> str:
    """Everything before the last ``@`` after the scheme hidden: safe in a message."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://{_MASK}@{rest.rpartition('@')[2]}"


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port defaulted by scheme; scp-like is ``ssh``."""
    if "://" not in url:
        host = url.partition(":")[0].rpartition("@")[2] if ":" in url else ""
        return ("ssh", host.lower(), 22) if host else ("file", "", None)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("invalid", url, None)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


def without_userinfo(url: str) -> str:
    """``url`` without its ``user[:password]@`` (redacted when it cannot be parsed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_url(url)
    if not parts.netloc or "@" not in parts.netloc:
        return redact_url(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrub_fetch_head(git_dir: Path, clean_url: str) -> None:
    """Write ``FETCH_HEAD`` again with :func:`storage_url` in place of ``clean_url`` (libgit2
    records the URL it fetched from, query string included)."""
    shown = storage_url(clean_url)
    fetch_head = git_dir / "FETCH_HEAD"
    if shown == clean_url or not fetch_head.is_file():
        return
    text = fetch_head.read_text(encoding="utf-8", errors="surrogateescape")
    fetch_head.write_text(
        text.replace(clean_url, shown), encoding="utf-8", errors="surrogateescape"
    )
