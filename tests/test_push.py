"""PushFlows and PushNamespaceFiles against the real smart-HTTP git server.

Every result is checked by cloning the branch back with the git CLI and reading paths, bytes,
commit message, author and committer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest

from kestra_git_tasks import LocalInstance, RunContext
from kestra_git_tasks.errors import GitAuthError, NotFoundError, PushRejectedError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.flowfile import rewrite_namespaces
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git._push import commit_url, parse_globs
from kestra_git_tasks.tasks.git.push_flows import PushFlows, strip_revision
from kestra_git_tasks.tasks.git.push_namespace_files import PushNamespaceFiles, path_matches
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
ROOT = Path(__file__).resolve().parent.parent


def flow(flow_id: str, namespace: str, message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


@dataclass
class Clone:
    files: dict[str, bytes]
    message: str
    author: str
    committer: str
    sha: str


def clone_back(repo: BareRemote, branch: str, tmp_path: Path) -> Clone:
    target = tmp_path / f"clone-{branch}-{len(list(tmp_path.iterdir()))}"
    subprocess.run(
        ["git", "clone", "-q", "--branch", branch, repo.authenticated_url, str(target)],
        check=True,
        capture_output=True,
    )
    files = {
        str(p.relative_to(target)): p.read_bytes()
        for p in sorted(target.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(target).parts
    }
    log = subprocess.run(
        ["git", "-C", str(target), "log", "-1", "--format=%H%n%an <%ae>%n%cn <%ce>%n%B"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n", 3)
    return Clone(files, log[3].strip(), log[1], log[2], log[0])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    """The embedded instance, then the fake Kestra server (see conftest.any_instance)."""
    return any_instance


def context(instance: LocalInstance, home: Path, namespace: str = "system") -> RunContext:
    ctx = RunContext.create(instance=instance, home=home, namespace=namespace, flow_id="push")
    ctx.task_id = "push"
    return ctx


def push_flows(
    instance: LocalInstance, home: Path, url: str, **properties: Any
) -> PushFlows.Output:
    properties.setdefault("source_namespace", "dev")
    task = PushFlows(id="push", url=url, username=USER, password=PASSWORD, **properties)
    output = task.run(context(instance, home))
    assert isinstance(output, PushFlows.Output)
    return output


def push_files(
    instance: LocalInstance, home: Path, url: str, **properties: Any
) -> PushNamespaceFiles.Output:
    properties.setdefault("namespace", "dev")
    task = PushNamespaceFiles(id="push", url=url, username=USER, password=PASSWORD, **properties)
    output = task.run(context(instance, home))
    assert isinstance(output, PushNamespaceFiles.Output)
    return output


# -- PushFlows: layout and content --------------------------------------------------------------
def test_push_flows_writes_one_file_per_flow_and_verifies_the_remote(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    instance.put_flow(flow("b", "dev"))
    repo = remote(files={"README.md": "repo\n"})
    output = push_flows(instance, home, repo.url, author_name="Ada", author_email="ada@example.com")
    back = clone_back(repo, "main", tmp_path)
    assert back.files == {
        "README.md": b"repo\n",
        "_flows/a.yml": flow("a", "dev").encode(),
        "_flows/b.yml": flow("b", "dev").encode(),
    }
    assert output.commit_id == back.sha == repo.head("main")
    assert back.message == "Add flows from dev namespace"
    assert back.author == back.committer == "Ada <ada@example.com>"
    assert output.flows == [
        {"file": "_flows/a.yml", "additions": "+7", "deletions": "-0", "changes": "0"},
        {"file": "_flows/b.yml", "additions": "+7", "deletions": "-0", "changes": "0"},
    ]
    assert [
        json.loads(line) for line in Path(output.diff_file).read_text().splitlines()
    ] == output.flows


def test_child_namespaces_go_to_sub_folders_with_include_child_namespaces(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("top", "dev"))
    instance.put_flow(flow("a", "dev.team"))
    instance.put_flow(flow("b", "dev.team.deep"))
    instance.put_flow(flow("no", "devops"))
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url, include_child_namespaces=True, git_directory="flows")
    assert sorted(clone_back(repo, "main", tmp_path).files) == [
        "README.md",
        "flows/team/a.yml",
        "flows/team/deep/b.yml",
        "flows/top.yml",
    ]


def test_without_include_child_namespaces_only_the_namespace_is_pushed(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("top", "dev"))
    instance.put_flow(flow("a", "dev.team"))
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url)
    assert sorted(clone_back(repo, "main", tmp_path).files) == ["README.md", "_flows/top.yml"]


def test_target_namespace_rewrite_is_exact(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    source = textwrap.dedent("""\
        id: parent
        namespace: dev
        revision: 7
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: dev.child
            flowId: child
          - id: other
            type: io.kestra.plugin.core.flow.Subflow
            namespace: devops
            flowId: tool
        """)
    instance.put_flow(source)
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url, target_namespace="prod")
    pushed = clone_back(repo, "main", tmp_path).files["_flows/parent.yml"].decode()
    assert pushed.splitlines()[1] == "namespace: prod"
    assert "    namespace: prod.child\n" in pushed
    assert "    namespace: devops\n" in pushed
    assert "revision:" not in pushed


def test_rewrite_namespaces_and_strip_revision_units() -> None:
    assert rewrite_namespaces("namespace: dev\n", "dev", "prod") == "namespace: prod\n"
    assert (
        rewrite_namespaces("namespace: 'dev.x' # c\n", "dev", "prod") == "namespace: 'prod.x' # c\n"
    )
    assert rewrite_namespaces("namespace: devops\n", "dev", "prod") == "namespace: devops\n"
    assert rewrite_namespaces("namespace: dev\n", "dev", "dev") == "namespace: dev\n"
    assert strip_revision("id: a\nrevision: 3\nnamespace: b\n") == "id: a\nnamespace: b\n"
    assert strip_revision("id: a\n  revision: 3\n") == "id: a\n  revision: 3\n"


@pytest.mark.parametrize(
    ("flows", "expected"),
    [
        ("*", ["first-flow", "first_other", "second"]),
        ("first*", ["first-flow", "first_other"]),
        (["second", "first-*"], ["first-flow", "second"]),
        ('["second"]', ["second"]),
    ],
)
def test_flows_globs_select_flow_ids(
    remote: MakeRemote,
    instance: LocalInstance,
    home: Path,
    tmp_path: Path,
    flows: Any,
    expected: list[str],
) -> None:
    for flow_id in ("first-flow", "first_other", "second"):
        instance.put_flow(flow(flow_id, "dev"))
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url, flows=flows)
    pushed = [
        p.removeprefix("_flows/").removesuffix(".yml")
        for p in clone_back(repo, "main", tmp_path).files
        if p.startswith("_flows/")
    ]
    assert sorted(pushed) == expected


def test_parse_globs_forms() -> None:
    assert parse_globs(None) is None
    assert parse_globs("a*") == ["a*"]
    assert parse_globs('["a", "b"]') == ["a", "b"]
    assert parse_globs(["a"]) == ["a"]
    assert parse_globs("[not json") == ["[not json"]


# -- deletes ------------------------------------------------------------------------------------
def test_delete_removes_flow_files_whose_flow_is_gone(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("kept", "dev"))
    repo = remote(
        files={
            "_flows/gone.yml": flow("gone", "dev"),
            "_flows/README.md": "docs",
            "_flows/team/child.yml": "x",
            "other/keep.yml": "y",
        }
    )
    output = push_flows(instance, home, repo.url)
    files = clone_back(repo, "main", tmp_path).files
    assert sorted(files) == [
        "_flows/README.md",
        "_flows/kept.yml",
        "_flows/team/child.yml",
        "other/keep.yml",
    ]
    assert {
        "file": "_flows/gone.yml",
        "additions": "+0",
        "deletions": "-7",
        "changes": "0",
    } in output.flows


def test_delete_false_keeps_stale_files(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("kept", "dev"))
    repo = remote(files={"_flows/gone.yml": flow("gone", "dev")})
    push_flows(instance, home, repo.url, delete=False)
    assert sorted(clone_back(repo, "main", tmp_path).files) == [
        "_flows/gone.yml",
        "_flows/kept.yml",
    ]


def test_delete_is_scoped_by_the_globs(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("second-one", "dev"))
    repo = remote(files={"_flows/second-old.yml": "x", "_flows/first-old.yml": "y"})
    push_flows(instance, home, repo.url, flows="second*")
    assert sorted(clone_back(repo, "main", tmp_path).files) == [
        "_flows/first-old.yml",
        "_flows/second-one.yml",
    ]


def test_staged_deletions_are_pushed_even_when_no_flow_matches(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/gone.yml": flow("gone", "dev"), "README.md": "x"})
    # an empty source deletes only when allowed (see test_push_deletions.py)
    output = push_flows(instance, home, repo.url, allow_empty=True)
    assert output.commit_id is not None
    assert sorted(clone_back(repo, "main", tmp_path).files) == ["README.md"]


def test_kestraignore_files_are_neither_pushed_nor_deleted(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.write_file("dev", "/.kestraignore", b"*.tmp\n")
    instance.write_file("dev", "/a.txt", b"a")
    instance.write_file("dev", "/scratch.tmp", b"tmp")
    repo = remote(files={"_files/old.tmp": "keep me"})
    push_files(instance, home, repo.url)
    assert clone_back(repo, "main", tmp_path).files == {
        "_files/.kestraignore": b"*.tmp\n",
        "_files/a.txt": b"a",
        "_files/old.tmp": b"keep me",
    }


# -- no changes, dry run, branches --------------------------------------------------------------
def test_nothing_changed_gives_no_commit_and_null_commit_id(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "x"})
    first = push_flows(instance, home, repo.url)
    head = repo.head("main")
    second = push_flows(instance, home, repo.url)
    assert first.commit_id == head
    assert (second.commit_id, second.commit_url, second.flows) == (None, None, [])
    assert repo.head("main") == head


def test_dry_run_reports_the_rows_and_pushes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"_flows/old.yml": "x"})
    head = repo.head("main")
    output = push_flows(instance, home, repo.url, dry_run=True)
    assert repo.head("main") == head
    assert output.commit_id is None
    assert [row["file"] for row in output.flows] == ["_flows/a.yml", "_flows/old.yml"]


def test_missing_branch_is_created_from_the_default_branch_tip(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "from main\n"})
    output = push_flows(instance, home, repo.url, branch="kestra")
    back = clone_back(repo, "kestra", tmp_path)
    assert sorted(back.files) == ["README.md", "_flows/a.yml"]
    main_head = repo.head("main")
    parent = subprocess.run(
        [
            "git",
            "-C",
            str(
                tmp_path
                / next(p.name for p in tmp_path.iterdir() if p.name.startswith("clone-kestra"))
            ),
            "rev-parse",
            "HEAD^",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert parent == main_head
    assert output.commit_id == repo.head("kestra")


def test_empty_remote_gets_a_first_commit_on_the_branch(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote()
    push_flows(instance, home, repo.url, branch="dev", commit_message="first flows")
    back = clone_back(repo, "dev", tmp_path)
    assert back.files == {"_flows/a.yml": flow("a", "dev").encode()}
    assert back.message == "first flows"


def test_author_falls_back_to_username_and_needs_an_email(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url, author_email="bot@example.com")
    assert clone_back(repo, "main", tmp_path).author == f"{USER} <bot@example.com>"
    instance.put_flow(flow("b", "dev"))
    push_flows(instance, home, repo.url)
    back = clone_back(repo, "main", tmp_path)
    assert back.author == back.committer == "kestra-git <kestra-git@localhost>"


def test_source_namespace_defaults_to_the_running_flows_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "system"))
    repo = remote(files={"README.md": "x"})
    task = PushFlows(id="push", url=repo.url, username=USER, password=PASSWORD)
    task.run(context(instance, home, namespace="system"))
    back = clone_back(repo, "main", tmp_path)
    assert "_flows/a.yml" in back.files and back.message == "Add flows from system namespace"


# -- honest pushes ------------------------------------------------------------------------------
def test_a_branch_that_moves_during_the_push_is_rebuilt_on_the_new_tip(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "x"})
    original = PushFlows.collect

    def collect_while_someone_pushes(self: PushFlows, ctx: RunContext) -> dict[str, bytes]:
        repo.commit({"someone-else.txt": "their change\n"}, "concurrent")
        return original(self, ctx)

    PushFlows.collect = collect_while_someone_pushes  # type: ignore[method-assign]
    try:
        # the other commit lands after our first read of the branch: our first push is refused
        output = push_flows(instance, home, repo.url)
    finally:
        PushFlows.collect = original  # type: ignore[method-assign]
    back = clone_back(repo, "main", tmp_path)
    assert sorted(back.files) == ["README.md", "_flows/a.yml", "someone-else.txt"]
    assert output.commit_id == back.sha


def test_a_push_refused_by_a_server_hook_raises_with_the_servers_message(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    from gitserver import install_hook

    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "x"})
    install_hook(
        repo.path,
        "pre-receive",
        "#!/bin/sh\necho 'direct pushes to main are not allowed' >&2\nexit 1\n",
    )
    head = repo.head("main")
    with pytest.raises(PushRejectedError) as caught:
        push_flows(instance, home, repo.url)
    assert "refused the push" in str(caught.value)
    assert "direct pushes to main are not allowed" in (caught.value.server_message or "") + str(
        caught.value
    )
    assert repo.head("main") == head


def test_wrong_password_raises_git_auth_error_and_pushes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"README.md": "x"})
    head = repo.head("main")
    task = PushFlows(
        id="push", url=repo.url, username=USER, password="nope-wrong", source_namespace="dev"
    )
    with pytest.raises(GitAuthError) as caught:
        task.run(context(instance, home))
    assert "nope-wrong" not in str(caught.value)
    assert repo.head("main") == head


PUSH_SCRIPT = """
import sys
from pathlib import Path
from kestra_git_tasks import LocalInstance, RunContext
from kestra_git_tasks.tasks.git.push_flows import PushFlows

