"""plugin-git's own @Example flows (tests/data/upstream_examples/, verbatim) RUN against the test
git server, unchanged except the repository URL (and a Kestra server's `kestraUrl`, pointed at
the fake Kestra API), with their secrets supplied; each test asserts the example's real effect.

Every example either runs here (:data:`RUN`) or is listed in :data:`NOT_RUN` with the reason;
``test_every_example_is_run_or_listed_with_a_reason`` keeps the two covering exactly the files,
so a new upstream example cannot be skipped silently. One git server per user name the
examples log in with (a module's worth of servers, started on first use).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pygit2
import pytest
from fakekestra import FakeKestra
from gitserver import BareRemote, GitHttpServer
from sshd import SshServer, keygen

from kestra_git_tasks import run_flow
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import ExecutionRecord, LogRecord
from kestra_git_tasks.instance.kestra import KestraInstance
from kestra_git_tasks.instance.local import LocalInstance

EXAMPLES = Path(__file__).parent / "data" / "upstream_examples"
TOKEN = "ghp_upstream-example-token-7"
SECRETS = {"GITHUB_ACCESS_TOKEN": TOKEN, "GITHUB_TOKEN": TOKEN}

#: Examples that do not run here, with the reason; every other example has a test below.
NOT_RUN: dict[str, str] = {
    "Clone_3": "its python Commands install pandas and requests from PyPI (network access) and "
    "run a script of kestra-io/examples",
    "Clone_4": "it checks out commit 98189392 of kestra-io/kestra: a commit id is the hash of "
    "its content and history, so no test repository can hold it",
    "Push_1": "its python Commands need a Docker task runner (ghcr.io/kestra-io/pydata image), "
    "which `run` refuses",
}

#: The examples with a test below (the test's name says which).
RUN = {
    "Clone_0", "Clone_1", "Clone_2", "NamespaceSync_0", "NamespaceSync_1", "PushDashboards_0",
    "PushExecutionFiles_0", "PushExecutionFiles_1", "PushFlows_0", "PushFlows_1", "PushNamespaceFiles_0", "PushNamespaceFiles_1", "Push_0",
    "SyncDashboards_0", "SyncFlow_0", "SyncFlows_0", "SyncFlows_1", "SyncNamespaceFiles_0",
    "SyncNamespaceFiles_1", "Sync_0", "TenantSync_0", "TenantSync_1",
}  # fmt: skip


def test_every_example_is_run_or_listed_with_a_reason() -> None:
    names = {path.stem for path in EXAMPLES.glob("*.yml")}
    assert len(names) == 25
    assert not RUN & NOT_RUN.keys()
    assert RUN | NOT_RUN.keys() == names
    assert len(RUN) == 22
    tests = Path(__file__).read_text().split("def test_every_example_is_run", 1)[1]
    assert [name for name in sorted(RUN) if f'"{name}"' not in tests] == []


# -- fixtures and helpers -----------------------------------------------------------------------
Servers = Callable[[str | None], GitHttpServer]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """``servers(user)``: the git server logging ``user`` in with :data:`TOKEN` (None: a
    server without authentication), started on first use and shared by the module."""
    started: dict[str | None, GitHttpServer] = {}
    root = tmp_path_factory.mktemp("upstream-examples")

    def server(user: str | None) -> GitHttpServer:
        if user not in started:
            folder = root / (user or "anonymous") / "repos"
            started[user] = GitHttpServer(folder, username=user, password=TOKEN if user else None)
        return started[user]

    yield server
    for running in started.values():
        running.close()


_repo_numbers = iter(range(1, 1_000))


def new_repo(
    server: GitHttpServer, files: Mapping[str, bytes | str], branch: str = "main"
) -> BareRemote:
    repo = BareRemote(server, f"repo-{next(_repo_numbers)}.git", branch=branch)
    repo.commit(files, "initial", branch=branch)
    return repo


def example(name: str, tmp_path: Path, replacements: dict[str, str]) -> Path:
    """The example's text with each original (which must be there) replaced; nothing else."""
    text = (EXAMPLES / f"{name}.yml").read_text()
    for original, new in replacements.items():
        assert original in text, (name, original)
        text = text.replace(original, new)
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def flow(flow_id: str, namespace: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


def dashboard(key: str) -> str:
    return (
        f"id: {key}\ntitle: {key}\ncharts:\n  - id: executions\n"
        "    type: io.kestra.plugin.core.dashboard.chart.TimeSeries\n"
    )


def run(
    path: Path, home: Path, *, flows: Any = None, secrets: dict[str, str] | None = None, **kw: Any
) -> ExecutionRecord:
    with LocalInstance(home, validator=validate_source) as local:
        execution = run_flow(
            path,
            instance=local,
            flows=flows,
            home=home,
            secrets={**SECRETS, **(secrets or {})},
            **kw,
        )
    assert execution.state == "SUCCESS", execution.error
    assert TOKEN not in json.dumps(execution.to_dict())
    for file in home.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file
    return execution


def flows_of(instance: Any, namespace: str) -> dict[str, str]:
    return {record.id: record.source for record in instance.list_flows(namespace)}


def files_of(instance: Any, namespace: str) -> dict[str, bytes]:
    return {r.path: instance.read_file(namespace, r.path) for r in instance.list_files(namespace)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- Clone ---------------------------------------------------------------------------------------
class WorkTrees:
    """A log sink reading each clone's work tree while its WorkingDirectory still exists."""

    def __init__(self) -> None:
        self.target: Path | None = None
        self.trees: list[tuple[dict[str, bytes], str, bytes]] = []

    def __call__(self, record: LogRecord) -> None:
        if record.message.startswith("Start cloning from "):
            self.target = Path(record.message.rsplit(" into ", 1)[1])
        elif record.message.startswith("Checked out") and self.target is not None:
            files = {
                str(path.relative_to(self.target)): path.read_bytes()
                for path in self.target.rglob("*")
                if path.is_file() and ".git" not in path.relative_to(self.target).parts
            }
            head = str(pygit2.Repository(str(self.target)).head.target)
            self.trees.append((files, head, (self.target / ".git" / "config").read_bytes()))


CLONED = {"README.md": "blueprints\n", "flows/hello.yml": flow("hello", "company.team")}


@pytest.mark.parametrize(("name", "user"), [("Clone_0", None), ("Clone_1", "git_username")])
def test_clone_examples_check_out_the_branch_in_the_working_directory(
    servers: Servers, tmp_path: Path, home: Path, name: str, user: str | None
) -> None:
    repo = new_repo(servers(user), CLONED)
    path = example(name, tmp_path, {"https://github.com/kestra-io/blueprints": repo.url})
    trees = WorkTrees()
    run(path, home, log_sinks=[trees])
    assert len(trees.trees) == 1
    files, head, config = trees.trees[0]
    assert files == {key: value.encode() for key, value in CLONED.items()}
    assert head == repo.head("main")
    assert TOKEN.encode() not in config


@pytest.mark.skipif(SshServer.available() is not None, reason="no sshd installed")
def test_clone_2_clones_over_ssh_with_an_encrypted_key_into_its_directory(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers(None), CLONED)
    key = keygen(tmp_path / "id_ed25519", "ed25519", passphrase="ex-phrase-42")
    with SshServer(tmp_path / "sshd") as sshd:
        sshd.authorize(Path(f"{key}.pub"))
        home.mkdir(parents=True)
        (home / "known_hosts").write_text(sshd.known_hosts_line())
        path = example(
            "Clone_2", tmp_path, {"git@github.com:kestra-io/kestra.git": sshd.url(repo.path)}
        )
        trees = WorkTrees()
        secrets = {"SSH_PRIVATE_KEY": key.read_text(), "SSH_PASSPHRASE": "ex-phrase-42"}
        execution = run(path, home, secrets=secrets, log_sinks=[trees])
    assert Path(execution.outputs["clone"]["directory"]).name == "kestra"
    files, head, _ = trees.trees[0]
    assert files == {key: value.encode() for key, value in CLONED.items()}
    assert head == repo.head("main")
    assert "ex-phrase-42" not in json.dumps(execution.to_dict())
    private = key.read_bytes().strip().splitlines()[1]  # a line of the key's body
    for file in home.rglob("*"):
        if file.is_file():
            assert private not in file.read_bytes(), file


# -- Git -> instance ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SyncFlows_1", "SyncNamespaceFiles_1"])
def test_loop_sync_examples_bring_each_namespace_from_its_folder(
    servers: Servers, tmp_path: Path, home: Path, name: str
) -> None:
    repo = new_repo(
        servers("anna-geller"),
        {
            "flows/company/a.yml": flow("a", "company"),
            "flows/company.team/b.yml": flow("b", "company.team"),
            "flows/company.analytics/c.yml": flow("c", "company.analytics"),
            "scripts/company/etl.py": "print('company')\n",
            "scripts/company.team/team.sql": "select 1;\n",
            "scripts/company.analytics/report.py": "print('analytics')\n",
        },
    )
    path = example(name, tmp_path, {"https://github.com/anna-geller/product": repo.url})
    execution = run(path, home)
    with LocalInstance(home) as instance:
        assert flows_of(instance, "company") == {"a": flow("a", "company")}
        assert flows_of(instance, "company.team") == {"b": flow("b", "company.team")}
        assert flows_of(instance, "company.analytics") == {"c": flow("c", "company.analytics")}
        assert files_of(instance, "company") == {"/etl.py": b"print('company')\n"}
        assert files_of(instance, "company.team") == {"/team.sql": b"select 1;\n"}
        assert files_of(instance, "company.analytics") == {"/report.py": b"print('analytics')\n"}
    assert set(execution.outputs["flows"]) == {"company", "company.team", "company.analytics"}


@pytest.mark.parametrize(
    ("name", "url", "files"),
    [
        ("SyncFlows_0", "https://github.com/kestra-io/flows", {"flows/hello.yml": "git"}),
        ("SyncNamespaceFiles_0", "https://github.com/kestra-io/flows", {"_files/hello.yml": "x"}),
        ("Sync_0", "https://github.com/kestra-io/scripts", {"your_git_dir/_flows/hello.yml": "t"}),
    ],
)
def test_dry_run_sync_examples_report_changes_and_change_nothing(
    servers: Servers, tmp_path: Path, home: Path, name: str, url: str, files: dict[str, str]
) -> None:
    content: dict[str, bytes | str] = {
        path: flow("hello", "git" if ns == "git" else "company.team") for path, ns in files.items()
    }
    repo = new_repo(servers("git_username"), {**content, "your_git_dir/etl.py": "print(1)\n"})
    path = example(name, tmp_path, {url: repo.url})
    namespaces = ("git", "prod", "company.team", "company.ops")
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("kept", "git"))
        instance.write_file("prod", "/kept.txt", b"kept\n")
        before = (
            {ns: flows_of(instance, ns) for ns in namespaces},
            {ns: files_of(instance, ns) for ns in namespaces},
        )
    logs: list[str] = []
    execution = run(path, home, log_sinks=[lambda record: logs.append(record.message)])
    with LocalInstance(home) as instance:
        assert before == (
            {ns: flows_of(instance, ns) for ns in namespaces},
            {ns: files_of(instance, ns) for ns in namespaces},
        )
    if name == "Sync_0":  # the deprecated Sync has no outputs: it logs its plan
        assert any(line.startswith("Dry run is enabled") for line in logs), logs
        assert any(line.startswith("+ ") and "hello" in line for line in logs), logs
    else:
        assert execution.outputs["git"], "the dry run reports what it would change"


def test_sync_dashboards_0_brings_the_dashboards_of_its_branch(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers("kestra-git-user"), {"README.md": "main\n"})
    repo.commit(
        {"_dashboards/overview.yml": dashboard("overview")}, "dashboards", branch="dashboards"
    )
    path = example(
        "SyncDashboards_0", tmp_path, {"https://github.com/my-company/my-repo": repo.url}
    )
    run(path, home)
    with LocalInstance(home) as instance:
        assert [(d.id, d.source) for d in instance.list_dashboards()] == [
            ("overview", dashboard("overview"))
        ]


def test_namespace_sync_0_makes_the_namespace_what_git_has(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(
        servers("fdelbrayelle"),
        {
            "kestra/company.ops/flows/a.yaml": flow("a", "company.ops"),
            "kestra/company.ops/files/conf/app.json": "{}\n",
            "kestra/other/flows/o.yaml": flow("o", "other"),
        },
    )
    path = example(
        "NamespaceSync_0", tmp_path, {"https://github.com/fdelbrayelle/plugin-git-qa": repo.url}
    )
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("stale", "company.ops"))
        instance.write_file("company.ops", "/stale.txt", b"x")
        instance.put_flow(flow("s", "system"))
    run(path, home)
    with LocalInstance(home) as instance:
        assert flows_of(instance, "company.ops") == {"a": flow("a", "company.ops")}
        assert files_of(instance, "company.ops") == {"/conf/app.json": b"{}\n"}
        assert flows_of(instance, "other") == {}
        assert flows_of(instance, "system") == {"s": flow("s", "system")}


def test_sync_flow_0_brings_one_flow_into_a_kestra_server(
    servers: Servers, fake_kestra: FakeKestra, tmp_path: Path, home: Path
) -> None:
    source = flow("marketing", "company.team")
    repo = new_repo(servers("my_git_username"), {"flows/marketing/flow.yml": source})
    path = example(
        "SyncFlow_0",
        tmp_path,
        {
            "https://github.com/my-org/kestra-flows": repo.url,
            "http://localhost:8080": fake_kestra.url,
        },
    )
    kestra = {
        "KESTRA_USERNAME": str(fake_kestra.username),
        "KESTRA_PASSWORD": str(fake_kestra.password),
    }
    run(path, home, secrets=kestra)
    with KestraInstance(
        fake_kestra.url, username=fake_kestra.username, password=fake_kestra.password
    ) as server:
        assert list(flows_of(server, "dev.marketing")) == ["marketing"]
        assert "namespace: dev.marketing" in flows_of(server, "dev.marketing")["marketing"]


# -- instance -> Git ----------------------------------------------------------------------------
def seed_instance(home: Path) -> None:
    with LocalInstance(home, validator=validate_source) as instance:
        for namespace in ("company", "company.team", "company.analytics", "dev", "dev.team"):
            instance.put_flow(flow("f_" + namespace.replace(".", "_"), namespace))
            instance.write_file(namespace, "/scripts/run.py", f"print('{namespace}')\n".encode())
        instance.put_dashboard(dashboard("mydashboard"))
        instance.put_dashboard(dashboard("other"))


@pytest.mark.parametrize("name", ["PushFlows_1", "PushNamespaceFiles_1"])
def test_loop_push_examples_commit_each_namespace_to_its_folder(
    servers: Servers, tmp_path: Path, home: Path, name: str
) -> None:
    repo = new_repo(servers("anna-geller"), {"README.md": "product\n"})
    path = example(name, tmp_path, {"https://github.com/anna-geller/product": repo.url})
    seed_instance(home)
    run(path, home)
    files = repo.files("main")
    assert files.pop("README.md") == b"product\n"
    assert files == {
        "flows/company/f_company.yml": flow("f_company", "company").encode(),
        "flows/company.team/f_company_team.yml": flow("f_company_team", "company.team").encode(),
        "flows/company.analytics/f_company_analytics.yml": flow(
            "f_company_analytics", "company.analytics"
        ).encode(),
        "scripts/company/scripts/run.py": b"print('company')\n",
        "scripts/company.team/scripts/run.py": b"print('company.team')\n",
        "scripts/company.analytics/scripts/run.py": b"print('company.analytics')\n",
    }
    assert len(list(repo.repo.walk(repo.head("main")))) == 7  # one commit per task and value


@pytest.mark.parametrize(
    ("name", "branch"), [("PushFlows_0", "main"), ("PushNamespaceFiles_0", "dev")]
)
def test_dry_run_push_examples_report_changes_and_commit_nothing(
    servers: Servers, tmp_path: Path, home: Path, name: str, branch: str
) -> None:
    repo = new_repo(servers("git_username"), {"README.md": "scripts\n"}, branch=branch)
    before = repo.head(branch)
    path = example(name, tmp_path, {"https://github.com/kestra-io/scripts": repo.url})
    seed_instance(home)
    execution = run(path, home)
    assert repo.head(branch) == before
    assert repo.files(branch) == {"README.md": b"scripts\n"}
    diff = execution.outputs["commit_and_push"]
    assert diff.get("commitId") is None
    assert Path(diff["diffFile"]).name, "the dry run writes what it would push"


def test_push_0_commits_flows_and_files_to_its_branch(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers("git_username"), {"README.md": "scripts\n"}, branch="kestra")
    path = example("Push_0", tmp_path, {"https://github.com/kestra-io/scripts": repo.url})
    seed_instance(home)
    run(path, home)
    assert repo.files("kestra") == {  # the branch becomes what the run writes, as upstream's
        "_flows/company.team.f_company_team.yml": flow("f_company_team", "company.team").encode(),
        "scripts/run.py": b"print('company.team')\n",
    }
    assert repo.head_commit("kestra").message.startswith("add flows and scripts ")


def test_push_dashboards_0_pushes_only_when_its_input_says_so(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers("git_username"), {"README.md": "scripts\n"})
    before = repo.head("main")
    path = example("PushDashboards_0", tmp_path, {"https://github.com/kestra-io/scripts": repo.url})
    seed_instance(home)
    run(path, home)
    assert repo.head("main") == before
    run(path, home, inputs={"push": "true"})
    files = repo.files("main")
    assert set(files) == {"README.md", "_dashboards/mydashboard.yml"}
    assert b"id: mydashboard" in files["_dashboards/mydashboard.yml"]
    assert repo.head_commit("main").message.strip() == "add mydashboard from prod.push_dashboards"


def test_namespace_sync_1_commits_the_namespace_to_dev_and_keeps_the_rest(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(
        servers("fdelbrayelle"),
        {"company.ops/flows/gone.yaml": flow("gone", "company.ops")},
        branch="dev",
    )
    path = example(
        "NamespaceSync_1", tmp_path, {"https://github.com/fdelbrayelle/plugin-git-qa": repo.url}
    )
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "company.ops"))
        instance.write_file("company.ops", "/conf/app.json", b"{}\n")
    run(path, home)
    assert repo.files("dev") == {
        "company.ops/flows/gone.yaml": flow("gone", "company.ops").encode(),
        "company.ops/flows/a.yaml": flow("a", "company.ops").encode(),
        "company.ops/files/conf/app.json": b"{}\n",
    }


