"""Pieces shared by the ``kestra-git`` commands: options, error handling, output helpers.

The one place that knows how a command reports: an expected error (any
:class:`~kestra_git_tasks.errors.KestraGitError`) is one line on stderr and exit status 1; usage
errors are click's (exit 2). Hints that name command-line options are added here, never by the
library: the library does not know how its arguments were given.
"""

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

from ..errors import KestraAuthError, KestraGitError, NotFoundError
from ..home import HOME_ENV, default_home

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ..instance.base import Instance
    from ..instance.local import LocalInstance

F = TypeVar("F", bound=Callable[..., Any])

#: How to fix a 401 / 403 from the server given with ``--server``.
SERVER_AUTH_HINT = "for --server give them with --server-user/--server-password or --server-token"


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


def color_option(func: F) -> F:
    """``--no-color``."""
    return click.option(
        "--no-color",
        is_flag=True,
        help="No colours, even on a terminal (a non-empty NO_COLOR does the same).",
    )(func)


#: Colours of states and diff lines on a terminal.
COLORS: dict[str, dict[str, Any]] = {
    "ADDED": {"fg": "green"},
    "UPDATED": {"fg": "yellow"},
    "OVERWRITTEN": {"fg": "yellow"},
    "DELETED": {"fg": "red"},
    "UNCHANGED": {"dim": True},
    "SUCCESS": {"fg": "green", "bold": True},
    "WARNING": {"fg": "yellow", "bold": True},
    "FAILED": {"fg": "red", "bold": True},
    "KILLED": {"fg": "red", "bold": True},
    "added": {"fg": "green"},
    "removed": {"fg": "red"},
    "hunk": {"fg": "cyan"},
    "header": {"bold": True},
    "dim": {"dim": True},
}


def stdout_style(no_color: bool) -> Callable[[str, str], str] | None:
    """``style(text, kind)`` for stdout: None (plain text) unless stdout is a terminal and
    neither ``--no-color`` nor ``NO_COLOR`` (set, not empty) asks for no colour."""
    import os

    if no_color or os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return None
    if os.environ.get("TERM") == "dumb":
        return None

    def style(text: str, kind: str) -> str:
        return click.style(text, **COLORS.get(kind, {}))

    return style


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
def local_instance(home: Path | None, *, read_only: bool = False) -> Iterator[LocalInstance]:
    """The embedded instance of ``home`` (executions always live there).

    ``read_only`` commands never create a home folder: a missing one is a
    :class:`~kestra_git_tasks.errors.NotFoundError` naming ``--home`` and ``KESTRA_GIT_HOME``.
    """
    folder = home or default_home()
    if read_only and not folder.is_dir():
        raise NotFoundError(
            f"no instance at {folder}: point --home or {HOME_ENV} at the runner's home folder "
            "(`kestra-git run` and `kestra-git deploy` create it)"
        )
    from ..flow import validate_source
    from ..instance.local import LocalInstance

    with LocalInstance(folder, validator=validate_source) as instance:
        yield instance


@contextmanager
def open_store(
    home: Path | None, server: Server | None, *, read_only: bool = False
) -> Iterator[Instance]:
    """Where flows and files live: ``--server`` when given, else the embedded instance.

    A 401 / 403 from ``--server`` gets :data:`SERVER_AUTH_HINT`; ``read_only`` is
    :func:`local_instance`'s.
    """
    if server is None or not server.url:
        with local_instance(home, read_only=read_only) as instance:
            yield instance
        return
    from ..instance.kestra import KestraInstance

    try:
        with KestraInstance(
            server.url,
            tenant=server.tenant,
            username=server.username,
            password=server.password,
            api_token=server.token,
        ) as instance:
            yield instance
    except KestraAuthError as exc:
        raise KestraAuthError(f"{exc}; {SERVER_AUTH_HINT}", status_code=exc.status_code) from exc


