"""Webhook keys rendered with templates: compiled once, rendered from the current secrets.

The keys of every flow share one renderer (``server/webhooks.py``), which keeps compiled
templates only: a rotated secret, a redeployed key and many distinct keys all behave as if each
request rendered its key afresh, and a hostile key template opens nothing and breaks nothing.
"""

from __future__ import annotations

from pathlib import Path

from kestra_git_tasks.instance.local import LocalInstance
from kestra_git_tasks.server.catalog import FlowCatalog, FlowEntry
from kestra_git_tasks.server.config import ServerConfig
from kestra_git_tasks.server.webhooks import match_webhook


def _flow(flow_id: str, key: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: company.keys\ntasks:\n  - id: say\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n"
        f"  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: {key}\n"
    )


def _entries(home: Path, *sources: str) -> dict[str, FlowEntry]:
    catalog = FlowCatalog()
    with LocalInstance(home) as instance:
        with instance.batch():
            for source in sources:
                instance.put_flow(source)
        catalog.refresh(instance)
    return {entry.id: entry for entry in catalog.entries()}


def test_a_rotated_secret_applies_to_the_next_request(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("WEBHOOK_KEY: first-key-0001\n")
    config = ServerConfig(home=tmp_path / "home", environ={}, secrets_file=secrets)
    entry = _entries(config.home, _flow("rotated", "\"{{ secret('WEBHOOK_KEY') }}\""))["rotated"]
    assert match_webhook(entry, "first-key-0001", config) is not None
    secrets.write_text("WEBHOOK_KEY: second-key-0002\n")
    assert match_webhook(entry, "first-key-0001", config) is None
    assert match_webhook(entry, "second-key-0002", config) is not None


def test_a_redeployed_key_template_replaces_the_old_one(tmp_path: Path) -> None:
    config = ServerConfig(home=tmp_path / "home", environ={})
    old = _entries(config.home, _flow("moved", "\"{{ 'old' ~ '-key-1' }}\""))["moved"]
    assert match_webhook(old, "old-key-1", config) is not None
    new = _entries(config.home, _flow("moved", "\"{{ 'new' ~ '-key-2' }}\""))["moved"]
    assert new.revision > old.revision
    assert match_webhook(new, "old-key-1", config) is None
    assert match_webhook(new, "new-key-2", config) is not None


def test_more_key_templates_than_the_renderer_keeps_all_still_match(tmp_path: Path) -> None:
    config = ServerConfig(home=tmp_path / "home", environ={})
    count = 1100  # past the shared renderer's bound: it is renewed on the way
    sources = [_flow(f"many_{n}", f"\"{{{{ 'key-' ~ {n} }}}}\"") for n in range(count)]
    entries = _entries(config.home, *sources)
    for n in range(count):
        assert match_webhook(entries[f"many_{n}"], f"key-{n}", config) is not None
    assert match_webhook(entries["many_0"], "key-1", config) is None


def test_a_hostile_key_template_opens_nothing_and_spoils_no_other_key(tmp_path: Path) -> None:
    config = ServerConfig(home=tmp_path / "home", environ={"SECRET_K": "a2V5LW9rLTk5"})
    entries = _entries(
        config.home,
        _flow("hostile", "\"{{ ''.__class__.__mro__[1].__subclasses__() }}\""),
        _flow("good", "\"{{ secret('K') }}\""),
    )
    for given in ("", "[]", "{{ ''.__class__ }}", "key-ok-99"):
        assert match_webhook(entries["hostile"], given, config) is None
    assert match_webhook(entries["good"], "key-ok-99", config) is not None
    assert match_webhook(entries["good"], "{{ secret('K') }}", config) is None
