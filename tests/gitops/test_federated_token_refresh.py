"""The federated token file stays valid for the whole job: fetched, then replaced atomically in the background.

A loopback (127.0.0.1) stand-in for GitHub's OIDC endpoint issues short-lived, numbered tokens; the refresher runs a
bounded number of rounds with no wait between them, so the tests count rounds instead of timing them.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.gitops.fake_github import QuietHandler, send_json, serve_loopback

REPO = Path(__file__).resolve().parents[2]
TOKEN_SCRIPT = REPO / ".github" / "scripts" / "azure-federated-token.sh"
TOKEN_LIFETIME = 300  # GitHub's tokens live about 5 minutes (Azure/login #441); the fake clock below advances per issue.


class TokenIssuer:
    """Issues `token-<n>` with an expiry on a fake clock that advances by the refresh interval per request."""

    def __init__(self, fail_requests: frozenset[int] = frozenset()) -> None:
        self.issued: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.fail_requests = fail_requests
        self.lock = threading.Lock()

    def issue(self, authorization: str, audience: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append({"authorization": authorization, "audience": audience})
            number = len(self.requests)
            if number in self.fail_requests:
                return 500, {"message": "temporarily unavailable"}
            now = 120 * (number - 1)
            token = {"value": f"token-{number}", "exp": now + TOKEN_LIFETIME}
            self.issued.append(token)
            return 200, {"value": token["value"]}


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, TokenIssuer]]:
    issuer = TokenIssuer(getattr(request, "param", frozenset()))

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server names it
            query = parse_qs(urlparse(self.path).query)
            status, body = issuer.issue(self.headers.get("Authorization", ""), query["audience"][0])
            send_json(self, status, body)

    with serve_loopback(Handler) as url:
        yield f"{url}/token?api-version=2.0", issuer


def script_env(url: str, tmp_path: Path, rounds: int) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "ACTIONS_ID_TOKEN_REQUEST_URL": url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "AZURE_TENANT_ID": "66666666-7777-8888-9999-000000000000",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_ENV": str(tmp_path / "github_env"),
        "AZURE_FEDERATED_TOKEN_REFRESH_SECONDS": "0",
        "AZURE_FEDERATED_TOKEN_REFRESH_COUNT": str(rounds),
    }


def wait_for_exit(pid: int) -> None:
    """The refresher is bounded by its round count; this only guards the test run against a hang."""
    for _ in range(600):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("the refresher did not stop after its bounded number of rounds")


def test_first_token_is_written_exported_and_then_refreshed_in_the_background(endpoint: tuple[str, TokenIssuer], tmp_path: Path) -> None:
    url, issuer = endpoint
    result = subprocess.run(
        ["bash", str(TOKEN_SCRIPT)], env=script_env(url, tmp_path, rounds=3), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    token_file = tmp_path / "azure-federated-token"
    assert (tmp_path / "github_env").read_text() == f"AZURE_FEDERATED_TOKEN_FILE={token_file}\n"
    wait_for_exit(int((tmp_path / "azure-federated-token-refresh.pid").read_text()))
    # One token for the step, then one per round; the file holds the newest.
    assert [t["value"] for t in issuer.issued] == ["token-1", "token-2", "token-3", "token-4"]
    assert token_file.read_text() == "token-4"
    assert token_file.stat().st_mode & 0o077 == 0
    assert issuer.requests[0] == {"authorization": "bearer request-token", "audience": "api://AzureADTokenExchange"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "azure-federated-token",
        "azure-federated-token-refresh.log",
        "azure-federated-token-refresh.pid",
        "github_env",
    ], "no temp file is left behind"
    log = (tmp_path / "azure-federated-token-refresh.log").read_text()
    assert "refresh 3/3" in log
    # The step registers its token as a secret with the runner (`::add-mask::`) before anything else can print it, and
    # prints no token otherwise; the refresher prints none.
    assert result.stdout.splitlines()[0] == "::add-mask::token-1"
    for issued in issuer.issued:
        shown = "\n".join(line for line in (result.stdout + result.stderr + log).splitlines() if not line.startswith("::add-mask::"))
        assert issued["value"] not in shown, "a token never reaches the log unmasked"


def test_every_read_sees_a_whole_token_that_a_long_job_can_still_use(endpoint: tuple[str, TokenIssuer], tmp_path: Path) -> None:
    """A reader (the Azure SDK) racing the refresher sees only complete tokens, never older than the previous one."""
    url, issuer = endpoint
    token_file = tmp_path / "azure-federated-token"
    token_file.write_text("token-0")
    seen: list[str] = []
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            seen.append(token_file.read_text())

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        result = subprocess.run(
            ["bash", str(TOKEN_SCRIPT), "--refresh-loop"],
            env=script_env(url, tmp_path, rounds=25),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop.set()
        reader.join()
    assert result.returncode == 0, result.stderr
    valid = {"token-0"} | {t["value"] for t in issuer.issued}
    assert set(seen) <= valid, f"partial or unknown token read: {set(seen) - valid}"
    numbers = [int(value.split("-")[1]) for value in seen]
    assert numbers == sorted(numbers)
    assert token_file.read_text() == "token-25"
    # On the fake clock each round is one interval later: the token in the file is always unexpired when the next is due.
    expiries = [t["exp"] for t in issuer.issued]
    assert all(expiry > 120 * index for index, expiry in enumerate(expiries, start=1))


@pytest.mark.parametrize("endpoint", [frozenset({2})], indirect=True)
def test_a_failed_refresh_keeps_the_previous_token_and_the_next_round_recovers(endpoint: tuple[str, TokenIssuer], tmp_path: Path) -> None:
    url, issuer = endpoint
    token_file = tmp_path / "azure-federated-token"
    token_file.write_text("token-0")
    env = script_env(url, tmp_path, rounds=1)
    first = subprocess.run(["bash", str(TOKEN_SCRIPT), "--refresh-loop"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0 and token_file.read_text() == "token-1"
    failed = subprocess.run(["bash", str(TOKEN_SCRIPT), "--refresh-loop"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode == 0
    assert "keeping the previous token" in failed.stderr
    assert token_file.read_text() == "token-1"
    recovered = subprocess.run(
        ["bash", str(TOKEN_SCRIPT), "--refresh-loop"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert recovered.returncode == 0 and token_file.read_text() == "token-3"
    assert len(issuer.requests) == 3


def test_token_script_explains_a_missing_id_token_permission(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(TOKEN_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "id-token: write" in result.stderr


def test_defaults_keep_a_fresh_token_for_longer_than_any_job_may_run() -> None:
    text = TOKEN_SCRIPT.read_text()
    interval = int(re.search(r"AZURE_FEDERATED_TOKEN_REFRESH_SECONDS:-(\d+)", text).group(1))  # type: ignore[union-attr]
    rounds = int(re.search(r"AZURE_FEDERATED_TOKEN_REFRESH_COUNT:-(\d+)", text).group(1))  # type: ignore[union-attr]
    assert interval < TOKEN_LIFETIME / 2, "a token read from the file has most of its life left"
    longest = max(
        job["timeout-minutes"]
        for path in (REPO / ".github" / "workflows").glob("*.yml")
        for job in yaml.safe_load(path.read_text())["jobs"].values()
        if any("azure-federated-token.sh" in step.get("run", "") for step in job.get("steps", []))
    )
    assert interval * rounds >= longest * 60
