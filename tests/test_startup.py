"""Start-up: a command imports what it needs and nothing else.

Each test runs ``kestra-git`` in a fresh interpreter and, at exit, reads ``sys.modules``: an
assertion on the set of modules loaded (not on a timing, which the machine would make noisy).
The heavy libraries a sync does not need (the Kestra API client, the terminal display, the
server, jq, cryptography for ``trustedCaPemPath``, the globs of a push), the modules of the other
commands and tasks, and the type catalog's JSON stay out of ``kestra-git run`` of a sync flow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import MakeRemote
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from scenario import FLOWS, ROOT, kestra_git_env

from kestra_git_tasks.cli import COMMANDS, cli

# Runs the command line as `kestra-git ARGS...`; at exit, writes what was imported (and whether
# the catalog's JSON was read) to $IMPORTS_OUT.
_PROBE = """
import atexit, os, sys

pygit2_from = []

def _audit(event, args):
    # the functions on the stack when pygit2 is first imported
    if event == "import" and args[0] == "pygit2" and not pygit2_from:
        pygit2_from.extend(frame.name for frame in __import__("traceback").extract_stack())

sys.addaudithook(_audit)

def _report():
    import gc, json
    catalog = sys.modules.get("kestra_git_tasks.catalog")
    read = bool(catalog and catalog._data.cache_info().currsize)
    data = {"modules": sorted(sys.modules), "catalog_read": read}
    data["frozen"] = gc.get_freeze_count()
    data["pygit2_from"] = pygit2_from
    with open(os.environ["IMPORTS_OUT"], "w") as out:
        json.dump(data, out)

atexit.register(_report)
sys.argv = ["kestra-git", *sys.argv[1:]]
from kestra_git_tasks.cli import main
main()
"""

#: Never needed by a sync of a public HTTPS/HTTP repository into the embedded instance.
HEAVY = {"httpx", "rich", "starlette", "uvicorn", "jq", "cryptography", "wcmatch", "croniter"}
HEAVY |= {"pathspec"}  # only for a repository with a .kestraignore
#: Our modules a sync does not use: other commands, other tasks, the server, Kestra's API.
OTHERS = (
    *(f"kestra_git_tasks.cli.{m.partition(':')[0]}" for n, m in COMMANDS.items() if n != "run"),
    "kestra_git_tasks.server",
    "kestra_git_tasks.instance.kestra",
    "kestra_git_tasks.github",
    "kestra_git_tasks.schema",
    "kestra_git_tasks.docgen",
    "kestra_git_tasks.deploy",
    "kestra_git_tasks.tasks.git.push",
    "kestra_git_tasks.tasks.git.clone",
    "kestra_git_tasks.tasks.git.sync_namespace_files",
    "kestra_git_tasks.tasks.scripts",
    "kestra_git_tasks.tasks.core.working_directory",
)


#: Loaded only by what needs them, never by a sync whose one template is ``{{ secret('X') }}``:
#: Jinja2 and the Pebble engine on it (a template that is more than a secret builds it), the
#: trigger models (a flow with triggers), pydantic's input types (a flow with inputs).
LAZY = {"jinja2"}
LAZY_OURS = (
    "kestra_git_tasks.pebble.engine",
    "kestra_git_tasks.pebble.library",
    "kestra_git_tasks.pebble.translate",
    "kestra_git_tasks.pebble.dates",
    "kestra_git_tasks.triggers",
)

#: What ``--version`` may import of the package: the CLI, and ``signals`` when ``main`` exits.
LIGHT = ("cli", "signals")


def imported(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run ``kestra-git ARGS`` (home in ``tmp_path``); its exit code, stdout and imports."""
    out = tmp_path / "imported.json"
    env = kestra_git_env(tmp_path / "home", IMPORTS_OUT=str(out))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    data["returncode"], data["stdout"], data["stderr"] = done.returncode, done.stdout, done.stderr
    data["top"] = {name.partition(".")[0] for name in data["modules"]}
    return data


def ours(data: dict[str, Any], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in data["modules"] if m.startswith(prefixes)]


@pytest.fixture
def sync_flow(tmp_path: Path, remote: MakeRemote) -> Path:
    origin = remote(files=FLOWS)
    path = tmp_path / "sync.yml"
    path.write_text(
        "id: sync\nnamespace: system\ntasks:\n"
        "  - id: flows\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {origin.url}\n    username: {DEFAULT_USERNAME}\n"
        "    password: \"{{ secret('GIT_TOKEN') }}\"\n    targetNamespace: prod\n",
        encoding="utf-8",
    )
    return path


