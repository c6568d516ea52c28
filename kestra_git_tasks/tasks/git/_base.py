"""``GitTask``: the connection properties every Git task shares (Kestra's ``AbstractGitTask``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr
from pydantic.config import JsonDict

from ...git import (
    INSECURE_HOST_KEY_ENV,
    Credentials,
    TransportOptions,
    default_known_hosts,
)
from ...git.gitconfig import proxy_url, unapplied_reasons
from .._base import Task, secret_value

if TYPE_CHECKING:
    from ...context import RunContext
    from ...git import RepoCache

__all__ = ["GitTask"]

_CONNECTION: JsonDict = {"group": "connection"}
_SECRET: JsonDict = {"group": "connection", "secret": True}


class GitTask(Task):
    """Base of the Git tasks: where the repository is and how to reach it."""

    url: str = Field(
        description="HTTP(S) or SSH URL of the repository. A password written in the URL is "
        "used but never stored or logged.",
        json_schema_extra=_CONNECTION,
    )
    username: SecretStr | None = Field(
        default=None,
        description="User for HTTP Basic authentication; with a personal access token any "
        "non-empty value works.",
        json_schema_extra=_SECRET,
    )
    password: SecretStr | None = Field(
        default=None,
        description="Password or personal access token, used with `username`.",
        json_schema_extra=_SECRET,
    )
    private_key: SecretStr | None = Field(
        default=None,
        description="Content (not a path) of an SSH private key: OpenSSH or PEM format, "
        "ed25519, ECDSA or RSA. Kept in memory only. The server's host key must be listed in "
        "known_hosts (see docs/transports.md).",
        json_schema_extra=_SECRET,
    )
    passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of `privateKey`.", json_schema_extra=_SECRET
    )
    trusted_ca_pem_path: str | None = Field(
        default=None,
        description="Path of a PEM bundle of CA certificates trusted in addition to the "
        "system ones, for this task's connections only (clone, fetch, push, submodules).",
        json_schema_extra=_CONNECTION,
    )
    no_proxy: bool = Field(
        default=False,
        description="Connect directly, ignoring proxy settings (`http.proxy`, `https_proxy`, "
        "`http_proxy`).",
        json_schema_extra=_CONNECTION,
    )
    connect_timeout: int = Field(
        default=10000,
        gt=0,
        description="Connect timeout in milliseconds.",
        json_schema_extra=_CONNECTION,
    )
    read_timeout: int = Field(
        default=60000,
        gt=0,
        description="Read timeout in milliseconds.",
        json_schema_extra=_CONNECTION,
    )
    git_config: dict[str, Any] | None = Field(
        default=None,
        description="Git configuration (`section.name: value`). Tasks without a work tree "
        "never write it into the runner's shared repository cache: `http.proxy` carries the "
        "task's connections (`noProxy` wins); a push (PushFlows, PushNamespaceFiles, "
        "PushDashboards, PushExecutionFiles) takes its commit identity from "
        "`user.name`/`user.email` when `authorName`/`authorEmail` are unset and stores CRLF as "
        "LF with `core.autocrlf: true|input`; sync and push tasks warn about every other key. "
        "Keys that make Git run a program (`core.sshCommand`, `core.fsmonitor`, "
        "`core.hooksPath`, `credential.helper`, `*.command`...) are never applied.",
        json_schema_extra=_CONNECTION,
    )
    clone_submodules: bool | None = Field(
        default=None,
        description="Include submodules. SyncFlows, SyncNamespaceFiles, SyncDashboards and "
        "Sync read the files of the submodules inside `gitDirectory` at their gitlink commits "
        "(nested ones up to 5 levels); the push tasks compare with them and refuse to write a "
        "file inside a submodule. Submodule URLs follow Clone's rules (http, https or ssh; "
        "the task's credentials only for its own server). SyncFlow, NamespaceSync, TenantSync "
        "and the deprecated Push read the branch's own tree only.",
        json_schema_extra=_CONNECTION,
    )

    def credentials(self) -> Credentials:
        """Credentials for the Git layer."""
        return Credentials(
            username=secret_value(self.username),
            password=secret_value(self.password),
            private_key=secret_value(self.private_key),
            passphrase=secret_value(self.passphrase),
        )

    def transport_options(self, ctx: RunContext, *, warn: bool = True) -> TransportOptions:
        """Timeouts, proxy, TLS and SSH host-key settings, applied to every Git operation of
        the task: known_hosts from the run's home folder and environment, the host-key
        opt-out (warned about on every run, unless ``warn`` is false: a second call of the
        same run), and ``gitConfig``'s ``http.proxy`` for this task's connections only."""
        known_hosts = default_known_hosts(ctx.home, ctx.environ)
        insecure = ctx.environ.get(INSECURE_HOST_KEY_ENV, "").lower() == "true"
        if insecure and warn:
            ctx.warn(
                f"{INSECURE_HOST_KEY_ENV}=true: SSH host keys are NOT verified; anyone between "
                "this runner and the Git server can serve it flows. Unset it and use "
                "`kestra-git known-hosts add HOST[:PORT]` instead."
            )
        return TransportOptions(
            connect_timeout_ms=self.connect_timeout,
            read_timeout_ms=self.read_timeout,
            no_proxy=self.no_proxy,
            trusted_ca_pem_path=self.trusted_ca_pem_path,
            known_hosts=known_hosts,
            accept_any_host_key=insecure,
            proxy_url=proxy_url(self.git_config),
        )

    def repo_cache(self, ctx: RunContext) -> RepoCache:
        """The runner's cache of remote repositories (``<home>/repos``)."""
        from ...git import RepoCache

        return RepoCache(ctx.home / "repos")

    def warn_unapplied(self, ctx: RunContext, applied: Mapping[str, str]) -> None:
        """Warn about each ``gitConfig`` key a task without a work tree (sync, push) does not
        apply: ``applied`` maps the lower-cased keys it applies to "" and those it explains to
        the reason; refused keys (they would run a program) and the rest are named too."""
        proxy = "`noProxy: true` wins" if self.no_proxy else ""
        for sentence in unapplied_reasons(self.git_config, {"http.proxy": proxy, **applied}):
            ctx.warn(sentence)

    def register_secrets(self, ctx: RunContext) -> None:
        """Make sure credential values are masked even when given literally (not via secret())."""
        ctx.masker.add_url_credentials(self.url)
        proxy = proxy_url(self.git_config)
        if proxy:
            ctx.masker.add_url_credentials(proxy)
        for value in (self.username, self.password, self.private_key, self.passphrase):
            plain = secret_value(value)
            if plain and value is not self.username:
                ctx.masker.add(plain)
