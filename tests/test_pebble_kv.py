"""kv() and read() in templates, the KV store on both backends, and ``kestra-git kv``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kestra_git_tasks.cli import cli
from kestra_git_tasks.context import RunContext
from kestra_git_tasks.errors import InstanceError, TemplateError
from kestra_git_tasks.instance.kestra import KestraInstance
from kestra_git_tasks.instance.kv import kv_store
from kestra_git_tasks.instance.local import LocalInstance


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as instance:
        yield instance


def _context(instance: object, tmp_path: Path) -> RunContext:
    return RunContext.create(instance=instance, namespace="company.team", home=tmp_path / "home")  # type: ignore[arg-type]


def test_kv_function_reads_the_embedded_store(local: LocalInstance, tmp_path: Path) -> None:
    kv_store(local).kv_set("company.team", "retries", 3)
    kv_store(local).kv_set("other", "name", "bob")
    ctx = _context(local, tmp_path)
    assert ctx.render("{{ kv('retries') + 1 }}") == "4"
    assert ctx.render("{{ kv('name', namespace='other') }}") == "bob"
    assert ctx.render("{{ kv('nope', errorOnMissing=false) ?? 'none' }}") == "none"


def test_kv_function_missing_key_is_kestras_error(local: LocalInstance, tmp_path: Path) -> None:
    with pytest.raises(
        InstanceError, match=r"The key 'nope' does not exist in the namespace 'company\.team'"
    ):
        _context(local, tmp_path).render("{{ kv('nope') }}", where="message")


@pytest.mark.parametrize("key", ["../etc", "", "a b", "x" * 300, "/abs", "é"])
def test_kv_refuses_hostile_keys(local: LocalInstance, key: str) -> None:
    with pytest.raises(InstanceError, match="is not valid"):
        kv_store(local).kv_set("company.team", key, "v")
    assert kv_store(local).kv_list("company.team") == []


def test_kv_set_overwrites_and_delete_removes(local: LocalInstance) -> None:
    store = kv_store(local)
    store.kv_set("ns", "k", {"a": [1, True]})
    store.kv_set("ns", "k", "two")
    assert store.kv_get("ns", "k") == "two"
    assert store.kv_delete("ns", "k") is True
    assert store.kv_delete("ns", "k") is False
    assert store.kv_get("ns", "k") is None


def test_read_function_reads_a_namespace_file(local: LocalInstance, tmp_path: Path) -> None:
    local.write_file("company.team", "scripts/hello.txt", b"hello from ns")
    assert _context(local, tmp_path).render("{{ read('scripts/hello.txt') }}") == "hello from ns"


def test_file_functions_look_at_namespace_files(local: LocalInstance, tmp_path: Path) -> None:
    local.write_file("company.team", "data/a.txt", b"12345")
    local.write_file("company.team", "data/empty.txt", b"")
    ctx = _context(local, tmp_path)
    template = (
        "{{ fileExists('data/a.txt') }} {{ fileExists('data/nope.txt') }} "
        "{{ fileSize('data/a.txt') }} {{ fileEmpty('data/empty.txt') }}"
    )
    assert ctx.render(template) == "true false 5 true"


def test_print_context_prints_the_variables_not_the_functions(
    local: LocalInstance, tmp_path: Path
) -> None:
    ctx = _context(local, tmp_path)
    ctx.inputs = {"who": "world"}
    printed = json.loads(ctx.render("{{ printContext() }}"))
    assert printed["inputs"] == {"who": "world"}
    assert printed["flow"]["namespace"] == "company.team"
    assert "secret" not in printed and "kv" not in printed


def test_read_function_reads_a_file_of_this_execution(local: LocalInstance, tmp_path: Path) -> None:
    ctx = _context(local, tmp_path)
    produced = ctx.output_dir / "rows.jsonl"
    produced.write_text('{"a":1}\n')
    ctx.outputs = {"sync": {"diff": str(produced)}}
    assert ctx.render("{{ read(outputs.sync.diff) }}") == '{"a":1}\n'


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/passwd", "file:///etc/hostname"])
def test_read_function_never_reads_outside_the_execution_or_namespace(
    local: LocalInstance, tmp_path: Path, path: str
) -> None:
    with pytest.raises(TemplateError, match="Unable to read the file"):
        _context(local, tmp_path).render("{{ read('" + path + "') }}")


def test_read_function_refuses_a_symlink_out_of_the_execution_folder(
    local: LocalInstance, tmp_path: Path
) -> None:
    ctx = _context(local, tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("outside")
    (ctx.output_dir / "link").symlink_to(secret)
    with pytest.raises(TemplateError, match="Unable to read the file"):
        ctx.render("{{ read('" + str(ctx.output_dir / "link") + "') }}")


# -- Kestra server: the KV API on a real HTTP server --------------------------------------------


def _kv_api(httpserver: HTTPServer) -> dict[str, object]:
    stored: dict[str, object] = {}

    def handle(request: Request) -> Response:
        parts = request.path.split("/")  # /api/v1/main/namespaces/{ns}/kv[/{key}]
        key = parts[7] if len(parts) > 7 else ""
        name = f"{parts[5]}/{key}"
        if request.method == "PUT":
            stored[name] = json.loads(request.get_data())
            return Response(status=200)
        if request.method == "DELETE":
            found = stored.pop(name, None) is not None
            return Response("true", status=200 if found else 404)
        if not key:
            keys = [{"key": k.split("/")[1]} for k in stored if k.startswith(parts[5] + "/")]
            return Response(json.dumps(keys), content_type="application/json")
        if name not in stored:
            return Response(json.dumps({"message": "not found"}), status=404)
        body = {"type": "JSON", "value": stored[name]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(
        "/api/v1/main/namespaces/company.team/kv", method="GET"
    ).respond_with_handler(handle)
    for method in ("GET", "PUT", "DELETE"):
        httpserver.expect_request(
            __import__("re").compile(r"/api/v1/main/namespaces/[^/]+/kv/[^/]+"), method=method
        ).respond_with_handler(handle)
    return stored


def test_kv_on_a_kestra_server_uses_kestras_kv_api(httpserver: HTTPServer, tmp_path: Path) -> None:
    stored = _kv_api(httpserver)
    with KestraInstance(httpserver.url_for("/").rstrip("/")) as instance:
        store = kv_store(instance)
        store.kv_set("company.team", "retries", 3)
        assert stored == {"company.team/retries": 3}
        assert store.kv_list("company.team") == ["retries"]
        assert _context(instance, tmp_path).render("{{ kv('retries') }}") == "3"
        assert store.kv_get("company.team", "nope") is None
        assert store.kv_delete("company.team", "retries") is True
        assert store.kv_delete("company.team", "retries") is False


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_kv_set_get_list_delete(tmp_path: Path) -> None:
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["kv", "set", "prod", "retries", "3", "--json"], env=env).exit_code == 0
    )
    assert runner.invoke(cli, ["kv", "set", "prod", "name", "bob"], env=env).exit_code == 0
    assert runner.invoke(cli, ["kv", "get", "prod", "retries"], env=env).output == "3\n"
    assert runner.invoke(cli, ["kv", "list", "prod"], env=env).output == "name\nretries\n"
    assert runner.invoke(cli, ["kv", "delete", "prod", "name"], env=env).exit_code == 0
    missing = runner.invoke(cli, ["kv", "get", "prod", "name"], env=env)
    assert missing.exit_code == 1
    assert "The key 'name' does not exist in the namespace 'prod'." in missing.output


def test_cli_kv_prints_json_when_asked(tmp_path: Path) -> None:
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    runner.invoke(cli, ["kv", "set", "prod", "name", "bob"], env=env)
    got = runner.invoke(cli, ["kv", "get", "prod", "name", "--json"], env=env)
    assert json.loads(got.output) == {"namespace": "prod", "key": "name", "value": "bob"}
    assert json.loads(runner.invoke(cli, ["kv", "list", "prod", "--json"], env=env).output) == [
        "name"
    ]
    gone = runner.invoke(cli, ["kv", "delete", "prod", "name", "--json"], env=env)
    assert json.loads(gone.output) == {"namespace": "prod", "key": "name", "deleted": True}


def test_cli_kv_set_refuses_bad_json_and_hostile_keys(tmp_path: Path) -> None:
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    bad = runner.invoke(cli, ["kv", "set", "prod", "k", "{nope", "--json"], env=env)
    assert bad.exit_code == 1 and "--json value is not JSON" in bad.output
    hostile = runner.invoke(cli, ["kv", "set", "prod", "../k", "v"], env=env)
    assert hostile.exit_code == 1 and "is not valid" in hostile.output


def test_a_flow_written_for_kestra_runs_unchanged(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        "id: pebble\nnamespace: company.team\n"
        "inputs:\n  - id: who\n    type: STRING\n    defaults: world\n"
        "variables:\n  greeting: \"{{ 'Hello ' ~ inputs.who ~ ' ' ~ true }}\"\n"
        "tasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
        '    message: "{{ render(vars.greeting) }} {{ trigger.date ?? execution.startDate'
        " | date('yyyy') | length }} {{ kv('retries') }} {% for i in ['a','b'] %}"
        "{{ loop.index }}{% endfor %} {{ inputs.who contains 'or' ? 'yes' : 'no' }}\"\n"
    )
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    assert runner.invoke(cli, ["kv", "set", "company.team", "retries", "3"], env=env).exit_code == 0
    result = runner.invoke(cli, ["run", str(flow)], env=env)
    assert result.exit_code == 0, result.output
    assert "Hello world true 4 3 01 yes" in result.output
