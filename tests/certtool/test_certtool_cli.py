"""`python -m certtool export|verify` as an operator uses it."""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from certtool import pfx
from certtool.cli import main
from certtool.material import thumbprint
from tests.certtool.conftest import NOW, FakeWorld, KeyPair, make_certificate, stack_outputs

PASSWORD = "a long enough PFX password"
REPO_ROOT = Path(__file__).resolve().parents[2]
WriteJson = Callable[[str, Any], Path]


def run(world: FakeWorld, *args: str) -> int:
    return main(list(args), world.environment())


def export_from_outputs(world: FakeWorld, outputs: Path, out: Path, *extra: str) -> int:
    world.environ["PFX_PASSWORD"] = PASSWORD
    return run(
        world,
        "export",
        "--stack-outputs",
        str(outputs),
        "--out",
        str(out),
        "--password-env",
        "PFX_PASSWORD",
        *extra,
    )


# --- export -------------------------------------------------------------------------------------------------


def test_export_writes_a_private_pfx_that_imports_with_the_password(
    world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path
) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    out = tmp_path / "exo.pfx"

    assert export_from_outputs(world, outputs, out) == 0, world.stderr.getvalue()

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    loaded = pkcs12.load_pkcs12(out.read_bytes(), PASSWORD.encode())
    assert loaded.cert is not None and thumbprint(loaded.cert.certificate) == pair.thumbprint
    contents = pfx.read_pfx(out.read_bytes(), PASSWORD, str(out))
    assert contents.csp_name == "Microsoft Enhanced RSA and AES Cryptographic Provider"
    assert contents.encryption is pfx.PfxEncryption.TRIPLEDES_SHA1  # the default: imports on Server 2016
    assert contents.friendly_name == "exo-automation exo until 2027-11-28"
    report = world.stdout.getvalue() + world.stderr.getvalue()
    assert pair.thumbprint in report and "Windows Server 2016" in report
    assert PASSWORD not in report and "PRIVATE KEY" not in report


def test_export_with_aes(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    out = tmp_path / "exo.pfx"
    assert export_from_outputs(world, outputs, out, "--encryption", "aes256-sha256") == 0
    assert pfx.read_pfx(out.read_bytes(), PASSWORD, "x").encryption is pfx.PfxEncryption.AES256_SHA256
    assert "Windows Server 2019" in world.stdout.getvalue()


def test_export_picks_the_named_identity(
    world: FakeWorld,
    pair: KeyPair,
    other_pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair), ("reports", other_pair)))
    out = tmp_path / "reports.pfx"
    assert export_from_outputs(world, outputs, out, "--identity", "reports") == 0
    assert thumbprint(pfx.read_pfx(out.read_bytes(), PASSWORD, "x").certificate) == other_pair.thumbprint


def test_export_without_identity_when_there_are_several(
    world: FakeWorld,
    pair: KeyPair,
    other_pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair), ("reports", other_pair)))
    assert export_from_outputs(world, outputs, tmp_path / "x.pfx") == 1
    assert "choose one with --identity" in world.stderr.getvalue()
    assert not (tmp_path / "x.pfx").exists()


def test_export_reads_outputs_from_the_pulumi_cli_by_default(world: FakeWorld, pair: KeyPair, tmp_path: Path) -> None:
    world.pulumi_outputs = stack_outputs(("exo", pair))
    world.environ["PFX_PASSWORD"] = PASSWORD
    code = run(
        world,
        "export",
        "--stack",
        "dev",
        "--out",
        str(tmp_path / "x.pfx"),
        "--password-env",
        "PFX_PASSWORD",
    )
    assert code == 0 and world.pulumi_calls == [("dev", None)]


def test_export_reads_outputs_from_stdin(world: FakeWorld, pair: KeyPair, tmp_path: Path) -> None:
    world.stdin = json.dumps(stack_outputs(("exo", pair))).encode()
    world.environ["PFX_PASSWORD"] = PASSWORD
    code = run(
        world,
        "export",
        "--stack-outputs",
        "-",
        "--out",
        str(tmp_path / "x.pfx"),
        "--password-env",
        "PFX_PASSWORD",
    )
    assert code == 0


