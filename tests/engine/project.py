"""A temporary copy of the project driven by the real Pulumi CLI against the emulated providers, with nothing downloaded.

The copy's Pulumi.yaml names the emulated plugins under `plugins.providers` (the shipped one never does); the CLI runs with a
`file://` backend and a passphrase in a PULUMI_HOME of its own, automatic plugin acquisition and ambient plugins off, and the
program is run by tests/engine/language_host.py (the CLI's `--client`), since the Python language host cannot be built here.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.engine import emulated_cloud
from tests.engine.emulated_provider import CLOUD_VARIABLE, LATENCY_VARIABLE
from tests.mock_tenant import MockTenant
from tests.shifted_clock import OFFSET_VARIABLE, SITE_FOLDER

REPO = Path(__file__).resolve().parents[2]
CLI_VARIABLE = "EXO_ENGINE_CLI"
PASSPHRASE = "engine-tests-passphrase"
STACK_COMMANDS = ("preview", "up", "refresh", "destroy")
# The emulated plugins and the SDK package whose requested plugin version each must report.
EMULATED_PACKAGES = {"azure-native": "pulumi_azure_native", "azuread": "pulumi_azuread", "tls": "pulumi_tls", "time": "pulumiverse_time"}
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "tests")


def cli_directory() -> Path | None:
    value = os.environ.get(CLI_VARIABLE)
    return Path(value) if value and (Path(value) / "pulumi").is_file() else None


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class Result:
    command: list[str]
    exit_code: int
    output: str
    seconds: float

    def __str__(self) -> str:
        return f"$ {' '.join(self.command)}  (exit {self.exit_code})\n{self.output}"


class EngineProject:
    """One project copy, its stack state, its plugin folder and its emulated cloud, all under `root`."""

    def __init__(self, root: Path, cli: Path, *, tenant_options: dict[str, Any] | None = None) -> None:
        self.root = root
        self.cli = cli
        self.project = root / "project"
        self.cloud = root / "cloud.pickle"
        self.clock_offset = float(os.environ.get(OFFSET_VARIABLE, "0"))
        shutil.copytree(REPO, self.project, ignore=COPY_IGNORED)
        # The virtualenv `pulumi install` would create from the lock: the test suite's own (same lock), linked where Pulumi.yaml
        # points; tests/engine/test_dev_stack.py checks the runtime options name it.
        (self.project / ".venv").symlink_to(Path(sys.prefix))
        (root / "home").mkdir()
        (root / "state").mkdir()
        (root / "bin").mkdir()
        unshifted = root / "bin" / "python"
        unshifted.write_text(f'#!/bin/sh\nPYTHONPATH= exec "{sys.executable}" "$@"\n')
        unshifted.chmod(0o755)
        self._write_plugins()
        emulated_cloud.create(self.cloud, seed=21, **(tenant_options or {}))
        self._language_host: subprocess.Popen[str] | None = None
        self._language_host_address = ""

    # -- setup ---------------------------------------------------------------------------------------------------------------
    def _write_plugins(self) -> None:
        providers = []
        for package, distribution in EMULATED_PACKAGES.items():
            version = package_version(distribution)
            folder = self.root / "plugins" / package
            folder.mkdir(parents=True)
            script = folder / f"pulumi-resource-{package}"
            script.write_text(
                "#!/bin/sh\n"
                # Not the time-machine site folder: a gRPC server under it never starts (tests/engine/emulated_cloud.py).
                f'PYTHONPATH="{REPO}" exec "{sys.executable}" -m tests.engine.emulated_provider '
                f'{package} "{version or "0.0.0"}" "$@"\n'
            )
            script.chmod(0o755)
            entry: dict[str, Any] = {"name": package, "path": str(folder)}
            if version:
                # The SDK package asks for this plugin version; a project plugin of another version would not be used.
                entry["version"] = version
            providers.append(entry)
        project_file = self.project / "Pulumi.yaml"
        document = yaml.safe_load(project_file.read_text())
        document["plugins"] = {"providers": providers}
        project_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "TERM", LATENCY_VARIABLE)}
        return {
            **keep,
            "HOME": str(self.root / "home"),
            "PULUMI_HOME": str(self.root / "home" / ".pulumi"),
            "PULUMI_BACKEND_URL": f"file://{self.root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
            # The dynamic-provider shim beside the CLI starts this Python (the project's virtualenv), without the time-machine site
            # folder: it serves gRPC (see tests/engine/emulated_cloud.py).
            "PULUMI_PYTHON_CMD": str(self.root / "bin" / "python"),
            CLOUD_VARIABLE: str(self.cloud),
            OFFSET_VARIABLE: repr(self.clock_offset),
            "PYTHONPATH": str(SITE_FOLDER),
        }

    def move_clock(self, days: float) -> None:
        """Time passes for the program, the providers and the cloud (every process the CLI starts)."""
        self.clock_offset += days * 86400

    # -- running -------------------------------------------------------------------------------------------------------------
    def _ensure_language_host(self) -> str:
        if self._language_host is not None:
            self.stop_language_host()
        # The host serves gRPC, so it runs without the time-machine site folder; the program it starts runs with it.
        env = {**self.env(), "PYTHONPATH": str(REPO), "EXO_PROGRAM_PYTHONPATH": str(SITE_FOLDER)}
        self._language_host = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.engine.language_host",
                "--exec-script",
                str(self.cli / "pulumi-language-python-exec"),
                "--project-dir",
                str(self.project),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._language_host.stdout is not None
        port = self._language_host.stdout.readline().strip()
        self._language_host_address = f"127.0.0.1:{port}"
        return self._language_host_address

    def stop_language_host(self) -> None:
        if self._language_host is not None:
            self._language_host.terminate()
            self._language_host.wait(timeout=30)
            self._language_host = None

    def pulumi(self, *args: str, expect: int | None = 0, stack: str | None = "dev") -> Result:
        command = [str(self.cli / "pulumi"), *args]
        if args and args[0] in STACK_COMMANDS:
            # A new language host per command, as the CLI starts a new `pulumi-language-python` each time (the clock may have moved).
            command.append(f"--client={self._ensure_language_host()}")
            command += ["--non-interactive", "--color=never"]
            if stack:
                command += ["--stack", stack]
        started = time.monotonic()
        done = subprocess.run(command, cwd=self.project, env=self.env(), capture_output=True, text=True, check=False)
        result = Result(command, done.returncode, done.stdout + done.stderr, time.monotonic() - started)
        if expect is not None and done.returncode != expect:
            raise AssertionError(f"expected exit {expect}\n{result}")
        return result

    def preview_steps(self, *args: str, expect: int | None = 0) -> list[tuple[str, str, str]]:
        """`pulumi preview --json`: each planned change: operation, resource type and name (no-ops and refresh reads left out)."""
        result = self.pulumi("preview", "--json", *args, expect=expect)
        document = json.loads(result.output[result.output.index("{") :])
        steps = []
        for step in document.get("steps", []):
            if step["op"] in ("same", "refresh"):
                continue
            _stack, _project, qualified, name = step["urn"].split("::")[-4:]
            steps.append((step["op"], qualified.split("$")[-1], name))
        return sorted(steps)

    def stack_export(self, stack: str = "dev") -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export", "--stack", stack).output)

    def tenant(self) -> MockTenant:
        return emulated_cloud.read(self.cloud)

    def close(self) -> None:
        self.stop_language_host()
