"""Get-ExoCertificateFromKeyVault.ps1: parsed with tree-sitter-powershell (never run here), and read as a specification."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from components.certificate_vault import secret_name
from exo import facts
from tests.powershell import exchange_cmdlets, exchange_usage_problems, local_function_call_problems, parse_file

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "windows" / "Get-ExoCertificateFromKeyVault.ps1"
SOURCE = SCRIPT.read_text(encoding="utf-8")


def validate_pattern(parameter: str) -> re.Pattern[str]:
    """The [ValidatePattern('...')] of a script parameter, as a Python regex (the patterns use no .NET-only syntax)."""
    match = re.search(rf"\[ValidatePattern\('([^']+)'\)\]\s*\[string\] \${parameter}\b", SOURCE)
    assert match, f"no ValidatePattern on -{parameter}"
    return re.compile(match.group(1), re.IGNORECASE)  # PowerShell's -match is case-insensitive


def test_the_script_parses_without_error_or_missing_nodes() -> None:
    assert [str(problem) for problem in parse_file(SCRIPT).problems] == []


def test_every_exchange_cmdlet_and_parameter_exists_in_exchange_online(exchange_reference: dict[str, Any]) -> None:
    script = parse_file(SCRIPT)
    assert exchange_usage_problems(script, exchange_reference, other_commands=None) == []
    # It connects through ExoCommon.psm1 (tests/windows/test_shared_module.py), and calls no Exchange cmdlet itself.
    assert exchange_cmdlets(script, exchange_reference) == set()


def test_calls_to_its_own_functions_use_parameters_they_declare() -> None:
    assert local_function_call_problems(parse_file(SCRIPT)) == []


def test_it_connects_with_the_in_memory_certificate_object() -> None:
    (connect,) = parse_file(SCRIPT).calls("Connect-ExoSession")
    assert {p.lower() for p in connect.parameters} >= {"certificate", "appid", "organization", "exchangeenvironmentname"}
    # Not the thumbprint (needs the store) nor a file path with a password (needs a PFX on disk).
    assert not {"CertificateThumbprint", "CertificateFilePath", "CertificatePassword"} & set(connect.parameters)
    assert not connect.splatted
    # The caller can end this connection alone.
    assert "ConnectionId  = $connectionId" in SOURCE and "Disconnect-ExchangeOnline -ConnectionId $session.ConnectionId" in SOURCE


def test_nothing_is_written_to_disk_and_no_az_module_is_loaded() -> None:
    script = parse_file(SCRIPT)
    writers = {
        "Set-Content", "Add-Content", "Out-File", "New-Item", "Copy-Item", "Export-PfxCertificate", "Export-Certificate",
        "Import-PfxCertificate", "Start-Transcript", "certutil", "certutil.exe", "Tee-Object",
    }  # fmt: skip
    assert not {c.name for c in script.commands} & writers
    assert not [c.name for c in script.commands if re.match(r"^(Connect|Get|Set)-Az", c.name)]
    for api in ("WriteAllBytes", "WriteAllText", "PersistKeySet", "MachineKeySet", "PersistKeyInCsp", "Export("):
        assert api not in SOURCE, api


def test_it_takes_the_stack_outputs_as_mandatory_parameters() -> None:
    parameters = {p.name: p for p in parse_file(SCRIPT).parameters}
    for name in ("VaultUri", "SecretName", "AppId", "Organization"):
        assert parameters[name].mandatory, name
    assert parameters["ExchangeEnvironmentName"].default == "'O365Default'"
    assert parameters["CertificateOnly"].type_name == "switch"


@pytest.mark.parametrize(
    "uri", ["https://kv-exo-contoso.vault.azure.net/", "https://kv-exo.vault.usgovcloudapi.net", "https://kv-exo.vault.azure.cn/"]
)
def test_vault_uris_of_every_cloud_are_accepted(uri: str) -> None:
    assert validate_pattern("VaultUri").fullmatch(uri)


@pytest.mark.parametrize("uri", ["http://kv-exo.vault.azure.net/", "https://kv-exo.evil.example/", "https://kv.vault.azure.net/secrets/x"])
def test_other_uris_are_refused(uri: str) -> None:
    assert not validate_pattern("VaultUri").fullmatch(uri)


def test_the_secret_names_the_stack_creates_pass_the_scripts_pattern() -> None:
    pattern = validate_pattern("SecretName")
    for identity in ("exo", "reports", "a" * 32):
        assert pattern.fullmatch(secret_name(identity))


def test_it_expects_the_content_type_the_stack_writes() -> None:
    assert f"$PemContentType = '{facts.PEM_CONTENT_TYPE}'" in SOURCE


def test_it_gets_tokens_from_the_arc_agent_or_the_vm_metadata_service_and_reads_the_key_file_safely() -> None:
    assert "$env:IDENTITY_ENDPOINT -and $env:IMDS_ENDPOINT" in SOURCE
    assert "api-version=2020-06-01" in SOURCE  # Azure Arc identity endpoint
    assert "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01" in SOURCE
    assert "-notmatch '^Basic realm=(.+)$'" in SOURCE
    # Only the agent's own .key files are read, whatever the challenge says.
    assert "AzureConnectedMachineAgent\\Tokens" in SOURCE and "-ne '.key'" in SOURCE
    # The local identity endpoints are never reached through a proxy.
    assert "New-HttpClient -NoProxy $true" in SOURCE


def test_the_token_audience_follows_the_vaults_cloud() -> None:
    assert "$keyVaultResource = 'https://' + $vaultHost.Substring($vaultHost.IndexOf('.') + 1)" in SOURCE


def test_it_builds_the_certificate_in_memory_on_both_powershell_editions() -> None:
    assert "CreateFromPem($Pem, $Pem)" in SOURCE  # PowerShell 7
    assert "New-Object -TypeName System.Security.Cryptography.RSACng" in SOURCE  # Windows PowerShell 5.1: ephemeral CNG key
    assert "CopyWithPrivateKey($certificate, $rsa)" in SOURCE
    # The decoded key and the private RSA components are zeroed when done.
    assert "[Array]::Clear($keyDer, 0, $keyDer.Length)" in SOURCE


def test_it_checks_validity_and_signing_before_connecting() -> None:
    script = parse_file(SCRIPT)
    (signing,) = script.calls("Test-ExoKeySigning")
    (connect,) = script.calls("Connect-ExoSession")
    assert signing.line < connect.line
    assert SOURCE.index("outside its validity") < SOURCE.index("Connect-ExoSession -Certificate $certificate")
    assert "Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1'" in SOURCE
