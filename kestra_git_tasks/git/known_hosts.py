"""SSH host keys: OpenSSH ``known_hosts`` files read, matched and written (no pygit2 here).

Contract:

* :func:`default_paths` says which files are consulted: ``KESTRA_GIT_KNOWN_HOSTS`` (a list
  separated by ``os.pathsep``) when set, else the home folder's ``known_hosts`` then
  ``~/.ssh/known_hosts``. Missing files are simply empty.
* :func:`check` answers for one (host, port, key): ``MATCH`` (a line lists this key for this
  host), ``CHANGED`` (lines list the host with the same key type but another key), ``UNKNOWN``
  (no line for this key type), ``REVOKED`` (an ``@revoked`` line lists the key).
* Host fields are understood as OpenSSH writes them: comma lists, ``[host]:port`` for a port
  other than 22, hashed entries (``|1|salt|hmac-sha1``), ``*``/``?`` wildcards and ``!``
  negations. ``@cert-authority`` lines are ignored (host certificates are not supported).
* :func:`add` appends one line (``host key-type base64``) and never rewrites what is there.
* :func:`fingerprint` is OpenSSH's ``SHA256:...`` form of a key.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kestra_git_tasks.errors import ConfigError

__all__ = [
    "INSECURE_HOST_KEY_ENV",
    "KNOWN_HOSTS_ENV",
    "HostKey",
    "Verdict",
    "add",
    "check",
    "default_paths",
    "fingerprint",
    "host_field",
]

#: The environment variable naming the known_hosts file(s) to use instead of the defaults.
KNOWN_HOSTS_ENV = "KESTRA_GIT_KNOWN_HOSTS"
#: The environment variable that, set to ``true``, turns host-key checking off (Kestra's way).
INSECURE_HOST_KEY_ENV = "KESTRA_GIT_SSH_INSECURE_ACCEPT_ANY_HOST_KEY"


class Verdict(enum.Enum):
    MATCH = "match"
    UNKNOWN = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"


@dataclass(frozen=True)
class HostKey:
    """A server's public key in SSH wire format (``blob``), and its type (``ssh-ed25519``...)."""

    key_type: str
    blob: bytes

    @classmethod
    def from_blob(cls, blob: bytes) -> HostKey:
        """Read the key type from the blob's first string (SSH wire format)."""
        if len(blob) < 4:
            raise ValueError("host key too short")
        size = int.from_bytes(blob[:4], "big")
        name = blob[4 : 4 + size]
        if size == 0 or len(name) != size:
            raise ValueError("host key without a type")
        return cls(name.decode("ascii", "replace"), blob)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)


def fingerprint(blob: bytes) -> str:
    """``SHA256:<base64 without padding>``, as ``ssh-keygen -lf`` and ``ssh`` show it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def host_field(host: str, port: int) -> str:
    """How known_hosts names ``host`` on ``port``: ``host`` for 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def default_paths(home: Path | None, environ: Mapping[str, str]) -> tuple[Path, ...]:
    """The known_hosts files to consult, first the one :func:`add` writes to."""
    named = environ.get(KNOWN_HOSTS_ENV, "").strip()
    if named:
        return tuple(Path(p).expanduser() for p in named.split(os.pathsep) if p)
    paths: list[Path] = []
    if home is not None:
        paths.append(Path(home) / "known_hosts")
    user_home = environ.get("HOME")
    if user_home:
        paths.append(Path(user_home) / ".ssh" / "known_hosts")
    return tuple(paths)


@dataclass(frozen=True)
class _Line:
    marker: str | None
    hosts: str
    key_type: str
    blob: bytes


def _read(paths: Iterable[Path]) -> list[_Line]:
    lines: list[_Line] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(
                f"known_hosts file '{path}' cannot be read ({exc.strerror}): fix its "
                f"permissions, or name another file with {KNOWN_HOSTS_ENV}."
            ) from exc
        for raw in text.splitlines():
            parsed = _parse(raw)
            if parsed is not None:
                lines.append(parsed)
    return lines


def _parse(raw: str) -> _Line | None:
    fields = raw.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = None
    if fields[0].startswith("@"):
        marker, fields = fields[0], fields[1:]
    if len(fields) < 3:
        return None
    try:
        blob = base64.b64decode(fields[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    return _Line(marker, fields[0], fields[1], blob)


def _names_host(field: str, names: tuple[str, ...]) -> bool:
    """True when the host field lists one of ``names`` (and negates none of them)."""
    matched = False
    for pattern in field.split(","):
        if pattern.startswith("|1|"):
            matched |= any(_hashed_match(pattern, name) for name in names)
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").lower()
        if any(_wildcard(pattern).fullmatch(name.lower()) for name in names):
            if negated:
                return False
            matched = True
    return matched


def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH's host patterns: ``*`` and ``?`` only (``[`` is literal, as in ``[host]:port``)."""
    return re.compile(".*".join(".".join(map(re.escape, p.split("?"))) for p in pattern.split("*")))


def _hashed_match(pattern: str, name: str) -> bool:
    parts = pattern.split("|")
    if len(parts) != 4:
        return False
    try:
        salt, wanted = base64.b64decode(parts[2]), base64.b64decode(parts[3])
    except (binascii.Error, ValueError):
        return False
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(digest, wanted)


def check(paths: Iterable[Path], host: str, port: int, key: HostKey) -> Verdict:
    """What the files say about ``key`` offered by ``host`` on ``port`` (see module doc)."""
    names = (host_field(host, port),)
    same_type = False
    verdict = Verdict.UNKNOWN
    for line in _read(paths):
        if line.marker == "@cert-authority" or not _names_host(line.hosts, names):
            continue
        if line.marker == "@revoked":
            if line.blob == key.blob:
                return Verdict.REVOKED
            continue
        if line.blob == key.blob:
            verdict = Verdict.MATCH
        elif line.key_type == key.key_type:
            same_type = True
    if verdict is Verdict.MATCH:
        return verdict
    return Verdict.CHANGED if same_type else Verdict.UNKNOWN


def add(path: Path, host: str, port: int, key: HostKey) -> str:
    """Append ``key`` for ``host``:``port`` to ``path`` (created, with its folder, if missing);
    return the line written."""
    line = f"{host_field(host, port)} {key.key_type} {base64.b64encode(key.blob).decode()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    with path.open("a", encoding="utf-8") as out:
        if existing and not existing.endswith("\n"):
            out.write("\n")
        out.write(line + "\n")
    return line
