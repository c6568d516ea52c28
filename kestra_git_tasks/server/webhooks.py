"""Kestra's webhook trigger: which trigger a key opens, GitHub's signature, ``trigger.*``.

The rules (``shared/reference/kestra-core.md`` §2.5, §5.2): the first enabled Webhook trigger of
the flow whose ``key``, rendered with templates (``{{ secret('WEBHOOK_KEY') }}``) and trimmed,
equals the URL's key opens it; the comparison takes constant time. A key that cannot be rendered
(a missing secret) is skipped. Beyond Kestra: when the secret named by
``ServerConfig.github_secret_name`` exists, a request carrying ``X-Hub-Signature-256`` must carry
GitHub's HMAC-SHA256 of its exact body, or it is refused.

Keys are rendered on the event loop, for every request: they share one
:class:`~kestra_git_tasks.templating.Renderer`, which compiles each key template once (compiling
cost ~1 ms a request, more than the rest of the accept path). Only the compiled template is kept:
the key is rendered from the current secrets each time, so a rotated secret applies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any

from ..context import FlowInfo, RunContext
from ..errors import KestraGitError, SecretNotFoundError
from ..templating import Renderer
from ..triggers import Webhook
from .catalog import FlowEntry
from .config import ServerConfig

__all__ = ["github_signature_ok", "match_webhook", "trigger_variables", "webhook_trigger"]

_log = logging.getLogger(__name__)
#: Request headers never copied into ``trigger.headers`` (they are credentials).
_PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
#: Distinct key templates compiled before the shared renderer is replaced (bounds its cache).
_MAX_TEMPLATES = 1024


class _KeyRenderer:
    """The renderer the keys share (event loop only); renewed past ``_MAX_TEMPLATES`` keys."""

    def __init__(self) -> None:
        self.renderer = Renderer()
        self.seen: set[str] = set()

    def get(self, templates: Iterable[str]) -> Renderer:
        self.seen.update(templates)
        if len(self.seen) > _MAX_TEMPLATES:
            self.renderer, self.seen = Renderer(), set(templates)
        return self.renderer


_keys = _KeyRenderer()


def match_webhook(entry: FlowEntry, key: str, config: ServerConfig) -> tuple[str, Webhook] | None:
    """The (trigger id, trigger) of ``entry`` that ``key`` opens, or None."""
    if entry.flow is None or not entry.webhooks:
        return None
    ctx = RunContext(
        flow=FlowInfo(entry.id, entry.namespace, entry.revision),
        instance=None,
        home=config.home,
        secrets=config.secret_store(),
        environ=dict(config.environ),
        renderer=_keys.get(hook.key for _, hook in entry.webhooks),
    )
    given = key.encode("utf-8", "surrogatepass")
    found: tuple[str, Webhook] | None = None
    for trigger_id, hook in entry.webhooks:
        try:
            rendered = str(ctx.render(hook.key, where=f"triggers.{trigger_id}.key")).strip()
        except KestraGitError as exc:
            _log.warning(
                "webhook %s of %s: key not rendered, skipped: %s",
                trigger_id,
                entry.uid,
                ctx.mask(str(exc)),
            )
            continue
        if hmac.compare_digest(rendered.encode("utf-8", "surrogatepass"), given) and found is None:
            found = (trigger_id, hook)
    return found


def github_signature_ok(config: ServerConfig, signature: str | None, body: bytes) -> bool:
    """False only when GitHub's secret is set and ``signature`` (``sha256=<hex>``, the
    ``X-Hub-Signature-256`` header) is present but is not the HMAC of ``body``."""
    if signature is None:
        return True
    try:
        secret = config.secret_store().get(config.github_secret_name)
    except SecretNotFoundError:
        return True
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


def _multi(pairs: Iterable[tuple[str, str]], lower: bool) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name.lower() if lower else name, []).append(value)
    return result


def trigger_variables(
    body: bytes, headers: Iterable[tuple[str, str]], parameters: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """``trigger.body`` (parsed JSON object or array, else the text), ``trigger.headers`` and
    ``trigger.parameters`` (maps of lists), as Kestra gives them."""
    text = body.decode("utf-8", "replace")
    parsed: Any = text
    if text.strip():
        try:
            candidate = json.loads(text)
        except ValueError:
            candidate = None
        if isinstance(candidate, dict | list):
            parsed = candidate
    safe_headers = [(k, v) for k, v in headers if k.lower() not in _PRIVATE_HEADERS]
    return {
        "body": parsed if text else None,
        "headers": _multi(safe_headers, lower=True),
        "parameters": _multi(parameters, lower=False),
    }


def webhook_trigger(trigger_id: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The ``trigger`` recorded with the execution, in Kestra's shape."""
    return {"id": trigger_id, "type": Webhook.type, "variables": variables}
