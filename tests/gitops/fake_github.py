"""A loopback stand-in for the GitHub REST endpoints the workflow scripts call, with GitHub's Link-header pagination."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

REPOSITORY = "contoso-msp/exo-automation"
BOT = "github-actions[bot]"


class FakeGitHub:
    def __init__(self) -> None:
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.issues: list[dict[str, Any]] = []
        self.environments: dict[str, dict[str, Any]] = {}
        self.branch_policies: dict[str, list[dict[str, Any]]] = {}
        self.heads: dict[int, str] = {}
        self.run_approvals: dict[int, list[dict[str, Any]]] = {}
        self.labels: set[str] = set()
        # GET /repos/{repo}, /orgs/{org}, .../actions/oidc/customization/sub, branches, commits (recorded answers: github_answers.py).
        self.repository: dict[str, Any] | None = None
        self.organizations: dict[str, dict[str, Any]] = {}
        self.oidc_subject: dict[str, Any] = {"use_default": True, "use_immutable_subject": False}
        self.branches: dict[str, str] = {}
        self.commits: dict[str, dict[str, Any]] = {}
        self.commit_pulls: dict[str, list[dict[str, Any]]] = {}
        self.pull_authors: dict[int, str] = {}
        self.pull_commits: dict[int, list[dict[str, Any]]] = {}
        self.branch_rules: dict[str, list[dict[str, Any]]] = {}
        self.branch_protection: dict[str, dict[str, Any]] = {}
        self.rulesets: dict[int, dict[str, Any]] = {}
        self.workflow_runs: list[dict[str, Any]] = []
        self.run_jobs: dict[int, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, pr: int, body: str, login: str = BOT) -> dict[str, Any]:
        comment = {"id": self.new_id(), "body": body, "user": {"login": login}}
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, list[Any] | None]:
        """(status, json, full list if the answer is a paginated list)."""
        self.calls.append((method, path))
        if match := re.fullmatch(r"/orgs/([^/]+)", path):
            organization = self.organizations.get(match.group(1))
            return (200, organization, None) if organization else (404, {"message": "Not Found"}, None)
        if path == f"/repos/{REPOSITORY}":
            return (200, self.repository, None) if self.repository else (404, {"message": "Not Found"}, None)
        prefix = f"/repos/{REPOSITORY}/"
        assert path.startswith(prefix), path
        route = path[len(prefix) :]
        if route == "actions/oidc/customization/sub":
            return 200, self.oidc_subject, None
        if match := re.fullmatch(r"rules/branches/([^/]+)", route):
            return 200, self.branch_rules.get(match.group(1), []), None
        if match := re.fullmatch(r"rulesets/(\d+)", route):
            ruleset = self.rulesets.get(int(match.group(1)))
            return (200, ruleset, None) if ruleset else (404, {"message": "Not Found"}, None)
        if match := re.fullmatch(r"branches/([^/]+)/protection", route):
            protection = self.branch_protection.get(match.group(1))
            return (200, protection, None) if protection else (404, {"message": "Branch not protected"}, None)
        if match := re.fullmatch(r"branches/([^/]+)", route):
            sha = self.branches.get(match.group(1))
            return (200, {"name": match.group(1), "commit": {"sha": sha}}, None) if sha else (404, {"message": "Branch not found"}, None)
        if match := re.fullmatch(r"commits/([0-9a-f]{40})/pulls", route):
            return 200, None, self.commit_pulls.get(match.group(1), [])
        if match := re.fullmatch(r"commits/([0-9a-f]{40})", route):
            commit = self.commits.get(match.group(1))
            return (200, commit, None) if commit else (404, {"message": "No commit found"}, None)
        if match := re.fullmatch(r"pulls/(\d+)/commits", route):
            return 200, None, self.pull_commits.get(int(match.group(1)), [])
        if match := re.fullmatch(r"pulls/(\d+)", route):
            number = int(match.group(1))
            return 200, {"head": {"sha": self.heads[number]}, "user": {"login": self.pull_authors.get(number, "author")}}, None
        if match := re.fullmatch(r"actions/workflows/([^/]+)/runs", route):
            status = query.get("status", [""])[0]
            runs = [r for r in self.workflow_runs if r["workflow"] == match.group(1) and (not status or r["status"] == status)]
            return 200, {"total_count": len(runs), "workflow_runs": runs}, None
        if match := re.fullmatch(r"actions/runs/(\d+)/jobs", route):
            jobs = self.run_jobs.get(int(match.group(1)), [])
            return 200, {"total_count": len(jobs), "jobs": jobs}, None
        if match := re.fullmatch(r"actions/runs/(\d+)/approvals", route):
            return 200, self.run_approvals.get(int(match.group(1)), []), None
        if match := re.fullmatch(r"issues/(\d+)/comments", route):
            number = int(match.group(1))
            if method == "GET":
                return 200, None, self.comments.get(number, [])
            if any(issue["number"] == number for issue in self.issues):
                return 201, {"id": self.new_id()}, None
            return 201, self.add_comment(number, body["body"]), None
        if match := re.fullmatch(r"issues/comments/(\d+)", route):
            comment = next(c for cs in self.comments.values() for c in cs if c["id"] == int(match.group(1)))
            comment["body"] = body["body"]
            return 200, comment, None
        if route == "issues" and method == "GET":
            labels = query.get("labels", [""])[0]
            state = query.get("state", ["open"])[0]
            found = [i for i in self.issues if i["state"] == state and labels in i["labels"]]
            return 200, None, found
        if match := re.fullmatch(r"labels/([^/]+)", route):
            return (200, {"name": match.group(1)}, None) if match.group(1) in self.labels else (404, {"message": "Not Found"}, None)
        if route == "labels" and method == "POST":
            self.labels.add(body["name"])
            return 201, body, None
        if route == "issues" and method == "POST":
            # Not relied on either way (create or drop an unknown label): the fake drops it, so the script must create it first.
            body = {**body, "labels": [label for label in body["labels"] if label in self.labels]}
            issue = {
                "number": len(self.issues) + 1,
                "state": "open",
                "title": body["title"],
                "body": body["body"],
                "labels": body["labels"],
            }
            self.issues.append(issue)
            return 201, issue, None
        if match := re.fullmatch(r"issues/(\d+)", route):
            issue = self.issues[int(match.group(1)) - 1]
            issue.update({k: v for k, v in body.items() if k in ("body", "state")})
            return 200, issue, None
        if match := re.fullmatch(r"environments/([^/]+)", route):
            environment = self.environments.get(match.group(1))
            return (200, environment, None) if environment else (404, {"message": "Not Found"}, None)
        if match := re.fullmatch(r"environments/([^/]+)/deployment-branch-policies", route):
            policies = self.branch_policies.get(match.group(1), [])
            return 200, {"total_count": len(policies), "branch_policies": policies}, None
        return 404, {"message": f"no route {method} {route}"}, None


@contextmanager
def serve(github: FakeGitHub) -> Iterator[str]:
    class Handler(QuietHandler):
        def _answer(self, method: str) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            assert self.headers["Authorization"] == "Bearer test-token"
            status, payload, full = github.handle(method, url.path, query, body)
            link = ""
            if full is not None:
                per_page = int(query.get("per_page", ["30"])[0])
                page = int(query.get("page", ["1"])[0])
                payload = full[(page - 1) * per_page : page * per_page]
                if page * per_page < len(full):
                    rest = {k: v[0] for k, v in query.items() if k != "page"}
                    following = "&".join(f"{k}={v}" for k, v in {**rest, "page": page + 1}.items())
                    link = f'<http://{self.headers["Host"]}{url.path}?{following}>; rel="next"'
            send_json(self, status, payload, {"Link": link} if link else None)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

    with serve_loopback(Handler) as url:
        yield url


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (a free port) for the duration of the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
