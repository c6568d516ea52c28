"""The status page of ``kestra-git server`` in a real headless Chromium (Debian's, via selenium).

A screenshot of each page is written to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeRemote
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from serverproc import ServerProcess, deploy, secret_env, wait_execution

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
KEY = "page-webhook-key-42"
HOURLY = """
id: hourly
namespace: company.team
tasks:
  - id: shout
    type: io.kestra.plugin.core.log.Log
    message: "<script>document.title='pwned'</script> {{ secret('GITHUB_ACCESS_TOKEN') }}"
triggers:
  - id: every_hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    timezone: UTC
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
    wait: true
"""


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def _seed(repo_url: str) -> str:
    source = (ROOT / "flows" / "sync_flows_webhook.yml").read_text()
    source = source.replace("https://github.com/kestra/scripts", repo_url)
    return source.replace("username: git_username", f"username: {DEFAULT_USERNAME}")


def test_status_page_shows_flows_next_fires_executions_logs_rows_and_commits(
    tmp_path: Path, remote: MakeRemote, browser: webdriver.Chrome
) -> None:
    repo = remote(
        files={
            "_flows/hello.yml": "id: hello\nnamespace: dev\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        }
    )
    home = tmp_path / "home"
    deploy(home, _seed(repo.url))
    deploy(home, HOURLY)
    env = secret_env(WEBHOOK_KEY=KEY, GITHUB_ACCESS_TOKEN=DEFAULT_PASSWORD)
    with ServerProcess(home, env=env) as server, server.client() as client:
        sync = client.post(f"/api/v1/executions/webhook/system/sync_from_git/{KEY}").json()
        wait_execution(home, sync["id"])
        shout = client.post(f"/api/v1/executions/webhook/company.team/hourly/{KEY}").json()
        assert shout["state"]["current"] == "SUCCESS"

        deadline = time.monotonic() + 30
        while client.get("/api/v1/flows/search", params={"namespace": "git"}).json()["total"] == 0:
            assert time.monotonic() < deadline, "the synced flow was not picked up"
            time.sleep(0.2)
        browser.get(server.url + "/")
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "server-status.png"))
        html = browser.page_source
        assert "<script" not in html.split("<body", 1)[1].replace("&lt;script", "")
        assert browser.find_element(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
        flows = browser.find_element(By.ID, "flows").text
        assert "system/sync_from_git" in flows and "company.team/hourly" in flows
        assert "every_hour: Schedule" in flows and "0 * * * *" in flows
        assert ":00:00 UTC" in flows  # the next fire time of the hourly schedule
        assert "git/hello" in flows  # the flow the sync created is served too
        git = browser.find_element(By.ID, "git").text
        head = repo.head()
        assert head is not None and head[:12] in git and "system/sync_from_git" in git
        executions = browser.find_element(By.ID, "executions").text
        assert executions.count("SUCCESS") == 2 and "github_webhook" in executions

        browser.find_element(By.LINK_TEXT, sync["id"]).click()
        browser.save_screenshot(str(ARTIFACTS / "server-execution.png"))
        assert sync["id"] in browser.find_element(By.TAG_NAME, "h1").text
        assert "changed: 1 ADDED" in browser.find_element(By.ID, "logs").text
        rows = browser.find_element(By.CSS_SELECTOR, "table.rows").text
        assert "_flows/hello.yml" in rows and "ADDED" in rows

        browser.get(f"{server.url}/executions/{shout['id']}")
        assert browser.title != "pwned"
        logs = browser.find_element(By.ID, "logs").text
        assert "<script>document.title='pwned'</script> ******" in logs
        assert DEFAULT_PASSWORD not in browser.page_source
        browser.get(f"{server.url}/executions/..%2F..%2Fetc%2Fpasswd")
        assert "Not Found" in browser.page_source and "root:" not in browser.page_source
        browser.get(f"{server.url}/executions/x.y%00")
        assert "No such execution" in browser.page_source
