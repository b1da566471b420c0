"""The README's run command, as written, under the real engine: a new stack with an empty config, then `pulumi up`.

The suite runs each command of the README's first block except `pulumi install`, which downloads plugins (the suite links a
virtualenv made from the same lock instead; test_dev_stack.py checks Pulumi.yaml points at it). `pulumi up` gets `--yes`, as any
non-interactive run needs, and the suite's `--client` (tests/engine/language_host.py)."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from tests.engine.conftest import new_project
from tests.engine.project import REPO


def readme_run_commands() -> list[list[str]]:
    """The commands of the README's first bash block, split at `&&`."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert block, "README.md lost its run command"
    commands = []
    for line in block[1].splitlines():
        for part in line.split("&&"):
            if part.strip():
                commands.append(shlex.split(part))
    return commands


def test_the_readme_block_is_the_one_this_test_runs() -> None:
    commands = readme_run_commands()
    assert commands[0][:2] == ["export", commands[0][1]] and commands[0][1].startswith("PULUMI_CONFIG_PASSPHRASE=")
    assert commands[1:] == [["pulumi", "install"], ["pulumi", "stack", "select", "mine", "--create"], ["pulumi", "up"]]


@pytest.mark.engine
def test_the_readme_run_command_deploys_the_default_config_and_then_has_nothing_to_do() -> None:
    (_export, _install, select, up) = readme_run_commands()
    for project in new_project():
        project.pulumi(*select[1:], stack=None)
        assert (
            not (project.project / "Pulumi.mine.yaml").exists()
            or "exo-automation:" not in (project.project / "Pulumi.mine.yaml").read_text()
        ), "the README's stack starts with an empty config"
        project.pulumi(*up[1:], "--yes", stack="mine")
        outputs = json.loads(project.pulumi("stack", "output", "--json", "--stack", "mine", stack=None).output)
        # What the README tells the admin to paste: the default identity's Connect-ExchangeOnline command.
        assert "Connect-ExchangeOnline" in outputs["identities"]["exo"]["connectCommand"], outputs
        project.pulumi("preview", "--expect-no-changes", stack="mine")