def test_export_from_pem_files(world: FakeWorld, pair: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text(pair.certificate_pem)
    (tmp_path / "key.pem").write_text(pair.key_pem)
    world.environ["PFX_PASSWORD"] = PASSWORD
    out = tmp_path / "x.pfx"
    code = run(
        world, "export", "--pem", str(tmp_path / "cert.pem"), "--pem", str(tmp_path / "key.pem"),
        "--out", str(out), "--password-env", "PFX_PASSWORD",
    )  # fmt: skip
    assert code == 0, world.stderr.getvalue()
    assert thumbprint(pfx.read_pfx(out.read_bytes(), PASSWORD, "x").certificate) == pair.thumbprint


def test_export_prompts_twice_for_the_password(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    world.prompts = [PASSWORD, PASSWORD]
    out = tmp_path / "x.pfx"
    assert run(world, "export", "--stack-outputs", str(outputs), "--out", str(out)) == 0
    assert world.asked == ["PFX password: ", "PFX password (again): "]
    pfx.read_pfx(out.read_bytes(), PASSWORD, "x")


def test_export_refuses_differing_prompt_answers(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    world.prompts = [PASSWORD, PASSWORD + "!"]
    assert (
        run(
            world,
            "export",
            "--stack-outputs",
            str(outputs),
            "--out",
            str(tmp_path / "x.pfx"),
        )
        == 1
    )
    assert "the two passwords differ" in world.stderr.getvalue()


def test_export_without_terminal_or_variable(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    world.terminal = False
    assert (
        run(
            world,
            "export",
            "--stack-outputs",
            str(outputs),
            "--out",
            str(tmp_path / "x.pfx"),
        )
        == 1
    )
    assert "--password-env VAR" in world.stderr.getvalue()


@pytest.mark.parametrize("environ", [{}, {"PFX_PASSWORD": ""}, {"PFX_PASSWORD": "short"}])
def test_export_password_variable_problems(
    world: FakeWorld,
    pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
    environ: dict[str, str],
) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    world.environ.update(environ)
    code = run(
        world,
        "export",
        "--stack-outputs",
        str(outputs),
        "--out",
        str(tmp_path / "x.pfx"),
        "--password-env",
        "PFX_PASSWORD",
    )
    assert code == 1
    assert any(text in world.stderr.getvalue() for text in ("is not set", "is empty", "at least 12 characters"))
    assert not (tmp_path / "x.pfx").exists()


@pytest.mark.parametrize("option", ["--password", "--pass", "--passout"])
def test_password_on_the_command_line_is_refused(
    pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
    option: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "export",
                "--stack-outputs",
                str(outputs),
                "--out",
                str(tmp_path / "x.pfx"),
                option,
                PASSWORD,
            ]
        )
    assert exit_info.value.code == 2
    assert "visible in shell history" in capsys.readouterr().err
    assert not (tmp_path / "x.pfx").exists()


def test_export_refuses_to_overwrite_without_force(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    out = tmp_path / "x.pfx"
    out.write_bytes(b"keep me")
    assert export_from_outputs(world, outputs, out) == 1
    assert "--force" in world.stderr.getvalue() and out.read_bytes() == b"keep me"
    assert export_from_outputs(world, outputs, out, "--force") == 0
    assert out.read_bytes() != b"keep me"


def test_export_refuses_a_key_from_another_pair(
    world: FakeWorld,
    pair: KeyPair,
    other_pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    values = stack_outputs(("exo", pair))
    values["privateKeys"]["exo"] = other_pair.key_pem
    assert export_from_outputs(world, write_json("o.json", values), tmp_path / "x.pfx") == 1
    assert "does not match the certificate" in world.stderr.getvalue()


def test_export_refuses_an_expired_certificate(
    world: FakeWorld,
    rsa_keys: list[rsa.RSAPrivateKey],
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    expired = KeyPair(
        rsa_keys[0],
        make_certificate(
            rsa_keys[0],
            not_before=NOW - datetime.timedelta(days=90),
            not_after=NOW - datetime.timedelta(hours=1),
        ),
    )
    code = export_from_outputs(world, write_json("o.json", stack_outputs(("exo", expired))), tmp_path / "x.pfx")
    assert code == 4
    assert "expired on" in world.stderr.getvalue() and "pulumi up" in world.stderr.getvalue()


def test_export_refuses_inconsistent_outputs(
    world: FakeWorld,
    pair: KeyPair,
    other_pair: KeyPair,
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    values = stack_outputs(("exo", pair))
    values["identities"]["exo"]["thumbprint"] = other_pair.thumbprint
    assert export_from_outputs(world, write_json("o.json", values), tmp_path / "x.pfx") == 1
    assert "not the SHA-1 of certificatePem" in world.stderr.getvalue()


def test_export_reports_a_missing_output(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    values = stack_outputs(("exo", pair))
    del values["privateKeys"]
    assert export_from_outputs(world, write_json("o.json", values), tmp_path / "x.pfx") == 1
    assert "no output 'privateKeys'" in world.stderr.getvalue()


def test_export_reports_an_unreadable_outputs_file(world: FakeWorld, tmp_path: Path) -> None:
    assert export_from_outputs(world, tmp_path / "missing.json", tmp_path / "x.pfx") == 1
    assert "missing.json: cannot read" in world.stderr.getvalue()


def test_export_warns_when_expiry_is_near(
    world: FakeWorld,
    rsa_keys: list[rsa.RSAPrivateKey],
    write_json: WriteJson,
    tmp_path: Path,
) -> None:
    soon = KeyPair(
        rsa_keys[0],
        make_certificate(rsa_keys[0], not_after=NOW + datetime.timedelta(days=10)),
    )
    assert (
        export_from_outputs(
            world,
            write_json("o.json", stack_outputs(("exo", soon))),
            tmp_path / "x.pfx",
        )
        == 0
    )
    assert "only 10 days left" in world.stderr.getvalue()


# --- verify -------------------------------------------------------------------------------------------------


@pytest.fixture
def exported(pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> Path:
    out = tmp_path / "exo.pfx"
    assert export_from_outputs(FakeWorld(), write_json("first.json", stack_outputs(("exo", pair))), out) == 0
    return out


def verify(world: FakeWorld, *args: str) -> int:
    world.environ["PFX_PASSWORD"] = PASSWORD
    return run(world, "verify", *args)


def test_verify_pfx_that_matches_the_current_credential(world: FakeWorld, pair: KeyPair, exported: Path, write_json: WriteJson) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    assert (
        verify(
            world,
            "--pfx",
            str(exported),
            "--password-env",
            "PFX_PASSWORD",
            "--stack-outputs",
            str(outputs),
        )
        == 0
    )
    report = world.stdout.getvalue()
    assert pair.thumbprint in report
    assert "Days left:          365" in report
    assert "Current credential: yes" in report
    assert "Key bag CSP:        Microsoft Enhanced RSA and AES Cryptographic Provider" in report


def test_verify_json_report(world: FakeWorld, pair: KeyPair, exported: Path, write_json: WriteJson) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    code = verify(
        world,
        "--pfx",
        str(exported),
        "--password-env",
        "PFX_PASSWORD",
        "--stack-outputs",
        str(outputs),
        "--json",
    )
    report = json.loads(world.stdout.getvalue())
    assert code == 0 and report["exitCode"] == 0
    assert report["thumbprint"] == pair.thumbprint and report["daysLeft"] == 365 and report["expired"] is False
    assert report["stack"]["matchesCurrentCredential"] is True
    assert report["pfx"]["cspName"] == pfx.CSP_NAME and report["pfx"]["importsIntoCsp"] is True
    assert report["pfx"]["macIterations"] == pfx.DEFAULT_ITERATIONS


def test_verify_after_rotation_says_the_host_is_behind(
    world: FakeWorld,
    pair: KeyPair,
    other_pair: KeyPair,
    exported: Path,
    write_json: WriteJson,
) -> None:
    rotated = write_json("rotated.json", stack_outputs(("exo", other_pair)))
    assert (
        verify(
            world,
            "--pfx",
            str(exported),
            "--password-env",
            "PFX_PASSWORD",
            "--stack-outputs",
            str(rotated),
        )
        == 3
    )
    assert f"NO (the stack's current thumbprint is {other_pair.thumbprint})" in world.stdout.getvalue()


def test_verify_pfx_from_stdin(world: FakeWorld, exported: Path) -> None:
    world.stdin = exported.read_bytes()
    assert verify(world, "--pfx", "-", "--password-env", "PFX_PASSWORD", "--no-stack") == 0
    assert "Source:          stdin" in world.stdout.getvalue()


def test_verify_refuses_two_inputs_on_stdin(world: FakeWorld) -> None:
    code = verify(world, "--pfx", "-", "--password-env", "PFX_PASSWORD", "--stack-outputs", "-")
    assert code == 1 and "stdin ('-') can feed only one input" in world.stderr.getvalue()


def test_verify_wrong_password(world: FakeWorld, exported: Path) -> None:
    world.environ["WRONG"] = "not the password at all"
    assert (
        run(
            world,
            "verify",
            "--pfx",
            str(exported),
            "--password-env",
            "WRONG",
            "--no-stack",
        )
        == 1
    )
    assert "wrong password" in world.stderr.getvalue()


def test_verify_bad_file(world: FakeWorld, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pfx"
    bogus.write_bytes(b"PK\x03\x04 this is a zip file")
    assert verify(world, "--pfx", str(bogus), "--password-env", "PFX_PASSWORD", "--no-stack") == 1
    assert "bogus.pfx: not a PKCS#12/PFX file" in world.stderr.getvalue()


def test_verify_expired_pem(world: FakeWorld, rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path) -> None:
    expired = make_certificate(
        rsa_keys[0],
        not_before=NOW - datetime.timedelta(days=90),
        not_after=NOW - datetime.timedelta(days=3),
    )
    path = tmp_path / "old.pem"
    path.write_text(KeyPair(rsa_keys[0], expired).certificate_pem)
    assert verify(world, "--pem", str(path), "--no-stack") == 4
    assert "Days left:   expired" in world.stdout.getvalue()


def test_verify_min_days(world: FakeWorld, rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path) -> None:
    soon = make_certificate(rsa_keys[0], not_after=NOW + datetime.timedelta(days=20))
    path = tmp_path / "soon.pem"
    path.write_text(KeyPair(rsa_keys[0], soon).certificate_pem)
    assert verify(world, "--pem", str(path), "--no-stack", "--min-days", "30") == 5
    assert "only 20 days left" in world.stderr.getvalue()


def test_verify_pem_with_a_foreign_key(world: FakeWorld, pair: KeyPair, other_pair: KeyPair, tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_text(pair.certificate_pem + other_pair.key_pem)
    assert verify(world, "--pem", str(path), "--no-stack") == 1
    assert "does not match the certificate" in world.stderr.getvalue()


def test_verify_pem_against_the_stack(world: FakeWorld, pair: KeyPair, write_json: WriteJson, tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_text(pair.certificate_pem + pair.key_pem)
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    assert verify(world, "--pem", str(path), "--stack-outputs", str(outputs)) == 0
    assert "Private key:        matches the certificate" in world.stdout.getvalue()


def test_verify_reports_a_missing_identity(world: FakeWorld, pair: KeyPair, exported: Path, write_json: WriteJson) -> None:
    outputs = write_json("outputs.json", stack_outputs(("exo", pair)))
    code = verify(
        world,
        "--pfx",
        str(exported),
        "--password-env",
        "PFX_PASSWORD",
        "--stack-outputs",
        str(outputs),
        "--identity",
        "nope",
    )
    assert code == 1 and "no identity 'nope'" in world.stderr.getvalue()


# --- the real entry point -----------------------------------------------------------------------------------


def test_python_dash_m_certtool_from_the_repo_root(rsa_keys: list[rsa.RSAPrivateKey], tmp_path: Path) -> None:
    # A child process reads the real clock, so this certificate is valid around the real now.
    real_now = datetime.datetime.now(datetime.UTC)
    current = KeyPair(
        rsa_keys[0],
        make_certificate(
            rsa_keys[0],
            not_before=real_now - datetime.timedelta(days=1),
            not_after=real_now + datetime.timedelta(days=90),
        ),
    )
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack_outputs(("exo", current))))
    environment = {**os.environ, "PFX_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "certtool"]
    exported = subprocess.run(
        [*command, "export", "--stack-outputs", str(outputs), "--out", str(tmp_path / "x.pfx"), "--password-env", "PFX_PASSWORD"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    verified = subprocess.run(
        [*command, "verify", "--pfx", str(tmp_path / "x.pfx"), "--password-env", "PFX_PASSWORD", "--stack-outputs", str(outputs), "--json"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["stack"]["matchesCurrentCredential"] is True
