"""The server's settings (:class:`ServerConfig`) and the checks made before it binds a port.

A server binds 127.0.0.1 unless told otherwise; binding any other address without Basic auth
is refused (:class:`~kestra_git_tasks.errors.ConfigError`) unless ``insecure_no_auth`` says the
operator really means it (behind an authenticating proxy, say).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..secrets import SecretMasker, SecretStore

__all__ = ["BASIC_AUTH_ENV", "ServerConfig", "parse_basic_auth"]

BASIC_AUTH_ENV = "KESTRA_GIT_SERVER_BASIC_AUTH"
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


@dataclass(frozen=True)
class ServerConfig:
    """How a server runs: where, with which home, workers, credentials and limits."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 4
    basic_auth: tuple[str, str] | None = None
    insecure_no_auth: bool = False
    secrets_file: Path | None = None
    grace: float = 30.0
    #: Largest request body accepted, in bytes (413 beyond).
    max_body: int = 10 * 1024 * 1024
    #: The secret holding GitHub's webhook secret (``X-Hub-Signature-256`` is checked when set).
    github_secret_name: str = "GITHUB_WEBHOOK_SECRET"
    #: How often the instance is polled for changed flows, in seconds.
    poll_interval: float = 1.0
    #: The only tenant the webhook and API URLs accept.
    tenant: str = "main"
    #: Most executions waiting for a worker; more are refused with 503.
    max_queued: int = 10_000
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def check(self) -> None:
        """Refuse settings that would expose the server or cannot work."""
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {self.workers})")
        if self.grace < 0:
            raise ConfigError(f"--grace must not be negative (got {self.grace})")
        if self.basic_auth is None and not self.insecure_no_auth and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to serve {self.host} without authentication: anyone who reaches it "
                "could run flows; give --basic-auth USER:PASSWORD (or "
                f"{BASIC_AUTH_ENV}), "
                "bind 127.0.0.1 behind a reverse proxy, or pass --insecure-no-auth"
            )

    def secret_store(self) -> SecretStore:
        """A fresh store (its own masker): ``SECRET_*`` variables, then the secrets file."""
        return SecretStore(
            environ=self.environ, secrets_file=self.secrets_file, masker=SecretMasker()
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_basic_auth(text: str, where: str = "--basic-auth") -> tuple[str, str]:
    """``USER:PASSWORD`` -> (user, password); both must be non-empty."""
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ConfigError(f"{where} must be USER:PASSWORD with both parts non-empty")
    return user, password
