"""`pulumi stack export` documents (version 3) for the pipeline's stand-in CLIs: the program's own state, and state a writer
tampered with.

The clean export holds every registration the program makes (tests/program/registered_urns.json, every recorded stack
config) under its recorded parent, each custom resource served by the default provider of its package, as the engine
writes them: `pulumi:providers:<package>::default_<version>` with the version the pins install (.github/pulumi-downloads.json).
A secret is the ciphertext object an export without --show-secrets writes (pulumi/pulumi sdk/go/common/resource/sig).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PINS = json.loads((REPO / ".github" / "pulumi-downloads.json").read_text())
RECORDED = json.loads((REPO / "tests" / "program" / "registered_urns.json").read_text())
PROJECT = "exo-automation"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def _urn(stack: str, kind: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{kind}::{name}"


def provider_reference(stack: str, package: str) -> str:
    version = next(p["version"] for p in PINS["plugins"] if p["name"] == package)
    return f"{_urn(stack, f'pulumi:providers:{package}', 'default_' + version.replace('.', '_'))}::0a1b2c3d-{package}"


def clean_export(stack: str = "contoso") -> dict[str, Any]:
    stack_urn = _urn(stack, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}")
    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {}}]
    for plugin in PINS["plugins"]:
        reference = provider_reference(stack, plugin["name"])
        inputs: dict[str, Any] = {"version": plugin["version"]}
        if plugin.get("server"):
            inputs["pluginDownloadURL"] = plugin["server"]
        resources.append(
            {
                "urn": reference.rsplit("::", 1)[0],
                "custom": True,
                "id": reference.rsplit("::", 1)[1],
                "type": f"pulumi:providers:{plugin['name']}",
                "inputs": inputs,
                "outputs": inputs,
            }
        )
    seen: set[str] = {stack_urn}
    for registrations in RECORDED.values():
        for kind, urn, parent in registrations:
            urn, parent = (u.replace("urn:pulumi:dev::", f"urn:pulumi:{stack}::") for u in (urn, parent))
            if urn in seen:
                continue
            seen.add(urn)
            package = kind.split(":", 1)[0]
            resource: dict[str, Any] = {"urn": urn, "custom": package != PROJECT, "type": kind, "parent": parent or stack_urn}
            if resource["custom"]:
                resource |= {
                    "id": urn.rsplit("::", 1)[1],
                    "provider": provider_reference(stack, package),
                    "inputs": {"name": urn.rsplit("::", 1)[1]},
                    "outputs": {"name": urn.rsplit("::", 1)[1], "secretValue": {**SECRET_SIG, "ciphertext": "djE6AAAA"}},
                }
            resources.append(resource)
    return {"version": 3, "deployment": {"manifest": {"time": "2026-01-01T00:00:00Z", "version": "v3.272.0"}, "resources": resources}}


def with_planted_dynamic_resource(exported: dict[str, Any], kind: str = "pulumi-python:dynamic:Resource") -> dict[str, Any]:
    """What a state writer adds to run code as the job's identity: a dynamic resource whose `__provider` is a pickle (any text
    stands in: nothing here or in the pipeline reads it) and the `pulumi-python` provider it names."""
    tampered = copy.deepcopy(exported)
    resources = tampered["deployment"]["resources"]
    stack = resources[0]["urn"].split("::", 1)[0].removeprefix("urn:pulumi:")
    provider = _urn(stack, "pulumi:providers:pulumi-python", "default")
    resources.append({"urn": provider, "custom": True, "id": "p1", "type": "pulumi:providers:pulumi-python", "inputs": {}, "outputs": {}})
    resources.append(
        {
            "urn": _urn(stack, kind, "innocent-looking"),
            "custom": True,
            "id": "r1",
            "type": kind,
            "provider": f"{provider}::p1",
            "parent": resources[0]["urn"],
            "inputs": {"__provider": "c3RhbmQtaW4gZm9yIGEgcGlja2xl"},
            "outputs": {"__provider": "c3RhbmQtaW4gZm9yIGEgcGlja2xl"},
        }
    )
    return tampered
