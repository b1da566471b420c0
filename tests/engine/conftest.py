"""The engine suite runs only under scripts/test-engine, which builds (or reuses) the CLI and names it in EXO_ENGINE_CLI."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.project import CLI_VARIABLE, EngineProject, cli_directory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    cli = cli_directory()
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.engine)
            if cli is None:
                reason = f"the engine suite needs the Pulumi CLI: scripts/test-engine (sets {CLI_VARIABLE})"
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