def test_running_a_sync_flow_imports_neither_heavy_libraries_nor_other_commands(
    tmp_path: Path, sync_flow: Path
) -> None:
    secret = f"GIT_TOKEN={DEFAULT_PASSWORD}"
    for step in ("first", "no-change"):
        data = imported(tmp_path, "run", str(sync_flow), "--secret", secret)
        assert data["returncode"] == 0, (step, data["stderr"])
        assert "2 row(s)" in data["stdout"]
        # what a sync needs is there: the probe saw a real run
        assert {"pydantic", "yaml", "sqlite3"} <= data["top"]
        assert "kestra_git_tasks.tasks.git.sync_flows" in data["modules"]
        assert data["top"] & HEAVY == set(), step
        assert ours(data, OTHERS) == [], step
        assert not data["catalog_read"], "the type catalog's JSON was read for known types"
        # the password's {{ secret('GIT_TOKEN') }} is rendered without Jinja2
        assert data["top"] & LAZY == set(), step
        assert ours(data, LAZY_OURS) == [], step
        if step == "first":
            # pygit2 loads when the cache fetches, not with the modules of the run (a module
            # importing it at its top would load it while the flow is parsed)
            assert "fetch_branch" in data["pygit2_from"], (step, data["pygit2_from"][-8:])
        else:
            # the branch has not moved: one GET and git/quick_head.py answer, no pygit2 at all
            assert data["pygit2_from"] == [], data["pygit2_from"][-8:]
            assert "pygit2" not in data["top"]
            # nor the O(changed) planner, the tree walker or the pack reader
            for module in ("tasks.git._sync_delta", "git.tree", "git.packfile", "git.remote"):
                assert f"kestra_git_tasks.{module}" not in data["modules"], module


def test_a_no_change_push_loads_neither_pygit2_nor_the_push_machinery(
    tmp_path: Path, remote: MakeRemote
) -> None:
    """A push whose instance and branch have not moved answers from its memory and one GET:
    no pygit2, no ``git/push.py``, no glob or ignore-file library."""
    origin = remote(files={"README.md": "pushed here\n"})
    path = tmp_path / "push.yml"
    path.write_text(
        "id: push\nnamespace: system\ntasks:\n"
        "  - id: flows\n    type: io.kestra.plugin.git.PushFlows\n"
        f"    url: {origin.url}\n    username: {DEFAULT_USERNAME}\n"
        "    password: \"{{ secret('GIT_TOKEN') }}\"\n    sourceNamespace: system\n"
        "    branch: main\n    gitDirectory: _flows\n    commitMessage: pushed\n",
        encoding="utf-8",
    )
    secret = f"GIT_TOKEN={DEFAULT_PASSWORD}"
    # the first push, then one that records the cache's proxy verdict, then the quick one
    for step in ("first", "no-change", "no-change again"):
        data = imported(tmp_path, "run", str(path), "--secret", secret)
        assert data["returncode"] == 0, (step, data["stderr"])
    assert "pygit2" not in data["top"], data["pygit2_from"][-8:]
    assert data["top"] & HEAVY == set()
    for module in ("kestra_git_tasks.git.push", "kestra_git_tasks.tasks.git._push_submodules"):
        assert module not in data["modules"]
    assert "kestra_git_tasks.tasks.git.push_flows" in data["modules"]


def test_validating_a_git_task_flow_loads_no_pygit2(tmp_path: Path, sync_flow: Path) -> None:
    """The Git layer's modules import pygit2 only where they use it: checking a SyncFlows flow
    (its task class, connection properties, transport options) needs none of it."""
    data = imported(tmp_path, "validate", str(sync_flow))
    assert data["returncode"] == 0, data["stderr"]
    assert "kestra_git_tasks.tasks.git.sync_flows" in data["modules"]
    assert data["top"] & {"pygit2", *LAZY, *HEAVY} == set()
    assert data["pygit2_from"] == []


def test_a_template_beyond_a_secret_loads_jinja2_and_a_trigger_the_trigger_models(
    tmp_path: Path, sync_flow: Path
) -> None:
    """The other side of the lazy engine: the same sync with its target namespace written as a
    template (and a trigger) renders through Jinja2, as before."""
    text = sync_flow.read_text(encoding="utf-8").replace(
        "targetNamespace: prod",
        "targetNamespace: \"{{ flow.namespace | replace({'system': 'prod'}) }}\"",
    )
    text += "triggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n"
    text += "    cron: 0 2 * * *\n"
    sync_flow.write_text(text, encoding="utf-8")
    data = imported(tmp_path, "run", str(sync_flow), "--secret", f"GIT_TOKEN={DEFAULT_PASSWORD}")
    assert data["returncode"] == 0, data["stderr"]
    assert "2 row(s)" in data["stdout"]
    assert "jinja2" in data["top"]
    assert {"kestra_git_tasks.pebble.engine", "kestra_git_tasks.triggers"} <= set(data["modules"])