home, url, namespace, barrier = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
with LocalInstance(home) as instance:
    for i in range(5):
        instance.put_flow(f"id: f{i}\\nnamespace: {namespace}\\ntasks:\\n  - id: l\\n    type: io.kestra.plugin.core.log.Log\\n    message: m\\n")
    ctx = RunContext.create(instance=instance, home=home)
    task = PushFlows(id="push", url=url, username="git_user", password="s3cr3t-token",
                     source_namespace=namespace, git_directory=f"_flows/{namespace}",
                     push_attempts=10)
    (barrier / namespace).touch()
    while len(list(barrier.iterdir())) < 2:
        pass
    output = task.run(ctx)
print(output.commit_id)
"""


def test_two_processes_pushing_to_the_same_branch_both_land(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    script = tmp_path / "push_child.py"
    script.write_text(PUSH_SCRIPT)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"home-{ns}"), repo.url, ns, str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for ns in ("alpha", "beta")
    ]
    results = [child.communicate(timeout=120) for child in children]
    for child, (_out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    files = clone_back(repo, "main", tmp_path).files
    for ns in ("alpha", "beta"):
        assert {f"_flows/{ns}/f{i}.yml" for i in range(5)} <= set(files)
    commits = {out.strip() for out, _ in results}
    log = subprocess.run(
        ["git", "--git-dir", str(repo.path), "log", "--format=%H", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert commits <= set(log), "a process reported a commit that is not on the branch"


# -- round trip ---------------------------------------------------------------------------------
def test_push_then_sync_into_an_empty_instance_reproduces_every_source(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    sources = {
        ("dev", "plain"): flow("plain", "dev"),
        (
            "dev",
            "crlf",
        ): "id: crlf\r\nnamespace: dev\r\ntasks:\r\n  - id: a\r\n    type: io.kestra.plugin.core.log.Log\r\n    message: m\r\n",
        ("dev.team", "trailing"): flow("trailing", "dev.team")
        + "   \n\n# a comment kept as is  \n",
        ("dev", "unicode"): flow("unicode", "dev", message="héllo — 世界"),
    }
    for source in sources.values():
        instance.put_flow(source)
    repo = remote(files={"README.md": "x"})
    push_flows(instance, home, repo.url, include_child_namespaces=True, target_namespace="prod")
    with LocalInstance(tmp_path / "other", validator=validate_source) as empty:
        ctx = RunContext.create(instance=empty, home=tmp_path / "other")
        SyncFlows(
            id="sync",
            url=repo.url,
            username=USER,
            password=PASSWORD,
            target_namespace="prod",
            include_child_namespaces=True,
        ).run(ctx)
        for (namespace, flow_id), source in sources.items():
            target = namespace.replace("dev", "prod", 1)
            synced = empty.get_flow(target, flow_id)
            assert synced is not None, (target, flow_id)
            assert synced.source == rewrite_namespaces(source, "dev", "prod")


# -- PushNamespaceFiles -------------------------------------------------------------------------
def test_push_namespace_files_keeps_folders_and_bytes(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    binary = bytes(range(256)) * 10
    instance.write_file("dev", "/scripts/etl.py", b"print('etl')\n")
    instance.write_file("dev", "/data/blob.bin", binary)
    repo = remote(files={"README.md": "x"})
    output = push_files(
        instance, home, repo.url, branch="main", author_name="Ada", author_email="a@b.c"
    )
    back = clone_back(repo, "main", tmp_path)
    assert back.files == {
        "README.md": b"x",
        "_files/scripts/etl.py": b"print('etl')\n",
        "_files/data/blob.bin": binary,
    }
    assert back.message == "Add files from dev namespace"
    assert [row["file"] for row in output.files] == [
        "_files/data/blob.bin",
        "_files/scripts/etl.py",
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("second*", "/nested/second-file.txt", True),
        ("second*", "/second.txt", True),
        ("**", "/a/b/c", True),
        ("*.py", "/scripts/etl.py", False),  # Java: `*` stays in a folder, paths start with /
        ("*", "/scripts/etl.py", True),  # the seed example's "every file"
        ("**.py", "/scripts/etl.py", True),
        ("/*.py", "/etl.py", True),
        ("/*.py", "/scripts/etl.py", False),
        ("scripts/*.py", "/scripts/etl.py", True),
        ("/scripts/*.py", "/other/etl.py", False),
        ("glob:**/*.{py,sql}", "/a/q.sql", True),
        ("regex:.*\\.csv", "/d/x.csv", True),
        ("regex:.*\\.csv", "/d/x.txt", False),
    ],
)
def test_path_matching_follows_kestras_rules(pattern: str, path: str, matches: bool) -> None:
    assert path_matches(pattern, path) is matches


def test_push_namespace_files_globs_select_and_scope_deletes(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    instance.write_file("dev", "/a.py", b"a")
    instance.write_file("dev", "/b.sql", b"b")
    repo = remote(files={"_files/old.py": "stale", "_files/old.sql": "kept"})
    push_files(instance, home, repo.url, files=["**.py"])
    assert clone_back(repo, "main", tmp_path).files == {
        "_files/a.py": b"a",
        "_files/old.sql": b"kept",
    }


def test_error_on_missing_fails_when_nothing_matches(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    with pytest.raises(
        NotFoundError,
        match=r"No Namespace Files matched the provided 'files' parameter to commit\.",
    ):
        push_files(instance, home, repo.url, files="*.nothing", error_on_missing=True)
    output = push_files(instance, home, repo.url, files="*.nothing")
    assert output.commit_id is None


# -- commit URLs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/kestra-io/scripts.git",
            "https://github.com/kestra-io/scripts/commit/abc",
        ),
        (
            "https://user:tok@github.com/kestra-io/scripts",
            "https://github.com/kestra-io/scripts/commit/abc",
        ),
        ("git@github.com:kestra-io/scripts.git", "https://github.com/kestra-io/scripts/commit/abc"),
        ("https://gitlab.com/group/sub/proj.git", "https://gitlab.com/group/sub/proj/commit/abc"),
        ("https://bitbucket.org/team/repo.git", "https://bitbucket.org/team/repo/commits/abc"),
        ("git@bitbucket.org:team/repo.git", "https://bitbucket.org/team/repo/commits/abc"),
        (
            "https://dev.azure.com/org/project/_git/repo",
            "https://dev.azure.com/org/project/_git/repo/commit/abc?refName=refs%2Fheads%2Fmain",
        ),
        (
            "git@ssh.dev.azure.com:v3/org/project/repo",
            "https://dev.azure.com/org/project/_git/repo/commit/abc?refName=refs%2Fheads%2Fmain",
        ),
        ("file:///tmp/repo.git", None),
        ("https://codeberg.org/team/repo.git", "https://codeberg.org/team/repo/commit/abc"),
        ("https://git.example.com/team/repo.git", None),
        ("http://127.0.0.1:8080/scripts.git", None),
        ("git@git.example.com:team/repo.git", None),
        ("https://github.com.evil.example/team/repo", None),
    ],
)
def test_commit_url_for_each_host(url: str, expected: str | None) -> None:
    assert commit_url(url, "abc", "main") == expected


# -- the seed document's push flows, unchanged except the url -----------------------------------
@pytest.mark.parametrize(
    ("name", "original_url", "user", "branch"),
    [
        ("push_flows.yml", "https://github.com/kestra-io/scripts", "github_username", "kestra"),
        ("push_namespace_files.yml", "https://github.com/kestra-io/scripts", "git_username", "dev"),
    ],
)
def test_seed_push_examples_run_unchanged_except_url(
    tmp_path: Path, home: Path, name: str, original_url: str, user: str, branch: str
) -> None:
    from gitserver import BareRemote, GitHttpServer

    from kestra_git_tasks import run_flow

    with GitHttpServer(tmp_path / "repos", username=user, password="ghp_push-token-9") as server:
        repo = BareRemote(server, "scripts")
        repo.commit({"README.md": "scripts\n"}, "init")
        text = (ROOT / "flows" / name).read_text()
        assert original_url in text
        path = tmp_path / name
        path.write_text(text.replace(original_url, repo.url))
        with LocalInstance(home, validator=validate_source) as instance:
            instance.put_flow(flow("hello", "dev"))
            instance.write_file("dev", "/scripts/etl.py", b"print('etl')\n")
            execution = run_flow(
                path,
                instance=instance,
                home=home,
                secrets={"GITHUB_ACCESS_TOKEN": "ghp_push-token-9"},
            )
        assert execution.state == "SUCCESS", execution.error
        files = repo.files(branch)
        if name == "push_flows.yml":
            assert files["_flows/hello.yml"] == flow("hello", "pod").encode()
            message = "add namespace files changes"
        else:
            assert files["_files/scripts/etl.py"] == b"print('etl')\n"
            message = "add namespace files"
        head = repo.head(branch)
        assert head is not None
        commit = repo.repo[head]
        assert isinstance(commit, pygit2.Commit)
        assert commit.message.strip() == message
        output = execution.outputs["commit_and_push"]
        assert output["commitId"] == repo.head(branch)
        assert output["commitURL"] is None  # a host whose commit pages are unknown
    assert "ghp_push-token-9" not in json.dumps(execution.to_dict())
    for file in home.rglob("*"):
        if file.is_file():
            assert b"ghp_push-token-9" not in file.read_bytes(), file
