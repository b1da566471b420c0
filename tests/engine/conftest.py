"""The engine suite's CLI tests run only under scripts/test-engine, which builds (or reuses) the CLI and names it in EXO_ENGINE_CLI."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.project import CLI_VARIABLE, EngineProject, cli_directory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `engine` (module-level `pytestmark`) run the CLI: skipped without one."""
    if cli_directory() is not None:
        return
    reason = f"the engine suite needs the Pulumi CLI: scripts/test-engine (sets {CLI_VARIABLE})"
    for item in items:
        if item.get_closest_marker("engine") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def new_project(**tenant_options: object) -> Iterator[EngineProject]:
    cli = cli_directory()
    assert cli is not None
    with tempfile.TemporaryDirectory(prefix="exo-engine-") as root:
        project = EngineProject(Path(root), cli, tenant_options=dict(tenant_options))
        try:
            yield project
        finally:
            project.close()


@pytest.fixture(scope="module")
def dev() -> Iterator[EngineProject]:
    """The shipped example stack (Pulumi.dev.yaml) after `pulumi stack select dev --create` and `pulumi up --yes`, once per module."""
    for project in new_project():
        project.pulumi("stack", "select", "dev", "--create")
        project.pulumi("up", "--yes")
        yield project
