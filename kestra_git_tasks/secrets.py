"""Where ``secret('NAME')`` finds its value, and how secret values are kept out of every output.

Lookup order (first hit wins):

1. secrets given explicitly: the ``secrets=`` mapping in Python, ``--secret NAME=VALUE`` on the
   command line;
2. Kestra OSS environment variables: ``SECRET_<NAME>`` (name upper-cased) holding the value
   **base64-encoded**, exactly as a Kestra server reads them;
3. a secrets file (``--secrets-file`` or ``KESTRA_GIT_SECRETS_FILE``): a YAML mapping of names
   to plain values.

Every value handed out is registered with the :class:`SecretMasker`, which replaces it with
``******`` in log lines, error messages, outputs and stored executions (the runner registers the
values of ``SECRET`` flow inputs too). Secrets shorter than :data:`MIN_FREE_LENGTH` characters
are masked only where they stand alone, not inside a longer word.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .errors import ConfigError, SecretNotFoundError

__all__ = ["MASK", "MIN_FREE_LENGTH", "SecretMasker", "SecretStore", "env_variables"]

MASK = "******"
#: Secret forms at least this long are masked wherever they occur; shorter ones only where
#: they stand alone (see :class:`SecretMasker`).
MIN_FREE_LENGTH = 8
SECRETS_FILE_ENV = "KESTRA_GIT_SECRETS_FILE"
#: Characters JSON text writes as escapes (``json.dumps(ensure_ascii=False)``).
_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')
_CREDENTIAL_KEY = re.compile(r"token|key|secret|pass|pwd|auth|sig|cred|session", re.IGNORECASE)


class SecretMasker:
    """Remembers secret values and masks them in any text.

    The rule (documented in docs/templating.md, "How secrets are masked"): a secret is masked in
    the forms it can be printed in, its whole value and, for a multi-line value (a PEM key), each
    of its lines, stripped. A form of at least :data:`MIN_FREE_LENGTH` characters is masked
    wherever it occurs. A shorter form is masked only where it stands alone: its neighbours
    cannot continue it (next to a letter, digit or ``_`` edge there is none of those; next to a
    symbol edge, not the same symbol). So ``password: p`` becomes ``password: ******`` while
    ``apple`` stays ``apple``: a short secret inside a longer word is not masked, since masking
    it would garble every log line.
    """

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._patterns: list[re.Pattern[str]] | None = None
        self._anywhere: re.Pattern[str] | None = None  # every form, no edge rule

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (blank values are ignored: masking them means nothing)."""
        forms = {value, value.strip()}
        # A multi-line secret (a private key) may be logged line by line.
        forms.update(line.strip() for line in value.splitlines())
        forms = {form for form in forms if form.strip()} - self._forms
        if forms:
            self._forms |= forms
            self._patterns = self._anywhere = None

    def add_url_credentials(self, url: str) -> None:
        """Mask the credentials written in ``url``: the password of its user part (for http(s)
        a user without a password too, as ``https://TOKEN@host`` is common, when at least
        :data:`MIN_FREE_LENGTH` long) and the values of its query parameters (``?token=...``)
        that are that long or whose name says credential (token, key, secret, pass, auth...):
        a short ``?depth=1`` is not a secret, and masking ``1`` would garble every log line."""
        try:
            parts = urlsplit(url)
        except ValueError:  # unparseable: fall back to what looks like a user part
            parts = urlsplit(url.replace("[", "").replace("]", ""))
        userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        user, sep, password = userinfo.partition(":")
        for value in (password, unquote(password)):
            self.add(value)
        if not sep and parts.scheme in ("http", "https") and len(user) >= MIN_FREE_LENGTH:
            self.add(user)
            self.add(unquote(user))
        for key, value in parse_qsl(parts.query, keep_blank_values=False):
            if len(value) >= MIN_FREE_LENGTH or _CREDENTIAL_KEY.search(key):
                self.add(value)
                self.add(quote(value, safe=""))

    def mask(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``******``: long forms first,
        longest first, then the short ones (whose neighbours must not continue them, so the
        ``*`` of a mask never counts as a secret)."""
        if not self._forms or not text:
            return text
        for pattern in self._compiled():
            text = pattern.sub(MASK, text)
        return text

    def _compiled(self) -> list[re.Pattern[str]]:
        if self._patterns is None:
            ordered = sorted(self._forms, key=lambda form: (-len(form), form))
            groups = (
                [form for form in ordered if len(form) >= MIN_FREE_LENGTH],
                [form for form in ordered if len(form) < MIN_FREE_LENGTH],
            )
            self._patterns = [
                re.compile("|".join(_form_pattern(form) for form in group))
                for group in groups
                if group
            ]
        return self._patterns

    def mask_tree(self, value: Any) -> Any:
        """``value`` (dicts, lists, strings and other scalars, as outputs are) with every string
        in it masked by :meth:`mask`; keys are kept as they are.

        A sync's outputs hold tens of thousands of strings: when no secret can be among them
        (:meth:`_absent_from`), ``value`` itself is returned without walking it."""
        if not self._forms or self._absent_from(value):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, str):
            return self.mask(value)
        return value

    def _absent_from(self, value: Any) -> bool:
        """True only when no string of ``value`` holds a secret form, even without its edge
        rule. JSON writes each form unchanged (else this answers False), so a form in a string
        is a form in the JSON text of ``value``, searched once for any form anywhere."""
        if self._anywhere is None:
            if any(_JSON_ESCAPED.search(form) for form in self._forms):
                return False
            ordered = sorted(self._forms, key=lambda form: (-len(form), form))
            self._anywhere = re.compile("|".join(map(re.escape, ordered)))
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            return False
        return self._anywhere.search(text) is None

    def __bool__(self) -> bool:
        return bool(self._forms)


def _form_pattern(form: str) -> str:
    """The regular expression masking ``form`` under the rule of :class:`SecretMasker`."""
    escaped = re.escape(form)
    if len(form) >= MIN_FREE_LENGTH:
        return escaped
    return f"{_edge(form[0], '<')}{escaped}{_edge(form[-1], '')}"


def _edge(char: str, direction: str) -> str:
    """A look-behind (``direction`` ``<``) or a look-ahead: no neighbour continuing ``char``."""
    continuing = r"\w" if char.isalnum() or char == "_" else re.escape(char)
    return f"(?{direction}!{continuing})"


class SecretStore:
    """Resolves secret names to values, in the order described in the module docstring."""

    def __init__(
        self,
        explicit: Mapping[str, str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        secrets_file: str | Path | None = None,
        masker: SecretMasker | None = None,
    ) -> None:
        self._explicit = {name.upper(): value for name, value in (explicit or {}).items()}
        self._environ = os.environ if environ is None else environ
        file_name = secrets_file or self._environ.get(SECRETS_FILE_ENV)
        self._file = Path(file_name) if file_name else None
        self._file_values: dict[str, str] | None = None
        self.masker = masker or SecretMasker()
        for value in self._explicit.values():
            self.masker.add(value)

    def get(self, name: str) -> str:
        """The value of secret ``name``; raises :class:`SecretNotFoundError` when it has none."""
        key = name.upper()
        value = self._lookup(key)
        if value is None:
            raise SecretNotFoundError(
                f"Cannot find secret for key '{name}'. Provide it with --secret {key}=VALUE, "
                f"the environment variable SECRET_{key} (base64-encoded value), "
                f"or a secrets file ({SECRETS_FILE_ENV}).",
                name=name,
            )
        self.masker.add(value)
        return value

    def _lookup(self, key: str) -> str | None:
        if key in self._explicit:
            return self._explicit[key]
        encoded = self._environ.get(f"SECRET_{key}")
        if encoded is not None:
            try:
                raw = base64.b64decode("".join(encoded.split()), validate=True)
                return raw.decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"Could not decode secret 'SECRET_{key}', make sure it is Base64-encoded "
                    f'(for example: echo -n "$value" | base64).'
                ) from exc
        return self._from_file().get(key)

    def _from_file(self) -> dict[str, str]:
        if self._file_values is None:
            self._file_values = {}
            if self._file is not None:
                self._file_values = _read_secrets_file(self._file)
                for value in self._file_values.values():
                    self.masker.add(value)
        return self._file_values


#: The last parse of each secrets file, keyed by what ``stat`` says of it: the server builds a
#: store per request, and a file rewritten (a rotated secret) is read again at once.
_PARSED: dict[Path, tuple[tuple[int, int, int, int], dict[str, str]]] = {}


def _read_secrets_file(path: Path) -> dict[str, str]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"Cannot read the secrets file {path}: {exc.strerror}.") from exc
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    values = _parse_secrets_file(path)
    _PARSED[path] = (key, values)
    return dict(values)


def _parse_secrets_file(path: Path) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the secrets file {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        # Never echo the file's content: it is full of secrets.
        raise ConfigError(
            f"The secrets file {path} is not valid YAML; it must be a mapping NAME: value."
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"The secrets file {path} must be a YAML mapping NAME: value.")
    return {str(name).upper(): str(value) for name, value in data.items() if value is not None}


def env_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``envs`` for templates: ``ENV_MY_VAR`` becomes ``envs.my_var`` (Kestra 0.23+)."""
    environ = os.environ if environ is None else environ
    return {
        name[len("ENV_") :].lower(): value
        for name, value in environ.items()
        if name.startswith("ENV_") and len(name) > len("ENV_")
    }
