"""``kestra-git kv``: read and write the key-value store that ``kv()`` reads in templates.

They work on the embedded instance, or on a Kestra server with ``--server`` (Kestra's KV API).
``get`` and ``list`` only read; ``set`` stores a string, or any JSON value with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ConfigError
from ._common import (
    Server,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
)

__all__ = ["kv"]


@click.group()
def kv() -> None:
    """Read and write the key-value store of a namespace (the kv() template function)."""


@kv.command("get")
@click.argument("namespace")
@click.argument("key")
@home_option
@server_options
@json_option
@handle_errors
def kv_get(namespace: str, key: str, home: Path | None, server: Server, as_json: bool) -> None:
    """Print the value of KEY in NAMESPACE (JSON for anything but a string; --json: always).

    Example: kestra-git kv get prod last_run
    """
    from ..instance.kv import kv_store, missing_key

    with open_store(home, server, read_only=True) as instance:
        value = kv_store(instance).kv_get(namespace, key)
    if value is None:
        raise missing_key(namespace, key)
    if as_json:
        print_json({"namespace": namespace, "key": key, "value": value})
        return
    click.echo(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


@kv.command("set")
@click.argument("namespace")
@click.argument("key")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="VALUE is JSON (a number, a list...).")
@home_option
@server_options
@handle_errors
def kv_set(
    namespace: str, key: str, value: str, as_json: bool, home: Path | None, server: Server
) -> None:
    """Set KEY in NAMESPACE to VALUE.

    Example: kestra-git kv set prod retries 3 --json
    """
    from ..instance.kv import kv_store

    stored: object = value
    if as_json:
        try:
            stored = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"kv set {key}: --json value is not JSON ({exc.msg})") from exc
    with open_store(home, server) as instance:
        kv_store(instance).kv_set(namespace, key, stored)
    click.echo(f"Set {key} in {namespace}.")


@kv.command("list")
@click.argument("namespace")
@home_option
@server_options
@json_option
@handle_errors
def kv_list(namespace: str, home: Path | None, server: Server, as_json: bool) -> None:
    """List the keys of NAMESPACE.

    Example: kestra-git kv list prod
    """
    from ..instance.kv import kv_store

    with open_store(home, server, read_only=True) as instance:
        keys = kv_store(instance).kv_list(namespace)
    if as_json:
        print_json(keys)
        return
    for key in keys:
        click.echo(key)
    if not keys:
        click.echo(f"No keys in {namespace}.")


@kv.command("delete")
@click.argument("namespace")
@click.argument("key")
@home_option
@server_options
@json_option
@handle_errors
def kv_delete(namespace: str, key: str, home: Path | None, server: Server, as_json: bool) -> None:
    """Delete KEY from NAMESPACE.

    Example: kestra-git kv delete prod last_run
    """
    from ..instance.kv import kv_store, missing_key

    with open_store(home, server) as instance:
        if not kv_store(instance).kv_delete(namespace, key):
            raise missing_key(namespace, key)
    if as_json:
        print_json({"namespace": namespace, "key": key, "deleted": True})
        return
    click.echo(f"Deleted {key} from {namespace}.")
