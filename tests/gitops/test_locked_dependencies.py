"""Every environment installs from a hash-locked file that matches its input, and nothing installs around it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
# input -> lock (scripts/lock writes them; the comments there say which environment installs which).
LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "policy/requirements.txt": "policy/requirements.lock",
    "policy/requirements-dev.txt": "policy/requirements-dev.lock",
}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def input_requirements(path: Path) -> list[Requirement]:
    """The requirements of an input file, following `-r` includes."""
    found: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += input_requirements(path.parent / line[3:].strip())
            continue
        found.append(Requirement(line))
    return found


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) for every entry of a lock file."""
    entries: dict[str, tuple[Version, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            entries[current] = (Version(match.group(2)), 0)
        elif "--hash=sha256:" in line and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


@pytest.mark.parametrize(("source", "lock"), sorted(LOCKS.items()))
def test_every_lock_pins_its_inputs_with_hashes(source: str, lock: str) -> None:
    text = (REPO / lock).read_text()
    assert "#    bash scripts/lock" in text, f"{lock} was not written by scripts/lock"
    entries = locked(REPO / lock)
    assert entries
    assert [name for name, (_, hashes) in entries.items() if hashes == 0] == []
    # Every non-comment line is a pin, a hash or a `via` note: no unpinned or URL requirement slips in.
    for line in text.splitlines():
        stripped = line.strip()
        assert not stripped or stripped.startswith(("#", "--hash=sha256:")) or PIN.match(stripped), line
    for requirement in input_requirements(REPO / source):
        name = requirement.name.lower().replace("_", "-")
        assert name in entries, f"{lock} lacks {name} from {source}: run bash scripts/lock"
        assert requirement.specifier.contains(entries[name][0], prereleases=True), (
            f"{lock} pins {name}=={entries[name][0]} outside {source}'s {requirement.specifier}: run bash scripts/lock"
        )


def test_the_program_and_policy_locks_agree_on_the_pulumi_sdk() -> None:
    assert locked(REPO / "requirements.lock")["pulumi"][0] == locked(REPO / "policy/requirements.lock")["pulumi"][0]


@pytest.mark.parametrize(
    ("script", "lock", "venv"),
    [("scripts/setup", "requirements-dev.lock", ".venv"), ("scripts/setup-policy", "policy/requirements-dev.lock", "policy/venv")],
)
def test_setup_scripts_install_exactly_their_lock(script: str, lock: str, venv: str) -> None:
    lines = [line.strip() for line in (REPO / script).read_text().splitlines() if not line.startswith("#")]
    assert [line for line in lines if "pip sync" in line] == [
        f'"${{uv[@]}}" pip sync --quiet --require-hashes --python {venv}/bin/python {lock}'
    ]
    # The only other install is uv itself, pinned, when neither PATH nor pip has it.
    assert [line for line in lines if "pip install" in line] == [
        'python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"'
    ]


# CODEOWNERS coverage: tests/gitops/test_codeowners.py (computed from what credentialed jobs run).


def test_the_uv_pin_is_one_version_everywhere() -> None:
    # Dependabot updates neither (.github/dependabot.yml): one version in the workflows and in scripts/setup, bumped together.
    setup = re.search(r'"uv==([0-9.]+)"', (REPO / "scripts" / "setup").read_text())
    assert setup
    versions = {setup.group(1)}
    for workflow in (REPO / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            versions |= {str(s["with"]["version"]) for s in job.get("steps", []) if "setup-uv" in s.get("uses", "")}
    assert len(versions) == 1, versions


def test_dependabot_covers_every_ecosystem_it_can() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    covered = {(u["package-ecosystem"], d) for u in config["updates"] for d in u.get("directories", [u.get("directory")])}
    assert config["version"] == 2
    assert covered == {("github-actions", "/"), ("pip", "/"), ("pip", "/policy"), ("npm", "/")}
    assert next(u for u in config["updates"] if u["package-ecosystem"] == "pip")["versioning-strategy"] == "increase"
    assert (REPO / "package-lock.json").is_file() and (REPO / "policy" / "requirements.txt").is_file()