# -- TenantSync on a Kestra server (the fake Kestra API) ------------------------------------------
def kestra_secrets(fake: FakeKestra) -> dict[str, str]:
    return {"KESTRA_USERNAME": fake.username or "", "KESTRA_PASSWORD": fake.password or ""}


def test_tenant_sync_0_makes_the_server_what_git_has_but_system(
    servers: Servers,
    fake_kestra: FakeKestra,
    kestra_instance: KestraInstance,
    tmp_path: Path,
    home: Path,
) -> None:
    repo = new_repo(
        servers("fdelbrayelle"),
        {
            "kestra/company.team/flows/a.yaml": flow("a", "company.team"),
            "kestra/company.team/files/etl.py": "print('etl')\n",
        },
    )
    kestra_instance.put_flow(flow("stale", "company.data"))
    kestra_instance.put_flow(flow("s", "system"))
    path = example(
        "TenantSync_0",
        tmp_path,
        {
            "https://github.com/fdelbrayelle/plugin-git-qa": repo.url,
            "http://localhost:8080": fake_kestra.url,
        },
    )
    run(path, home, secrets=kestra_secrets(fake_kestra))
    assert flows_of(kestra_instance, "company.team") == {"a": flow("a", "company.team")}
    assert files_of(kestra_instance, "company.team") == {"/etl.py": b"print('etl')\n"}
    assert flows_of(kestra_instance, "company.data") == {}
    assert flows_of(kestra_instance, "system") == {"s": flow("s", "system")}


