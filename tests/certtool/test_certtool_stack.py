"""Reading the stack outputs of the contract, from JSON or from a (stand-in) Pulumi CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from certtool.errors import BadInputError, MissingOutputError, PulumiCliError
from certtool.stack import parse_stack_outputs, run_pulumi_stack_output
from tests.certtool.conftest import KeyPair, stack_outputs


def test_the_only_identity_is_the_default(pair: KeyPair) -> None:
    outputs = parse_stack_outputs(json.dumps(stack_outputs(("exo", pair))), "outputs.json")
    identity = outputs.identity(None)
    assert identity.name == "exo"
    assert identity.thumbprint == pair.thumbprint
    assert identity.organization == "contoso.onmicrosoft.com"
    assert outputs.private_key_pem("exo") == pair.key_pem


def test_several_identities_need_a_choice(pair: KeyPair, other_pair: KeyPair) -> None:
    outputs = parse_stack_outputs(json.dumps(stack_outputs(("exo", pair), ("reports", other_pair))), "o.json")
    with pytest.raises(
        MissingOutputError,
        match=r"2 identities \(exo, reports\); choose one with --identity",
    ):
        outputs.identity(None)
    assert outputs.identity("reports").thumbprint == other_pair.thumbprint
    with pytest.raises(MissingOutputError, match="no identity 'nope'"):
        outputs.identity("nope")


def test_missing_identities_output(pair: KeyPair) -> None:
    outputs = parse_stack_outputs(json.dumps({"somethingElse": 1}), "o.json")
    with pytest.raises(MissingOutputError, match="no output 'identities'"):
        outputs.identity(None)


def test_missing_identity_field(pair: KeyPair) -> None:
    values = stack_outputs(("exo", pair))
    del values["identities"]["exo"]["thumbprint"]
    with pytest.raises(MissingOutputError, match=r"identities\.exo\.thumbprint' is missing"):
        parse_stack_outputs(json.dumps(values), "o.json").identity("exo")


def test_private_keys_masked_without_show_secrets(pair: KeyPair) -> None:
    values = stack_outputs(("exo", pair), privateKeys="[secret]")
    with pytest.raises(MissingOutputError, match="--show-secrets"):
        parse_stack_outputs(json.dumps(values), "o.json").private_key_pem("exo")


def test_missing_private_key(pair: KeyPair) -> None:
    values = stack_outputs(("exo", pair), privateKeys={})
    with pytest.raises(MissingOutputError, match=r"privateKeys\.exo"):
        parse_stack_outputs(json.dumps(values), "o.json").private_key_pem("exo")


@pytest.mark.parametrize("text", ["not json", "[1, 2]"])
def test_bad_json(text: str) -> None:
    with pytest.raises(BadInputError, match=r"o\.json"):
        parse_stack_outputs(text, "o.json")


def _fake_pulumi(directory: Path, body: str) -> None:
    script = directory / "pulumi"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_runs_pulumi_with_show_secrets(pair: KeyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(stack_outputs(("exo", pair))))
    _fake_pulumi(tmp_path, f'echo "$@" > "{tmp_path}/args"\ncat "{tmp_path}/outputs.json"\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    outputs = run_pulumi_stack_output("dev", "/srv/exo")

    assert outputs.identity(None).thumbprint == pair.thumbprint
    assert (tmp_path / "args").read_text().split() == [
        "stack", "output", "--show-secrets", "--json", "--non-interactive", "--stack", "dev", "--cwd", "/srv/exo",
    ]  # fmt: skip


def test_pulumi_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pulumi(tmp_path, "echo \"error: no stack named 'prod' found\" >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PulumiCliError, match="no stack named 'prod' found"):
        run_pulumi_stack_output("prod", None)


def test_missing_pulumi_cli_points_to_the_alternatives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PulumiCliError, match="--stack-outputs FILE"):
        run_pulumi_stack_output(None, None)
