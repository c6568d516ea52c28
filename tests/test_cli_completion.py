"""Shell completion: `kestra-git completion bash|zsh|fish` prints click's script, and flow names
(NAMESPACE/ID) complete from the instance the command would open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.local import LocalInstance

ROOT = Path(__file__).resolve().parent.parent
LOG = "io.kestra.plugin.core.log.Log"


def kestra_git(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kestra_git_tasks", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )


def complete(line: str, home: Path, *, extra_env: dict[str, str] | None = None) -> list[str]:
    """What bash would offer for ``line`` (click's bash protocol: ``type,value`` lines)."""
    words = line.split(" ")
    env = {
        "_KESTRA_GIT_COMPLETE": "bash_complete",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
        "KESTRA_GIT_HOME": str(home),
        **(extra_env or {}),
    }
    result = kestra_git(env=env)
    assert result.returncode == 0, result.stderr
    return [item.split(",", 1)[1] for item in result.stdout.splitlines() if item]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        for namespace, flow_id in (("dev", "hello"), ("dev.team", "etl"), ("prod", "hello")):
            instance.put_flow(
                f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: a\n    type: {LOG}\n"
                "    message: hi\n"
            )
    return home


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_command_prints_the_script(shell: str, tmp_path: Path) -> None:
    result = kestra_git("completion", shell, env={"KESTRA_GIT_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    assert "_KESTRA_GIT_COMPLETE" in result.stdout and f"{shell}_complete" in result.stdout
    assert not (tmp_path / "h").exists()


def test_an_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    result = kestra_git("completion", "powershell", env={"KESTRA_GIT_HOME": str(tmp_path)})
    assert result.returncode == 2 and "'powershell' is not one of" in result.stderr


def test_flow_names_complete_from_the_instance(home: Path) -> None:
    assert complete("kestra-git flows show d", home) == ["dev.team/etl", "dev/hello"]
    assert complete("kestra-git flows revisions prod/", home) == ["prod/hello"]
    assert complete("kestra-git executions list --flow dev/", home) == ["dev/hello"]


def test_commands_complete(home: Path) -> None:
    offered = complete("kestra-git flows re", home)
    assert offered == ["restore", "revisions"]


def test_a_home_given_on_the_line_is_the_one_read(home: Path, tmp_path: Path) -> None:
    line = f"kestra-git flows show --home {home} p"
    assert complete(line, tmp_path / "elsewhere") == ["prod/hello"]


def test_no_instance_completes_nothing_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "home"
    assert complete("kestra-git flows show d", missing) == []
    assert not (tmp_path / "no").exists()


def test_an_unreachable_server_completes_nothing(home: Path) -> None:
    env = {"KESTRA_URL": "http://127.0.0.1:9", "KESTRA_USERNAME": "u", "KESTRA_PASSWORD": "p"}
    assert complete("kestra-git flows show d", home, extra_env=env) == []
