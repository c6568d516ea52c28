"""Masking a whole output tree (what the runner stores) gives what masking each string gives.

``SecretMasker.mask_tree`` skips the walk when one search of the tree's JSON text shows that no
secret form is anywhere in it; these tests hold it to the plain walk on the cases where JSON
text and strings differ: escapes next to a short secret, quotes and backslashes in a secret,
keys, non-string scalars.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from kestra_git_tasks.secrets import SecretMasker


def walked(value: Any, masker: SecretMasker) -> Any:
    """The reference: every string masked, keys kept."""
    if isinstance(value, dict):
        return {key: walked(item, masker) for key, item in value.items()}
    if isinstance(value, list):
        return [walked(item, masker) for item in value]
    return masker.mask(value) if isinstance(value, str) else value


SECRETS = [
    "s3cr3t-t0ken-value",  # long: masked anywhere
    "pw",  # short: masked where it stands alone
    'quo"te-secret',  # JSON writes it with an escape
    "back\\slash-secret",
    "multi\nline\nsecret-key",
    "ünïcode-sécret",
]
STRINGS = [
    "plain text",
    "token s3cr3t-t0ken-value here",
    "x\npw",  # after an escaped character: the JSON text has `\\npw`
    "pw\ty",
    "pw",
    "apple pwd",
    'say "quo"te-secret"',
    "c:\\back\\slash-secret",
    "line\nsecret-key",
    "ünïcode-sécret!",
    "",
]


def trees() -> list[Any]:
    stamp = datetime(2024, 1, 31, tzinfo=UTC)
    found: list[Any] = []
    for text in STRINGS:
        found.append({"flows": [{"gitPath": text, "revision": 1, "ok": True}], "n": None})
        found.append({text: "key only", "list": [text, 3.5, stamp]})
    return found


@pytest.mark.parametrize(
    "secrets", [list(c) for n in (1, 2) for c in itertools.combinations(SECRETS, n)]
)
def test_masking_a_tree_equals_masking_each_of_its_strings(secrets: list[str]) -> None:
    masker = SecretMasker()
    for secret in secrets:
        masker.add(secret)
    for tree in trees():
        assert masker.mask_tree(tree) == walked(tree, masker), (secrets, tree)


def test_a_tree_holding_no_secret_is_returned_without_a_walk() -> None:
    masker = SecretMasker()
    masker.add("s3cr3t-t0ken-value")
    rows = [{"gitPath": f"_flows/f{i}.yml", "syncState": "ADDED"} for i in range(1000)]
    outputs = {"flows": {"flows": rows}}
    assert masker.mask_tree(outputs) is outputs
    leaked = {"flows": {"flows": [*rows, {"gitPath": "s3cr3t-t0ken-value.yml"}]}}
    masked = masker.mask_tree(leaked)
    assert masked["flows"]["flows"][-1] == {"gitPath": "******.yml"}
    assert leaked["flows"]["flows"][-1] == {"gitPath": "s3cr3t-t0ken-value.yml"}  # untouched


def test_a_tree_json_cannot_write_is_still_walked() -> None:
    masker = SecretMasker()
    masker.add("s3cr3t-t0ken-value")
    tree = {("tuple", "key"): "s3cr3t-t0ken-value"}  # json.dumps refuses tuple keys
    assert masker.mask_tree(tree) == {("tuple", "key"): "******"}