def test_tenant_sync_1_commits_the_server_to_dev(
    servers: Servers,
    fake_kestra: FakeKestra,
    kestra_instance: KestraInstance,
    tmp_path: Path,
    home: Path,
) -> None:
    repo = new_repo(servers("fdelbrayelle"), {"README.md": "qa\n"}, branch="dev")
    kestra_instance.put_flow(flow("a", "company.team"))
    kestra_instance.write_file("company.team", "/etl.py", b"print('etl')\n")
    path = example(
        "TenantSync_1",
        tmp_path,
        {
            "https://github.com/fdelbrayelle/plugin-git-qa": repo.url,
            "http://localhost:8080": fake_kestra.url,
        },
    )
    run(path, home, secrets=kestra_secrets(fake_kestra))
    files = repo.files("dev")
    assert files["README.md"] == b"qa\n"
    assert files["company.team/flows/a.yaml"] == flow("a", "company.team").encode()
    assert files["company.team/files/etl.py"] == b"print('etl')\n"


# -- PushExecutionFiles: a script writes the files, the task commits them ------------------------
def test_push_execution_files_0_commits_the_python_script_report(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers("git_user"), {"README.md": "pipeline\n"}, branch="data-reports")
    path = example(
        "PushExecutionFiles_0", tmp_path, {"https://github.com/company/data-pipeline": repo.url}
    )
    run(path, home)
    assert repo.files("data-reports") == {
        "README.md": b"pipeline\n",
        "analytics/report.txt": b"Analysis done",
    }
    assert repo.head_commit("data-reports").message.startswith("Add CSV and JSON reports ")


def test_push_execution_files_1_commits_the_shell_script_log_under_the_execution_id(
    servers: Servers, tmp_path: Path, home: Path
) -> None:
    repo = new_repo(servers("git_user"), {"README.md": "logs\n"}, branch="logs")
    path = example(
        "PushExecutionFiles_1", tmp_path, {"https://github.com/company/log-archive": repo.url}
    )
    execution = run(path, home)
    files = repo.files("logs")
    assert set(files) == {"README.md", f"logs/run-{execution.id}.log"}
    assert files[f"logs/run-{execution.id}.log"].startswith(b"Run completed at ")
    assert repo.head_commit("logs").message.strip() == f"Archive log for run {execution.id}"
