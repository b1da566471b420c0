"""A small GitHub REST client for the workflow scripts: standard library only, every list paginated.

The workflows run these scripts with the runner's python3 and GITHUB_TOKEN; the tests run them against a loopback server.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(RuntimeError):
    """A REST call failed; the message names the method, path and status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"GitHub API {method} {path} answered {status}: {message}")
        self.status = status


class GitHub:
    def __init__(self, api_url: str, token: str, repository: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.repository = repository

    @classmethod
    def from_env(cls) -> GitHub:
        """GITHUB_API_URL, GITHUB_REPOSITORY (set by the runner) and GH_TOKEN or GITHUB_TOKEN (set by the workflow)."""
        token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
        if not token:
            raise SystemExit("set GH_TOKEN to the job's github.token")
        return cls(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token, os.environ["GITHUB_REPOSITORY"])

    def _send(self, method: str, url: str, body: Any = None) -> tuple[Any, str]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the API URL comes from the runner
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                text = response.read().decode()
                return (json.loads(text) if text else None), response.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise GitHubError(method, urllib.parse.urlparse(url).path, error.code, detail) from None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request to `/repos/<repository>/<path>` (or an absolute API path starting with `/`)."""
        url = self.api_url + (path if path.startswith("/") else f"/repos/{self.repository}/{path}")
        return self._send(method, url, body)[0]

    def paginate(self, path: str, key: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the Link header's rel="next" (100 per page).

        `key` names the list in endpoints that wrap it in an object (e.g. `branch_policies`).
        """
        separator = "&" if "?" in path else "?"
        url: str | None = self.api_url + f"/repos/{self.repository}/{path}{separator}per_page=100"
        while url:
            page, link = self._send("GET", url)
            yield from (page[key] if key else page)
            match = _NEXT_LINK.search(link)
            url = match.group(1) if match else None
