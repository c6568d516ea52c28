"""secret() lookup order, Kestra's base64 convention, and masking."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kestra_git_tasks.errors import ConfigError, SecretNotFoundError
from kestra_git_tasks.secrets import MASK, SecretMasker, SecretStore, env_variables


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_explicit_secrets_come_first() -> None:
    store = SecretStore({"TOKEN": "explicit"}, environ={"SECRET_TOKEN": b64("from-env")})
    assert store.get("TOKEN") == "explicit"


def test_environment_secret_is_base64_and_name_upper_cased() -> None:
    store = SecretStore(environ={"SECRET_MY_PASS": b64("p4ss\nword")})
    assert store.get("my_pass") == "p4ss\nword"


def test_environment_secret_with_line_breaks_in_base64() -> None:
    encoded = b64("a-rather-long-secret-value-" * 4)
    wrapped = "\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
    assert SecretStore(environ={"SECRET_LONG": wrapped}).get("LONG").startswith("a-rather")


def test_invalid_base64_says_how_to_encode() -> None:
    store = SecretStore(environ={"SECRET_BAD": "not base64!!"})
    with pytest.raises(ConfigError, match="make sure it is Base64-encoded"):
        store.get("BAD")


def test_secrets_file_is_the_last_source(tmp_path: Path) -> None:
    file = tmp_path / "secrets.yml"
    file.write_text("TOKEN: from-file\nother: lower\n")
    store = SecretStore(environ={"SECRET_TOKEN": b64("from-env")}, secrets_file=file)
    assert store.get("TOKEN") == "from-env"
    assert store.get("OTHER") == "lower"


def test_secrets_file_from_environment_variable(tmp_path: Path) -> None:
    file = tmp_path / "secrets.yml"
    file.write_text("TOKEN: from-file\n")
    store = SecretStore(environ={"KESTRA_GIT_SECRETS_FILE": str(file)})
    assert store.get("token") == "from-file"


def test_bad_secrets_file_does_not_echo_its_content(tmp_path: Path) -> None:
    file = tmp_path / "secrets.yml"
    file.write_text("TOKEN: [hunter2-secret\n")
    with pytest.raises(ConfigError) as caught:
        SecretStore(secrets_file=file, environ={}).get("TOKEN")
    assert "hunter2" not in str(caught.value)


def test_a_rewritten_secrets_file_is_read_again(tmp_path: Path) -> None:
    """The file's parse is kept between stores (the server builds one per request) only while
    the file is the same: a rotated secret applies to the next store."""
    file = tmp_path / "secrets.yml"
    file.write_text("TOKEN: first\n", encoding="utf-8")
    assert SecretStore(secrets_file=file, environ={}).get("TOKEN") == "first"
    assert SecretStore(secrets_file=file, environ={}).get("token") == "first"
    file.write_text("TOKEN: second-value\nOTHER: x\n", encoding="utf-8")
    assert SecretStore(secrets_file=file, environ={}).get("TOKEN") == "second-value"
    file.unlink()
    with pytest.raises(ConfigError, match="Cannot read the secrets file"):
        SecretStore(secrets_file=file, environ={}).get("TOKEN")


def test_a_store_cannot_change_what_the_next_one_reads(tmp_path: Path) -> None:
    file = tmp_path / "secrets.yml"
    file.write_text("TOKEN: kept\n", encoding="utf-8")
    first = SecretStore(secrets_file=file, environ={})
    first._from_file()["TOKEN"] = "tampered"
    assert SecretStore(secrets_file=file, environ={}).get("TOKEN") == "kept"


def test_missing_secret_has_kestras_text_and_the_fix() -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        SecretStore(environ={}).get("GITHUB_ACCESS_TOKEN")
    message = str(caught.value)
    assert message.startswith("Cannot find secret for key 'GITHUB_ACCESS_TOKEN'.")
    assert "--secret GITHUB_ACCESS_TOKEN=VALUE" in message
    assert "SECRET_GITHUB_ACCESS_TOKEN" in message


def test_values_handed_out_are_masked() -> None:
    store = SecretStore(environ={"SECRET_X": b64("s3cr3t-value")})
    assert store.masker.mask("x=s3cr3t-value") == "x=s3cr3t-value"  # not handed out yet
    store.get("X")
    assert store.masker.mask("x=s3cr3t-value!") == f"x={MASK}!"


def test_masker_masks_longest_first_and_lines_of_multiline_secrets() -> None:
    masker = SecretMasker()
    masker.add("abc")
    masker.add("abcdef")
    masker.add("-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----")
    assert masker.mask("abcdef abc") == f"{MASK} {MASK}"
    assert masker.mask("line: MIIEvQIBADANBgkq") == f"line: {MASK}"


def test_env_variables_are_lower_cased_without_prefix() -> None:
    assert env_variables({"ENV_MY_VAR": "1", "OTHER": "2", "ENV_": "3"}) == {"my_var": "1"}