def test_version_and_help_import_no_library_module(tmp_path: Path) -> None:
    version = imported(tmp_path, "--version")
    assert version["returncode"] == 0 and version["stdout"].startswith("kestra-git, version ")
    # the package, its command line and the SIGTERM check at exit: no command module
    assert set(ours(version, ("kestra_git_tasks.",))) <= {f"kestra_git_tasks.{m}" for m in LIGHT}
    helped = imported(tmp_path, "--help")
    assert helped["returncode"] == 0 and "validate" in helped["stdout"]
    for data in (version, helped):
        assert data["top"] & {"pydantic", "pygit2", "jinja2", "yaml", *HEAVY} == set()


def test_the_command_line_freezes_its_objects_on_the_way_out(
    tmp_path: Path, sync_flow: Path
) -> None:
    """``main`` ends with ``gc.freeze()``: the interpreter's last collections skip the heap
    (tens of milliseconds after a big sync); atexit handlers, like the probe's, still run."""
    data = imported(tmp_path, "run", str(sync_flow), "--secret", f"GIT_TOKEN={DEFAULT_PASSWORD}")
    assert data["returncode"] == 0, data["stderr"]
    assert data["frozen"] > 10_000
    failed = imported(tmp_path, "run", str(tmp_path / "missing.yml"))
    assert failed["returncode"] == 1 and failed["frozen"] > 0


def test_validating_a_log_flow_imports_no_git_and_no_catalog(tmp_path: Path) -> None:
    flow = tmp_path / "hello.yml"
    flow.write_text(str(FLOWS["_flows/hello.yml"]), encoding="utf-8")
    data = imported(tmp_path, "validate", str(flow))
    assert data["returncode"] == 0, data["stderr"]
    assert "kestra_git_tasks.tasks.core.log" in data["modules"]
    assert data["top"] & {"pygit2", *HEAVY} == set()
    assert ours(data, ("kestra_git_tasks.cli.run", "kestra_git_tasks.tasks.git.")) == []
    assert not data["catalog_read"]


def test_an_unknown_kestra_type_reads_the_catalog(tmp_path: Path) -> None:
    """The other side of the lazy catalog: a type the registry does not run is judged by it."""
    flow = tmp_path / "s3.yml"
    flow.write_text(
        "id: s3\nnamespace: prod\ntasks:\n  - id: up\n    type: io.kestra.plugin.aws.s3.Upload\n",
        encoding="utf-8",
    )
    data = imported(tmp_path, "validate", str(flow))
    assert data["returncode"] == 0, data["stderr"]
    assert data["catalog_read"]


def test_every_command_is_named_in_the_lazy_map_under_its_own_name() -> None:
    """``COMMANDS`` is the list ``kestra-git`` loads from: each entry is the command of that
    name, and each command module of ``cli/`` is in it (a new command cannot be forgotten)."""
    ctx = click.Context(cli)
    for name, location in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, location
    modules = {p.stem for p in (ROOT / "kestra_git_tasks" / "cli").glob("*.py")}
    commands = {m for m in modules if not m.startswith("_")}
    assert commands == {location.partition(":")[0] for location in COMMANDS.values()}
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    assert cli.get_command(ctx, "no-such-command") is None


def test_the_registry_names_every_task_class_the_task_modules_declare() -> None:
    """The registry's static map (type -> ``module:Class``, imported on first use) cannot miss
    a task: every class under ``tasks/`` declaring its own ``type`` is registered, in the module
    the map names."""
    import importlib
    import pkgutil

    from kestra_git_tasks import tasks
    from kestra_git_tasks.tasks._base import Task
    from kestra_git_tasks.tasks.registry import TASK_CLASSES

    declared = set()
    for info in pkgutil.walk_packages(tasks.__path__, f"{tasks.__name__}."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, Task)):
                continue
            if "type" in vars(value) and value.__module__ == module.__name__ and value.type:
                declared.add(value)
    assert len(declared) >= 29
    assert declared == set(TASK_CLASSES)
