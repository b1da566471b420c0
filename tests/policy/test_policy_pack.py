"""The CrossGuard wiring of the pack, in the environment the Pulumi CLI runs it in (policy/venv).

Run with the pack's own interpreter (see docs/policy.md); in the program's .venv, where pulumi-policy is not
installed, this module is skipped.
"""

from __future__ import annotations

import ast
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

pulumi_policy = pytest.importorskip(
    "pulumi_policy",
    reason="pulumi-policy lives in the pack's own venv: run `policy/venv/bin/python -m pytest tests/policy` (docs/policy.md)",
)

import exo_policies as ep
import yaml
from exo_policy_pack import PACK_NAME, build_policies
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
POLICIES = {policy.name: policy for policy in build_policies()}


def run(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: dict[str, Any],
    config: dict[str, Any] | None = None,
) -> list[str]:
    opts = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        f"urn:pulumi:dev::exo::{resource_type}::r",
        "r",
        opts,
        None,
        config,
    )
    reported: list[str] = []
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_one_policy_per_rule_with_its_enforcement_level() -> None:
    assert list(POLICIES) == [rule.name for rule in ep.RULES]
    for rule in ep.RULES:
        expected = EnforcementLevel.ADVISORY if rule.enforcement == "advisory" else EnforcementLevel.MANDATORY
        assert POLICIES[rule.name].enforcement_level == expected


def test_configurable_policies_publish_their_schema() -> None:
    schemas = {name: policy.config_schema.properties for name, policy in POLICIES.items() if policy.config_schema is not None}
    assert schemas == {
        "exchange-app-only-directory-roles": {"allowGlobalAdministrator": {"type": "boolean", "default": False}},
        "certificate-validity-bounded": {"maxValidityDays": {"type": "integer", "minimum": 1, "default": 365}},
        "schedule-start-in-future": {"minimumLeadMinutes": {"type": "integer", "minimum": 0, "default": 5}},
    }


def test_validator_reports_the_rule_message() -> None:
    reported = run(
        POLICIES["rsa-key-minimum-size"],
        ep.TLS_PRIVATE_KEY,
        {"algorithm": "RSA", "rsaBits": 1024.0},
    )
    assert reported == ["RSA key size 1024.0 is too small: set `rsaBits` to at least 2048."]


def test_validator_ignores_other_resource_types() -> None:
    assert run(POLICIES["no-client-secrets"], ep.TLS_PRIVATE_KEY, {}) == []


def test_validator_reads_the_policy_config() -> None:
    policy = POLICIES["exchange-app-only-directory-roles"]
    ga = {"roleId": "62e90394-69f5-4237-9190-012177145e10"}
    resource_type = ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT
    assert len(run(policy, resource_type, ga)) == 1
    assert run(policy, resource_type, ga, {"allowGlobalAdministrator": True}) == []


def test_unknown_input_during_preview_is_left_to_the_engine() -> None:
    # An input computed from another resource is unknown in preview; the SDK turns the raised
    # UnknownValueError into an advisory "can't run policy during preview" note, and the rule runs
    # again with the real value during `pulumi up`.
    with pytest.raises(UnknownValueError):
        run(
            POLICIES["no-first-party-service-principal"],
            ep.AZUREAD_SERVICE_PRINCIPAL,
            {"clientId": UNKNOWN_STRING_VALUE},
        )


def test_project_file_runs_the_pack_with_its_own_virtualenv() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert project["version"]
    assert PACK_NAME == "exo-automation"


def test_requirements_pin_the_installed_sdks() -> None:
    pins = dict(
        line.split("==") for line in (POLICY_DIR / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")
    )
    assert pins["pulumi-policy"] == version("pulumi-policy")
    assert pins["pulumi"] == version("pulumi")


def test_main_only_builds_the_pack() -> None:
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [
        node.value.func.id
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
    ]
    assert calls == ["PolicyPack"]
    assert not any(isinstance(node, ast.FunctionDef | ast.ClassDef) for node in tree.body)


def test_pack_serves_the_analyzer_protocol_like_the_cli_runs_it() -> None:
    # The CLI's python analyzer runs `python -m pulumi.policy <engine> <pack dir>` in the pack directory and
    # reads the gRPC port from stdout; do the same and speak the Analyzer protocol to it.
    import subprocess
    import sys

    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), f"pack did not print its port (got {port!r})"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == PACK_NAME
            assert [p.name for p in info.policies] == [r.name for r in ep.RULES]

            props = struct_pb2.Struct()
            props.update({"algorithm": "RSA", "rsaBits": 1024})
            response = analyzer.Analyze(
                analyzer_pb2.AnalyzeRequest(
                    type=ep.TLS_PRIVATE_KEY,
                    properties=props,
                    urn=f"urn:pulumi:dev::exo::{ep.TLS_PRIVATE_KEY}::weak",
                    name="weak",
                ),
                timeout=30,
            )
        assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [("rsa-key-minimum-size", analyzer_pb2.MANDATORY)]
        assert "set `rsaBits` to at least 2048" in response.diagnostics[0].message
    finally:
        server.terminate()
        server.wait(timeout=30)
