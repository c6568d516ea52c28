"""Pieces shared by the ``kestra-git`` commands: options, error handling, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import KestraGitError
from .home import HOME_ENV, default_home

if TYPE_CHECKING:
    from .instance.base import Instance
    from .instance.local import LocalInstance

if TYPE_CHECKING:
    from .instance.base import Instance
    from .instance.local import LocalInstance

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Print an expected error as one line on stderr and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KestraGitError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def one_line(text: str) -> str:
    """``text`` on one line."""
    return " ".join(text.split())


def home_option(func: F) -> F:
    """``--home DIR``."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=HOME_ENV,
        default=None,
        help=f"Runner home folder (instance database, caches). [env: {HOME_ENV}; "
        "default: ~/.kestra-git]",
    )(func)


def json_option(func: F) -> F:
    """``--json``."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


@dataclass(frozen=True)
class Server:
    """A Kestra server chosen with ``--server`` (or ``KESTRA_URL``)."""

    url: str | None
    username: str | None
    password: str | None
    token: str | None
    tenant: str | None


def server_options(func: F) -> F:
    """``--server`` and its credentials; they arrive as one ``server`` argument."""
    options = [
        click.option(
            "--server",
            "server_url",
            envvar="KESTRA_URL",
            default=None,
            help="Kestra server URL: work on its flows and files instead of the "
            "embedded instance. [env: KESTRA_URL]",
        ),
        click.option(
            "--server-user",
            envvar="KESTRA_USERNAME",
            default=None,
            help="Basic auth user for --server. [env: KESTRA_USERNAME]",
        ),
        click.option(
            "--server-password",
            envvar="KESTRA_PASSWORD",
            default=None,
            help="Basic auth password for --server. [env: KESTRA_PASSWORD]",
        ),
        click.option(
            "--server-token",
            envvar="KESTRA_API_TOKEN",
            default=None,
            help="Bearer API token for --server. [env: KESTRA_API_TOKEN]",
        ),
        click.option(
            "--server-tenant",
            envvar="KESTRA_TENANT",
            default="main",
            show_default=True,
            help="Tenant segment of the API path; empty for servers before 0.23. "
            "[env: KESTRA_TENANT]",
        ),
    ]

    @wraps(func)
    def wrapper(
        *args: Any,
        server_url: str | None,
        server_user: str | None,
        server_password: str | None,
        server_token: str | None,
        server_tenant: str,
        **kwargs: Any,
    ) -> Any:
        server = Server(
            server_url, server_user, server_password, server_token, server_tenant or None
        )
        return func(*args, server=server, **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


@contextmanager
def local_instance(home: Path | None) -> Iterator[LocalInstance]:
    """The embedded instance of ``home`` (executions always live there)."""
    from .flow import validate_source
    from .instance.local import LocalInstance

    with LocalInstance(home or default_home(), validator=validate_source) as instance:
        yield instance


@contextmanager
def open_store(home: Path | None, server: Server | None) -> Iterator[Instance]:
    """Where flows and files live: ``--server`` when given, else the embedded instance."""
    if server is None or not server.url:
        with local_instance(home) as instance:
            yield instance
        return
    from .instance.kestra import KestraInstance

    with KestraInstance(
        server.url,
        tenant=server.tenant,
        username=server.username,
        password=server.password,
        api_token=server.token,
    ) as instance:
        yield instance


def pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict."""
    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"expected NAME=VALUE, got {item.split('=')[0]!r}…", param_hint=option
            )
        result[name] = value
    return result


def print_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def table(rows: list[list[str]], headers: list[str]) -> None:
    """A plain aligned table on stdout."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for row in [headers, *rows]:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=False))
        click.echo("  ".join(cells).rstrip())


def flow_files(paths: tuple[Path, ...]) -> list[Path]:
    """Flow files named, or found (``.yml``/``.yaml``) under the folders named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        else:
            files.append(path)
    return files
