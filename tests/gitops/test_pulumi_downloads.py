"""What credentialed jobs download besides the locks (the Pulumi CLI and provider plugins) is pinned by SHA-256 in the repository,
at the versions the program uses, and the installer refuses anything without a digest."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PINS = REPO / ".github" / "pulumi-downloads.json"
INSTALLER = REPO / ".github" / "scripts" / "install-pulumi.sh"
# Provider plugin name -> the Python SDK that loads it (requirements.lock pins the SDK; the SDK asks for its own plugin version).
SDKS = {"azure-native": "pulumi-azure-native", "azuread": "pulumi-azuread", "tls": "pulumi-tls"}


def pins() -> dict[str, Any]:
    return json.loads(PINS.read_text())


def locked(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==([^\s]+)", (REPO / "requirements.lock").read_text(), re.MULTILINE)
    assert match, package
    return match.group(1)


def test_the_cli_pin_is_the_cli_version_the_repository_names() -> None:
    cli = pins()["cli"]
    version = (REPO / ".pulumi.version").read_text().strip()
    assert cli["version"] == version
    assert cli["url"] == f"https://get.pulumi.com/releases/sdk/pulumi-v{version}-linux-x64.tar.gz"


def test_every_provider_sdk_in_the_lock_has_its_plugin_pinned_at_the_same_version() -> None:
    plugins = {p["name"]: p for p in pins()["plugins"]}
    lock = (REPO / "requirements.lock").read_text()
    sdks = set(re.findall(r"^(pulumi-[a-z0-9-]+|pulumiverse-[a-z0-9-]+)==", lock, re.MULTILINE)) - {"pulumi-policy"}
    assert sdks == {SDKS.get(name, f"pulumiverse-{name}") for name in plugins}, "a provider SDK without a pinned plugin, or a stale pin"
    for name, plugin in plugins.items():
        assert plugin["kind"] == "resource"
        # Pulumi's own plugins come from its release server; a pulumiverse one must name its own.
        assert plugin.get("server") == (None if name in SDKS else "github://api.github.com/pulumiverse"), name
        assert plugin["version"] == locked(SDKS.get(name, f"pulumiverse-{name}")), name


def test_every_digest_is_a_sha256_or_empty_and_the_installer_refuses_empty_ones(tmp_path: Path) -> None:
    for entry in [pins()["cli"], *pins()["plugins"]]:
        assert entry["sha256"] == "" or re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    unpinned = pins()
    unpinned["plugins"][0]["sha256"] = ""
    pin_file = tmp_path / "pins.json"
    pin_file.write_text(json.dumps(unpinned))
    result = subprocess.run(
        ["bash", str(INSTALLER), str(pin_file)],
        env={"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"plugin {unpinned['plugins'][0]['name']} {unpinned['plugins'][0]['version']}" in result.stderr
    assert "scripts/pin-pulumi-downloads" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pins.json"], "nothing was downloaded"


def test_the_installer_turns_off_automatic_plugin_downloads() -> None:
    text = INSTALLER.read_text()
    assert 'echo "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" >> "$GITHUB_ENV"' in text
    assert "sha256sum --check --strict" in text and '--exact --checksum "$plugin_sha256"' in text


def test_the_installer_removes_the_bundled_dynamic_provider_hosts(tmp_path: Path) -> None:
    """A CLI tarball laid out as Pulumi's release packs it (pulumi/pulumi scripts/prep-for-goreleaser.sh: the dynamic-provider hosts
    `pulumi-resource-pulumi-python` and `-nodejs` sit next to the binaries) leaves no dynamic-provider host behind."""
    import hashlib
    import stat
    import tarfile

    version = pins()["cli"]["version"]
    layout = tmp_path / "release" / "pulumi"
    layout.mkdir(parents=True)
    bundled = ["pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python", "pulumi-resource-pulumi-nodejs"]
    for name in bundled:
        (layout / name).write_text(f"#!/bin/sh\necho v{version}\n" if name == "pulumi" else "#!/bin/sh\nexit 0\n")
        (layout / name).chmod(stat.S_IRWXU)
    archive = tmp_path / "pulumi.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(layout, arcname="pulumi")
    pin_file = tmp_path / "pins.json"
    cli = {"version": version, "url": archive.as_uri(), "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}
    pin_file.write_text(json.dumps({"cli": cli, "plugins": []}))
    runner = tmp_path / "runner"
    runner.mkdir()
    result = subprocess.run(
        ["bash", str(INSTALLER), str(pin_file)],
        env={
            "PATH": "/usr/bin:/bin",
            "RUNNER_TEMP": str(runner),
            "GITHUB_PATH": str(tmp_path / "path"),
            "GITHUB_ENV": str(tmp_path / "env"),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    installed = sorted(p.name for p in (runner / "pulumi-cli" / "pulumi").iterdir())
    assert installed == ["pulumi", "pulumi-language-python"]
    assert "PULUMI_IGNORE_AMBIENT_PLUGINS=true" in (tmp_path / "env").read_text().splitlines()
