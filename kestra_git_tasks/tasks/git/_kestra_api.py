"""Kestra's ``kestraUrl`` and ``auth`` properties: run a task against a Kestra server.

Without them a task works on the run's instance (the embedded one, or the server given to
``kestra-git run --server``). With ``kestraUrl`` it talks to that server over the REST API, for
the duration of the task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from .._base import secret_value
from ._base import GitTask

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["KestraApiTask", "KestraAuth"]


class KestraAuth(BaseModel):
    """Credentials for the Kestra API: HTTP Basic (`username`/`password`) or `apiToken`."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )

    username: SecretStr | None = Field(default=None, description="Basic auth user (an e-mail).")
    password: SecretStr | None = Field(default=None, description="Basic auth password.")
    api_token: SecretStr | None = Field(default=None, description="Bearer token (EE).")
    auto: bool = Field(default=True, description="Accepted for Kestra parity.")

    @model_validator(mode="after")
    def _one_method(self) -> KestraAuth:
        """Kestra's rules, with its messages: a token or a user and password, not both."""
        if self.api_token is not None and (self.username or self.password):
            raise PydanticCustomError(
                "auth",
                "Cannot use both API Token authentication and HTTP Basic authentication; give "
                "either `apiToken` or `username` and `password`",
            )
        if (self.username is None) != (self.password is None):
            raise PydanticCustomError(
                "auth",
                "Both username and password are required for HTTP Basic authentication; set "
                "the missing one under `auth`",
            )
        return self


class KestraApiTask(GitTask):
    """A Git task that reads or writes flows and files: adds ``kestraUrl`` and ``auth``."""

    kestra_url: str | None = Field(
        default=None,
        description="URL of a Kestra server whose flows and files the task works on; without "
        "it, the run's instance is used.",
        json_schema_extra={"group": "kestra"},
    )
    auth: KestraAuth | None = Field(
        default=None,
        description="Credentials for `kestraUrl`: `username` and `password`, or `apiToken`.",
        json_schema_extra={"group": "kestra"},
    )

    @contextmanager
    def kestra_scope(self, ctx: RunContext) -> Iterator[None]:
        """While the block runs, ``ctx.instance`` is the server of ``kestraUrl`` (if set)."""
        if not self.kestra_url:
            yield
            return
        from ...instance.kestra import KestraInstance

        auth = self.auth or KestraAuth()
        username, password = secret_value(auth.username), secret_value(auth.password)
        token = secret_value(auth.api_token)
        for value in (password, token):
            if value:
                ctx.masker.add(value)
        tenant = ctx.tenant
        saved = ctx.instance
        with KestraInstance(
            self.kestra_url, tenant=tenant, username=username, password=password, api_token=token,
            connect_timeout=self.connect_timeout / 1000, read_timeout=self.read_timeout / 1000,
            trusted_ca_pem_path=self.trusted_ca_pem_path, no_proxy=self.no_proxy,
            environ=ctx.environ,
        ) as server:  # fmt: skip
            ctx.instance = server
            try:
                yield
            finally:
                ctx.instance = saved
