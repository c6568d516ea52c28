"""The masking rule: secrets never leak, yet short secrets do not garble unrelated log text.

A secret is masked as its whole value and, when multi-line, as each of its lines. Forms of at
least MIN_FREE_LENGTH characters are masked wherever they occur; shorter ones only where they
stand alone (docs/templating.md, "How secrets are masked").
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.instance.base import ExecutionRecord
from kestra_git_tasks.secrets import MASK, MIN_FREE_LENGTH, SecretMasker

# A PEM whose lines include short ones: the armour, a 2-character base64 tail, a lone "=".
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBvLzVw\n"
    "Zk==\n"
    "=\n"
    "-----\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
SHELL = "io.kestra.plugin.scripts.shell.Commands"


def pem_lines() -> list[str]:
    return [line for line in PEM.splitlines() if line.strip()]


# -- edge (a): a multi-line secret never shows, whole or line by line --------------------------


def test_every_line_of_a_multiline_secret_is_masked_even_short_ones() -> None:
    masker = SecretMasker()
    masker.add(PEM)
    assert masker.mask(PEM) == MASK
    for line in pem_lines():
        assert masker.mask(line) == MASK, line
        assert masker.mask(f"  {line}  ") == f"  {MASK}  ", line
        assert line not in masker.mask(f"key line: {line}")


def test_a_multiline_secret_printed_by_a_command_leaves_no_line_in_logs_nor_database(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""id: pem
namespace: company.team
tasks:
  - id: show
    type: {SHELL}
    env:
      KEY: "{{{{ secret('SSH_KEY') }}}}"
    commands:
      - printf '%s' "$KEY"
      - printf '%s' "$KEY" >&2
      - echo '::{{"outputs":{{"first":"'"$(printf '%s' "$KEY" | head -n 1)"'"}}}}::'
"""
    )
    home = tmp_path / "home"
    execution = run_flow(flow, secrets={"SSH_KEY": PEM}, home=home)
    assert execution.state == "SUCCESS", execution.error
    messages = [log.message for log in execution.logs]
    assert messages.count(MASK) == 2 * len(pem_lines())
    assert_nowhere(pem_lines(), execution, home)


def assert_nowhere(forms: list[str], execution: ExecutionRecord, home: Path) -> None:
    """None of ``forms`` is in the execution (logs, outputs, inputs, error), its --json view, or
    any text column of the embedded database."""
    shown = json.dumps(execution.to_dict()) + json.dumps([log.message for log in execution.logs])
    with LocalInstance(home) as instance:
        stored = instance.get_execution(execution.id)
    stored_text = json.dumps(stored.to_dict()) + json.dumps([log.message for log in stored.logs])
    with sqlite3.connect(home / "instance.db") as db:
        rows = db.execute("SELECT * FROM executions").fetchall()
        rows += db.execute("SELECT * FROM execution_logs").fetchall()
    database = json.dumps(rows, default=str)
    for form in forms:
        for where, text in (("record", shown), ("stored", stored_text), ("db", database)):
            # json.dumps escapes nothing in these forms but "\n" (multi-line forms only)
            assert json.dumps(form)[1:-1] not in text, (where, form)


# -- edge (b): a short secret does not garble unrelated text -----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password: p", f"password: {MASK}"),
        ("p", MASK),
        ("user=p&x=1", f"user={MASK}&x=1"),
        ("apple pie, unzip happily", "apple pie, unzip happily"),
        ("p1 and 1p and p_", "p1 and 1p and p_"),
    ],
)
def test_a_one_character_secret_is_masked_only_where_it_stands_alone(
    text: str, expected: str
) -> None:
    masker = SecretMasker()
    masker.add("p")
    assert masker.mask(text) == expected