def with_server_hint(message: str, store: Instance) -> str:
    """``message`` with :data:`SERVER_AUTH_HINT` when ``store`` (the ``--server``) refused it.

    For errors recorded in an execution, which mention the URL they came from: a task's own
    ``kestraUrl`` has its own ``auth``, so its 401 must not send the user to ``--server-user``.
    Call it only when ``--server`` was given (it imports the REST layer).
    """
    from ..instance.kestra import KestraInstance

    if not isinstance(store, KestraInstance) or SERVER_AUTH_HINT in message:
        return message
    refused = any(f"Kestra answered {status} " in message for status in (401, 403))
    return f"{message}; {SERVER_AUTH_HINT}" if refused and f" {store.url}/" in message else message


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
    """Flow files named, or found under the folders named as ``deploy`` finds them.

    A folder is walked like ``kestra-git deploy`` walks it (its root ``.kestraignore``,
    dot-folders and ``.git*`` files excluded), keeping ``.yml`` / ``.yaml`` files.
    """
    from ..flowfile import is_flow_file

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            from ..tasks.git._sync import GitTree  # a folder only: it loads the Git tasks

            tree = GitTree.from_folder(path)
            files.extend(path / relative for relative in tree.files if is_flow_file(relative))
        else:
            files.append(path)
    return files


def check_namespace(value: str, option: str) -> str:
    """``value`` if it is a namespace Kestra accepts, else a usage error naming ``option``."""
    from ..ids import NAMESPACE_MAX, NAMESPACE_PATTERN

    if not NAMESPACE_PATTERN.fullmatch(value) or len(value) > NAMESPACE_MAX:
        raise click.BadParameter(
            f"{value!r} is not a Kestra namespace: lower-case letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, at most {NAMESPACE_MAX} characters (e.g. "
            "company.team)",
            param_hint=f"'{option}'",
        )
    return value


# -- naming: NAMESPACE/ID, execution id prefixes, confirmation ----------------------------------


def split_flow_uid(uid: str) -> tuple[str, str]:
    """``NAMESPACE/ID`` as ``(namespace, id)``; a usage error (exit 2) for anything else."""
    namespace, sep, flow_id = uid.rpartition("/")
    if not sep or not namespace or not flow_id:
        raise click.BadParameter(f"expected NAMESPACE/ID, for example prod/my_flow; got {uid!r}")
    return namespace, flow_id


def complete_flow_uid(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of ``NAMESPACE/ID`` from the instance the command would open.

    Never fails: no home folder, an unreachable server or any expected error completes nothing.
    """
    from click.shell_completion import CompletionItem

    params = ctx.params
    server = Server(
        params.get("server_url"),
        params.get("server_user"),
        params.get("server_password"),
        params.get("server_token"),
        params.get("server_tenant") or None,
    )
    try:
        with open_store(params.get("home"), server, read_only=True) as instance:
            uids = [
                f"{record.namespace}/{record.id}"
                for namespace in instance.list_namespaces()
                for record in instance.list_flows(namespace)
            ]
    except KestraGitError:
        return []
    return [CompletionItem(uid) for uid in sorted(set(uids)) if uid.startswith(incomplete)]


def flow_uid_argument(func: F) -> F:
    """The ``NAMESPACE/ID`` argument (``uid``), completed from the instance."""
    return click.argument(
        "uid", metavar="NAMESPACE/ID", shell_complete=complete_flow_uid, callback=_checked_uid
    )(func)


def _checked_uid(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    split_flow_uid(value)  # a usage error before any instance is opened
    return value


def resolve_execution_id(instance: LocalInstance, prefix: str) -> str:
    """The one execution id ``prefix`` starts (or is); a clear error otherwise.

    None matches: :class:`~kestra_git_tasks.errors.NotFoundError`; several: a usage error that
    lists them (up to 10).
    """
    candidates = instance.execution_ids(prefix, limit=11)
    if prefix in candidates or len(candidates) == 1:
        return prefix if prefix in candidates else candidates[0]
    if not candidates:
        raise NotFoundError(
            f"no execution id starts with {prefix!r}; list them with `kestra-git executions list`"
        )
    shown = ", ".join(candidates[:10]) + (", ..." if len(candidates) > 10 else "")
    raise click.BadParameter(
        f"{prefix!r} is the start of several execution ids ({shown}); give more characters",
        param_hint="EXECUTION_ID",
    )


def confirm_or_abort(question: str, yes: bool, hint: str) -> None:
    """Ask ``question`` unless ``yes``; no (or no answer, as in a script) exits 1 with ``hint``."""
    if yes:
        return
    try:
        confirmed = click.confirm(question, default=False, err=True)
    except click.Abort:
        confirmed = False
    if not confirmed:
        click.echo(f"Nothing done: {hint}", err=True)
        sys.exit(1)
