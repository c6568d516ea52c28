"""KestraInstance against the stateful fake Kestra: the instance protocol over real HTTP.

Everything goes through real sockets to ``tests/fakekestra.py``; only the unit tests of error
mapping at the end use ``httpx.MockTransport``.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MakeRemote
from fakekestra import FakeKestra
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from pytest_httpserver import HTTPServer

from kestra_git_tasks import RunContext, SyncFlows
from kestra_git_tasks.errors import (
    ConfigError,
    FlowValidationError,
    InstanceError,
    KestraApiError,
    KestraAuthError,
    NotFoundError,
)
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.instance.kestra import KestraInstance


def flow(flow_id: str, namespace: str = "dev", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n"
        f"  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


def connect(fake: FakeKestra, **options: Any) -> KestraInstance:
    options.setdefault("username", fake.username)
    options.setdefault("password", fake.password)
    return KestraInstance(fake.url, **options)


# -- flows: revisions ------------------------------------------------------------------------------
def test_put_flow_creates_revision_one_with_put_then_post(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    assert isinstance(kestra_instance, Instance)
    record = kestra_instance.put_flow(flow("a"))
    assert (record.namespace, record.id, record.revision, record.source) == (
        "dev",
        "a",
        1,
        flow("a"),
    )
    assert fake_kestra.requests == [
        ("PUT", "/api/v1/main/flows/dev/a"),
        ("POST", "/api/v1/main/flows"),
    ]
    got = kestra_instance.get_flow("dev", "a")
    assert got is not None and (got.revision, got.source) == (1, flow("a"))
    assert fake_kestra.live_flows() == {("dev", "a"): flow("a")}


def test_put_flow_identical_source_keeps_revision(kestra_instance: KestraInstance) -> None:
    kestra_instance.put_flow(flow("a"))
    assert kestra_instance.put_flow(flow("a")).revision == 1
    assert [r.revision for r in kestra_instance.flow_revisions("dev", "a")] == [1]


def test_put_flow_changed_source_bumps_revision_and_keeps_history(
    kestra_instance: KestraInstance,
) -> None:
    kestra_instance.put_flow(flow("a"))
    assert kestra_instance.put_flow(flow("a", message="changed")).revision == 2
    revisions = kestra_instance.flow_revisions("dev", "a")
    assert [(r.revision, r.source) for r in revisions] == [
        (1, flow("a")),
        (2, flow("a", message="changed")),
    ]


def test_delete_writes_deleted_revision_and_recreate_continues_numbering(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    kestra_instance.put_flow(flow("a"))
    assert kestra_instance.delete_flow("dev", "a") is True
    assert kestra_instance.get_flow("dev", "a") is None
    assert kestra_instance.delete_flow("dev", "a") is False
    assert kestra_instance.list_flows("dev") == []
    assert kestra_instance.put_flow(flow("a")).revision == 3
    revisions = kestra_instance.flow_revisions("dev", "a")
    assert [(r.revision, r.deleted) for r in revisions] == [(1, False), (2, True), (3, False)]
    assert [r.deleted for r in fake_kestra.flows[("dev", "a")]] == [False, True, False]


def test_missing_flow_is_none_and_has_no_revisions(kestra_instance: KestraInstance) -> None:
    assert kestra_instance.get_flow("dev", "nope") is None
    assert kestra_instance.flow_revisions("dev", "nope") == []
    assert kestra_instance.delete_flow("dev", "nope") is False


def test_put_invalid_flow_raises_flow_validation_error_with_server_message(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    with pytest.raises(FlowValidationError) as caught:
        kestra_instance.put_flow("id: a\nnamespace: dev\n")
    assert "Invalid entity" in str(caught.value) and "'tasks' must be" in str(caught.value)
    assert caught.value.constraints == ["line 1: 'tasks' must be a non-empty list of tasks"]
    assert fake_kestra.flows == {}


def test_put_flow_without_readable_id_lets_the_server_judge(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    with pytest.raises(FlowValidationError, match="Kestra refused flow"):
        kestra_instance.put_flow("tasks: [")
    assert fake_kestra.requests == [("POST", "/api/v1/main/flows")]


# -- flows: scope, listing, validation ---------------------------------------------------------
def test_list_flows_scopes_children_on_dot_boundaries(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    for namespace, flow_id in [("dev", "b"), ("dev", "a"), ("dev.team", "c"), ("devops", "d")]:
        fake_kestra.add_flow(flow(flow_id, namespace))
    fake_kestra.add_flow(flow("gone"))
    kestra_instance.delete_flow("dev", "gone")

    exact = kestra_instance.list_flows("dev")
    assert [(r.namespace, r.id, r.source) for r in exact] == [
        ("dev", "a", flow("a")),
        ("dev", "b", flow("b")),
    ]
    children = kestra_instance.list_flows("dev", include_children=True)
    assert [(r.namespace, r.id) for r in children] == [
        ("dev", "a"),
        ("dev", "b"),
        ("dev.team", "c"),
    ]
    assert kestra_instance.flow_index("dev", include_children=True) == {
        "dev/a": 1,
        "dev/b": 1,
        "dev.team/c": 1,
    }
    assert kestra_instance.flow_index("devops") == {"devops/d": 1}
    assert kestra_instance.list_namespaces() == ["dev", "dev.team", "devops"]


def test_list_flows_sends_both_namespace_filter_forms(
    httpserver: HTTPServer, fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    fake_kestra.add_flow(flow("a"))
    kestra_instance.list_flows("dev")
    for request, _ in httpserver.log:
        assert request.args["namespace"] == "dev"
        assert request.args["filters[namespace][PREFIX]"] == "dev"
    assert [path for _, path in fake_kestra.requests] == [
        "/api/v1/main/flows/search",
        "/api/v1/main/flows/export/by-query",
    ]


@pytest.mark.parametrize("count", [10, 1000])
def test_list_flows_costs_two_requests_whatever_the_number_of_flows(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance, count: int
) -> None:
    for number in range(count):
        fake_kestra.add_flow(flow(f"f{number:04d}"))
    fake_kestra.add_flow(flow("other", "devops"))
    records = kestra_instance.list_flows("dev")
    assert len(records) == count
    assert all(r.source == flow(r.id) for r in records)
    assert fake_kestra.count() == 2
    fake_kestra.reset()
    assert len(kestra_instance.flow_index("dev")) == count
    assert fake_kestra.count() == 1


def test_empty_scope_costs_one_request(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    assert kestra_instance.list_flows("dev") == []
    assert fake_kestra.count() == 1


def test_validate_flows_judges_many_flows_in_one_request(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    sources = [
        flow("a"),
        "id: b\nnamespace: dev\n",
        flow("c"),
        "id: d\nnamespace: Dev\ntasks: []\n",
    ]
    problems = kestra_instance.validate_flows(sources)
    # Kestra splits the body on "\n+---\n*?": every flow but the first starts with an empty
    # line there, so line numbers in its messages are one more than in the source.
    assert problems == [
        [],
        ["line 2: 'tasks' must be a non-empty list of tasks"],
        [],
        [
            "line 3: flow: invalid namespace (lower-case) 'Dev'; it must match [a-z0-9][a-z0-9._-]*",
            "line 4: 'tasks' must be a non-empty list of tasks",
        ],
    ]
    assert fake_kestra.requests == [("POST", "/api/v1/main/flows/validate")]
    assert kestra_instance.validate_flows([]) == []
    assert fake_kestra.count() == 1


def test_validate_sends_a_source_holding_a_separator_line_on_its_own(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    tricky = "---\n" + flow("b")
    split = flow("c") + "---\n"
    problems = kestra_instance.validate_flows([flow("a"), tricky, split, flow("d")])
    assert problems == [[], [], [], []]
    assert fake_kestra.count("POST", "/flows/validate") == 3


# -- namespace files ---------------------------------------------------------------------------
def test_files_with_folders_and_binary_bytes_round_trip(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    binary = bytes(range(256)) + b"\x00\xff\r\n"
    kestra_instance.write_file("dev", "b.txt", b"hello\n")
    kestra_instance.write_file("dev", "/dir/sub/data.bin", binary)
    kestra_instance.write_file("dev", "/dir/a b+c.txt", b"")
    assert fake_kestra.files == {
        ("dev", "/b.txt"): b"hello\n",
        ("dev", "/dir/sub/data.bin"): binary,
        ("dev", "/dir/a b+c.txt"): b"",
    }
    records = kestra_instance.list_files("dev")
    assert [(r.namespace, r.path, r.size) for r in records] == [
        ("dev", "/b.txt", 6),
        ("dev", "/dir/a b+c.txt", 0),
        ("dev", "/dir/sub/data.bin", len(binary)),
    ]
    assert records[2].sha256 == hashlib.sha256(binary).hexdigest()
    assert kestra_instance.read_file("dev", "/dir/sub/data.bin") == binary
    assert kestra_instance.list_files("other") == []


def test_reading_the_files_just_listed_costs_no_second_request(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    for number in range(5):
        fake_kestra.add_file("dev", f"/dir/f{number}.txt", f"{number}".encode())
    records = kestra_instance.list_files("dev")
    assert fake_kestra.count() == 2 + 5  # two directories, five files
    assert [kestra_instance.read_file("dev", r.path) for r in records] == [
        b"0",
        b"1",
        b"2",
        b"3",
        b"4",
    ]
    assert fake_kestra.count() == 7
    kestra_instance.read_file("dev", "/dir/f0.txt")  # taken once: now read from the server
    assert fake_kestra.count() == 8


def test_write_file_uploads_multipart_file_content_and_skips_identical(
    httpserver: HTTPServer, fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    kestra_instance.write_file("dev", "/a.txt", b"one")
    upload = [request for request, _ in httpserver.log if request.method == "POST"]
    assert len(upload) == 1 and upload[0].args["path"] == "/a.txt"
    assert upload[0].files["fileContent"].filename == "a.txt"
    assert fake_kestra.files == {("dev", "/a.txt"): b"one"}
    fake_kestra.reset()
    kestra_instance.write_file("dev", "/a.txt", b"one")
    assert fake_kestra.count("POST") == 0
    kestra_instance.write_file("dev", "/a.txt", b"two")
    assert [r.revision for r in fake_kestra.file_revisions[("dev", "/a.txt")]] == [1, 2]


def test_a_zip_file_is_stored_as_a_file_not_extracted(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    kestra_instance.write_file("dev", "/archive.zip", b"PK\x05\x06" + b"\x00" * 18)
    assert list(fake_kestra.files) == [("dev", "/archive.zip")]


def test_delete_file_removes_empty_folders_and_reports_missing(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    fake_kestra.add_file("dev", "/dir/sub/a.txt", b"a")
    fake_kestra.add_file("dev", "/keep.txt", b"k")
    assert kestra_instance.delete_file("dev", "/dir/sub/a.txt") is True
    assert kestra_instance.delete_file("dev", "/dir/sub/a.txt") is False
    assert fake_kestra.files == {("dev", "/keep.txt"): b"k"}
    assert [r.path for r in kestra_instance.list_files("dev")] == ["/keep.txt"]
    with pytest.raises(NotFoundError, match=r"/dir/sub/a\.txt"):
        kestra_instance.read_file("dev", "/dir/sub/a.txt")


def test_paths_under_flows_folder_are_refused(kestra_instance: KestraInstance) -> None:
    with pytest.raises(InstanceError, match="reserves /_flows"):
        kestra_instance.write_file("dev", "/_flows/a.yml", flow("a").encode())


# -- authentication, tenants -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("username", "password"), [(None, None), ("admin@kestra.io", "wrong-password")]
)
def test_missing_or_wrong_credentials_raise_auth_error(
    fake_kestra: FakeKestra, username: str | None, password: str | None
) -> None:
    with (
        connect(fake_kestra, username=username, password=password) as instance,
        pytest.raises(KestraAuthError) as caught,
    ):
        instance.list_flows("dev")
    assert caught.value.status_code == 401
    assert "check the credentials for this server" in str(caught.value)
    assert "--server" not in str(caught.value)  # command-line hints are the CLI's
    assert "wrong-password" not in str(caught.value)


def test_bearer_token_is_sent_in_authorization_header(httpserver: HTTPServer) -> None:
    fake = FakeKestra(username=None, password=None, api_token="tok-123").install(httpserver)
    with KestraInstance(fake.url, api_token="tok-123") as instance:
        instance.put_flow(flow("a"))
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer tok-123"
    with (
        KestraInstance(fake.url, api_token="other") as instance,
        pytest.raises(KestraAuthError),
    ):
        instance.flow_index("dev")
    httpserver.check_handler_errors()


def test_token_and_basic_together_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Cannot use both API Token authentication and HTTP"):
        KestraInstance("http://localhost:8080", username="u@x.io", password="p", api_token="t")
    with pytest.raises(ConfigError, match="Both username and password are required"):
        KestraInstance("http://localhost:8080", username="u@x.io")


def test_without_tenant_paths_have_no_tenant_segment(httpserver: HTTPServer) -> None:
    fake = FakeKestra(tenant=None).install(httpserver)
    with connect(fake, tenant=None) as instance:
        instance.put_flow(flow("a"))
        instance.list_flows("dev")
        instance.write_file("dev", "/a.txt", b"a")
    paths = {path for _, path in fake.requests}
    assert paths == {
        "/api/v1/flows/dev/a",
        "/api/v1/flows",
        "/api/v1/flows/search",
        "/api/v1/flows/export/by-query",
        "/api/v1/namespaces/dev/files",
    }
    assert fake.live_flows() == {("dev", "a"): flow("a")}
    httpserver.check_handler_errors()


def test_oss_aliases_paths_without_tenant_to_main(fake_kestra: FakeKestra) -> None:
    with connect(fake_kestra, tenant=None) as instance:
        instance.put_flow(flow("a"))
    assert fake_kestra.requests[-1] == ("POST", "/api/v1/flows")
    assert fake_kestra.live_flows() == {("dev", "a"): flow("a")}


def test_a_tenant_an_oss_server_does_not_know_gives_its_message(
    fake_kestra: FakeKestra,
) -> None:
    with (
        connect(fake_kestra, tenant="acme") as instance,
        pytest.raises(KestraApiError, match="Tenant must be 'main'") as caught,
    ):
        instance.flow_index("dev")
    assert caught.value.status_code == 400


# -- retries and timeouts ----------------------------------------------------------------------
def test_get_is_retried_on_503_and_succeeds(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    fake_kestra.add_flow(flow("a"))
    fake_kestra.fail_requests(2, 503, method="GET")
    record = kestra_instance.get_flow("dev", "a")
    assert record is not None and record.revision == 1
    assert fake_kestra.count("GET") == 3


def test_get_gives_up_after_the_retries(fake_kestra: FakeKestra) -> None:
    fake_kestra.fail_requests(10, 502, method="GET")
    with connect(fake_kestra, retries=2) as instance, pytest.raises(KestraApiError) as caught:
        instance.flow_index("dev")
    assert caught.value.status_code == 502
    assert fake_kestra.count() == 3


def test_post_is_never_retried(fake_kestra: FakeKestra, kestra_instance: KestraInstance) -> None:
    fake_kestra.fail_requests(1, 503, method="POST")
    with pytest.raises(KestraApiError) as caught:
        kestra_instance.validate_flows([flow("a")])
    assert caught.value.status_code == 503
    assert fake_kestra.count("POST") == 1


def test_read_timeout_names_the_url_and_is_not_retried(fake_kestra: FakeKestra) -> None:
    fake_kestra.delay = 0.3
    with (
        connect(fake_kestra, read_timeout=0.05) as instance,
        pytest.raises(KestraApiError, match=r"did not answer within 0\.05 s") as caught,
    ):
        instance.flow_index("dev")
    assert f"{fake_kestra.url}/api/v1/main/flows/search" in str(caught.value)
    assert caught.value.status_code is None
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    time.sleep(0.3)  # let the fake finish answering before the next test uses the server
    assert fake_kestra.count() == 1


def test_unreachable_server_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        KestraInstance(f"http://127.0.0.1:{port}", retries=1) as instance,
        pytest.raises(KestraApiError, match="cannot reach the Kestra server") as caught,
    ):
        instance.get_flow("dev", "a")
    assert f"http://127.0.0.1:{port}/api/v1/main/flows/dev/a" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


# -- batch: all or nothing ---------------------------------------------------------------------
def seed_for_batch(fake: FakeKestra) -> None:
    fake.add_flow(flow("a"))
    fake.add_flow(flow("c"))
    fake.add_file("dev", "/data/x.csv", b"x,1\n")
    fake.add_file("dev", "/old.txt", b"old")


def five_changes(instance: KestraInstance) -> None:
    instance.put_flow(flow("new"))  # write 1: create
    instance.put_flow(flow("a", message="changed"))  # write 2: update
    instance.delete_flow("dev", "c")  # write 3: delete
    instance.write_file("dev", "/data/x.csv", b"x,2\n")  # write 4: overwrite a file
    instance.delete_file("dev", "/old.txt")  # write 5: delete a file


def test_batch_keeps_every_write_when_the_block_succeeds(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    seed_for_batch(fake_kestra)
    with kestra_instance.batch(), kestra_instance.batch():  # a nested batch joins the outer
        five_changes(kestra_instance)
    assert fake_kestra.live_flows() == {
        ("dev", "a"): flow("a", message="changed"),
        ("dev", "new"): flow("new"),
    }
    assert fake_kestra.files == {("dev", "/data/x.csv"): b"x,2\n"}


def test_batch_failing_at_third_write_restores_the_server_state(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    seed_for_batch(fake_kestra)
    flows_before, files_before = fake_kestra.live_flows(), fake_kestra.files
    fake_kestra.fail_write(3)
    with pytest.raises(InstanceError) as caught, kestra_instance.batch():
        five_changes(kestra_instance)
    assert fake_kestra.live_flows() == flows_before
    assert fake_kestra.files == files_before
    message = str(caught.value)
    assert "apply failed at write 3 (delete flow dev/c)" in message
    assert "injected failure" in message
    assert "the 2 change(s) it had made were restored (flow dev/new, flow dev/a)" in message
    assert "the server is as it was before the apply" in message
    assert isinstance(caught.value.__cause__, KestraApiError)
    # history is kept: the restored flow has a new revision with its old source
    assert [r.source for r in fake_kestra.flows[("dev", "a")]] == [
        flow("a"),
        flow("a", message="changed"),
        flow("a"),
    ]
    assert fake_kestra.flows[("dev", "new")][-1].deleted


def test_batch_restores_files_written_and_deleted(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    seed_for_batch(fake_kestra)
    files_before = fake_kestra.files
    with pytest.raises(InstanceError, match="restored"), kestra_instance.batch():
        kestra_instance.write_file("dev", "/data/x.csv", b"x,2\n")
        kestra_instance.write_file("dev", "/brand/new.txt", b"new")
        kestra_instance.delete_file("dev", "/old.txt")
        raise KestraApiError("something failed after the writes")
    assert fake_kestra.files == files_before


def test_batch_reports_what_it_could_not_restore(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    seed_for_batch(fake_kestra)
    fake_kestra.fail_write(3)
    fake_kestra.fail_write(4)  # the first undo: putting flow a back
    with pytest.raises(InstanceError) as caught, kestra_instance.batch():
        five_changes(kestra_instance)
    message = str(caught.value)
    assert "restored 1 of 2 change(s) (flow dev/new)" in message
    assert "restoring flow dev/a failed" in message
    assert "still changed on the server: flow dev/a" in message
    assert fake_kestra.live_flows() == {
        ("dev", "a"): flow("a", message="changed"),
        ("dev", "c"): flow("c"),
    }


def test_batch_error_before_any_change_propagates_as_it_is(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    with pytest.raises(FlowValidationError), kestra_instance.batch():
        kestra_instance.put_flow("id: a\nnamespace: dev\n")
    assert fake_kestra.flows == {}


def test_a_bug_inside_a_batch_keeps_its_type_with_a_note(
    fake_kestra: FakeKestra, kestra_instance: KestraInstance
) -> None:
    with pytest.raises(ZeroDivisionError) as caught, kestra_instance.batch():
        kestra_instance.put_flow(flow("a"))
        _ = 1 / 0
    assert any("restored (flow dev/a)" in note for note in caught.value.__notes__)
    assert fake_kestra.live_flows() == {}


# -- a no-change SyncFlows: a constant number of requests -------------------------------------
@pytest.mark.parametrize("count", [10, 1000])
def test_no_change_sync_flows_makes_a_constant_number_of_requests(
    remote: MakeRemote,
    fake_kestra: FakeKestra,
    kestra_instance: KestraInstance,
    tmp_path: Path,
    count: int,
) -> None:
    sources = {f"_flows/f{n:04d}.yml": flow(f"f{n:04d}", "prod") for n in range(count)}
    repo = remote(files=dict(sources))
    for source in sources.values():
        fake_kestra.add_flow(source)

    def sync() -> SyncFlows.Output:
        task = SyncFlows(
            id="sync",
            url=repo.url,
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
            target_namespace="prod",
            delete=True,
        )
        ctx = RunContext.create(instance=kestra_instance, home=tmp_path / "home")
        output = task.run(ctx)
        assert isinstance(output, SyncFlows.Output)
        return output

    first = sync()
    assert {row["syncState"] for row in first.flows} == {"UNCHANGED"}
    assert fake_kestra.count() == 4  # index, validate, search + export (nothing written)
    fake_kestra.reset()
    second = sync()
    assert len(second.flows) == count
    assert fake_kestra.requests == [("GET", "/api/v1/main/flows/search")]

    fake_kestra.reset()
    repo.commit({"_flows/f0001.yml": flow("f0001", "prod", message="changed")})
    third = sync()
    assert [r["flowId"] for r in third.flows if r["syncState"] == "UPDATED"] == ["f0001"]
    assert fake_kestra.count("POST", "/flows/validate") == 1
    assert fake_kestra.count("PUT") == 1
    # index, validate, get the changed flow, PUT (+ the batch's undo read), index after
    assert fake_kestra.count() == 6


# -- error mapping (httpx.MockTransport, no socket) -------------------------------------------
def mocked(status: int, body: Any = None, text: str = "") -> KestraInstance:
    def answer(request: httpx.Request) -> httpx.Response:
        if body is not None:
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=text)

    return KestraInstance(
        "http://user:s3cret@kestra.example:8080/",
        transport=httpx.MockTransport(answer),
        retries=0,
    )


def json_error(message: str, *errors: str) -> dict[str, Any]:
    return {"message": message, "_embedded": {"errors": [{"message": e} for e in errors]}}


@pytest.mark.parametrize(
    ("status", "body", "text", "error", "expected"),
    [
        (403, json_error("Forbidden"), "", KestraAuthError, "403 Forbidden: Forbidden;"),
        (409, json_error("Illegal state: flow is locked"), "", KestraApiError, "flow is locked"),
        (
            422,
            json_error("Invalid entity: x", "tasks: must not be empty"),
            "",
            KestraApiError,
            "Invalid entity: x; tasks: must not be empty",
        ),
        (500, None, "<html>Boom</html>", KestraApiError, "500 Internal Server Error: <html>Boom"),
        (404, None, "", KestraApiError, "check the server URL, and the tenant"),
    ],
)
def test_error_statuses_carry_the_server_message(
    status: int, body: Any, text: str, error: type[Exception], expected: str
) -> None:
    with mocked(status, body, text) as instance, pytest.raises(error) as caught:
        instance.flow_index("dev")
    message = str(caught.value)
    assert expected in message
    assert "http://kestra.example:8080/api/v1/main/flows/search" in message
    assert "s3cret" not in message and "s3cret" not in repr(instance)
    assert isinstance(caught.value, KestraApiError) and caught.value.status_code == status


def test_an_answer_that_is_not_kestra_json_is_a_clear_error() -> None:
    with (
        mocked(200, None, "<html>login page</html>") as instance,
        pytest.raises(KestraApiError, match="unexpected answer from the Kestra server"),
    ):
        instance.list_namespaces()