def test_a_short_secret_inside_a_longer_word_is_left_alone_but_a_long_one_is_not() -> None:
    masker = SecretMasker()
    masker.add("admin")
    masker.add("x" * MIN_FREE_LENGTH)
    assert masker.mask("administrator admin") == f"administrator {MASK}"
    assert masker.mask("y" + "x" * MIN_FREE_LENGTH + "y") == f"y{MASK}y"


def test_a_short_symbol_secret_does_not_eat_masks_or_longer_runs() -> None:
    masker = SecretMasker()
    masker.add("*")
    masker.add("==")
    masker.add("long-secret-value")
    assert masker.mask("a long-secret-value b") == f"a {MASK} b"
    assert masker.mask("x === y, a == b, a==b") == f"x === y, a {MASK} b, a{MASK}b"
    assert masker.mask("2 * 3") == f"2 {MASK} 3"


def test_masking_a_long_secret_first_then_a_short_one_overlapping_it() -> None:
    masker = SecretMasker()
    masker.add("ab")
    masker.add("b cdefghij")
    assert masker.mask("ab cdefghij") == f"a{MASK}"


def test_blank_values_and_lines_are_never_masked() -> None:
    masker = SecretMasker()
    masker.add("   ")
    masker.add("\n\n")
    assert not masker
    assert masker.mask("a b\n") == "a b\n"


# -- SECRET inputs are secrets -----------------------------------------------------------------


def test_secret_inputs_are_masked_in_logs_outputs_inputs_and_database(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""id: secret_input
namespace: company.team
inputs:
  - id: token
    type: SECRET
  - id: key
    type: SECRET
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "token is {{{{ inputs.token }}}}"
  - id: show
    type: {SHELL}
    env:
      KEY: "{{{{ inputs.key }}}}"
    commands:
      - echo "$KEY"
      - echo '::{{"outputs":{{"token":"{{{{ inputs.token }}}}"}}}}::'
"""
    )
    home = tmp_path / "home"
    token = "in-put-t0ken-value"
    execution = run_flow(flow, inputs={"token": token, "key": PEM}, home=home)
    assert execution.state == "SUCCESS", execution.error
    assert execution.inputs == {"token": MASK, "key": MASK}
    assert execution.outputs["show"]["vars"] == {"token": MASK}
    assert f"token is {MASK}" in [log.message for log in execution.logs]
    assert_nowhere([token, *pem_lines()], execution, home)


def test_a_secret_input_renders_in_clear_for_the_tasks(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""id: secret_input_used
namespace: company.team
inputs:
  - id: token
    type: SECRET
tasks:
  - id: check
    type: {SHELL}
    env:
      TOKEN: "{{{{ inputs.token }}}}"
    commands:
      - test "$TOKEN" = "clear-text-token"
"""
    )
    execution = run_flow(flow, inputs={"token": "clear-text-token"}, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error


# -- credentials written in a URL --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:pa%2Fss-word@host/repo.git", "pa/ss-word"),
        ("https://user:pa%2Fss-word@host/repo.git", "pa%2Fss-word"),
        ("https://ghp_0123456789abcdef@github.com/org/repo.git", "ghp_0123456789abcdef"),
        ("https://host/repo.git?token=qu3ry-t0ken", "qu3ry-t0ken"),
        ("https://host/repo.git?private_token=abc", "abc"),
        ("http://user:s3cr3t-token@[127.0.0.1/repo", "s3cr3t-token"),
    ],
)
def test_credentials_written_in_a_url_are_masked(url: str, secret: str) -> None:
    masker = SecretMasker()
    masker.add_url_credentials(url)
    assert masker.mask(f"cloning {url}: {secret}") == f"cloning {masker.mask(url)}: {MASK}"
    assert secret not in masker.mask(url)


def test_plain_url_parts_are_not_taken_for_credentials() -> None:
    masker = SecretMasker()
    masker.add_url_credentials("https://git@github.com/org/repo.git?depth=1&ref=main")
    text = "git fetched 1 ref of main from github.com"
    assert masker.mask(text) == text
