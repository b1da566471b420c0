"""The PowerShell for Windows hosts: it parses, calls only what Exchange Online has, and does what the docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from certtool.pfx import CSP_NAME
from tests.powershell import (
    CommandCall,
    exchange_cmdlets,
    exchange_usage_problems,
    parse_file,
    parse_source,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "windows"
INSTALL = SCRIPTS / "Install-ExoCertificate.ps1"
WRAPPER = SCRIPTS / "Invoke-ExoScheduledTask.ps1"
SWITCH = SCRIPTS / "Switch-ExoTaskCertificate.ps1"
MODULE = SCRIPTS / "ExoCertificate.psm1"
ALL_SCRIPTS = sorted([*SCRIPTS.glob("*.ps1"), *SCRIPTS.glob("*.psm1")], key=lambda path: path.name)


def calls_named(path: Path, name: str) -> list[CommandCall]:
    return parse_file(path).calls(name)


def script_parameters(path: Path) -> dict[str, str | None]:
    return {parameter.name: parameter.type_name for parameter in parse_file(path).parameters}


def test_the_scripts_exist() -> None:
    assert [path.name for path in ALL_SCRIPTS] == [
        "ExoCertificate.psm1",
        "ExoCommon.psm1",  # Exchange helpers shared with the runbooks: tests/runbooks, tests/windows/test_windows_task_scripts.py
        "Get-ExoCertificateFromKeyVault.ps1",  # the Key Vault option's fetcher: tests/windows/test_vault_script.py
        "Install-ExoCertificate.ps1",
        "Invoke-ExoScheduledTask.ps1",
        "New-ExoHostCertificate.ps1",  # host certificates: tests/windows/test_host_certificate_script.py
        "Switch-ExoTaskCertificate.ps1",
    ]


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda path: path.name)
def test_script_parses_without_error_or_missing_nodes(script: Path) -> None:
    assert [str(problem) for problem in parse_file(script).problems] == []


def test_the_parser_check_catches_broken_powershell() -> None:
    broken = b"function Test-It {\n    if ($true) { Write-Output 'x'\n}\n"
    assert parse_source(broken).problems != ()


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda path: path.name)
def test_exchange_cmdlets_and_parameters_exist_in_exchange_online(script: Path, exchange_reference: dict[str, Any]) -> None:
    # These scripts mostly call Windows cmdlets: check the Exchange ones the reference knows.
    assert exchange_usage_problems(parse_file(script), exchange_reference, other_commands=None) == []


def test_connect_and_disconnect_are_in_the_reference(exchange_reference: dict[str, Any]) -> None:
    """The checks above cover the connection cmdlets only because the reference lists them."""
    for name in (
        "Connect-ExchangeOnline",
        "Disconnect-ExchangeOnline",
        "Get-ConnectionInformation",
    ):
        assert exchange_reference[name.lower()]["exo"] is True
    connect = exchange_reference["connect-exchangeonline"]["params"]
    assert all(connect[name] for name in ("CertificateThumbprint", "Certificate", "AppId", "Organization"))


def test_which_exchange_cmdlets_each_script_uses(exchange_reference: dict[str, Any]) -> None:
    assert exchange_cmdlets(parse_file(INSTALL), exchange_reference) == set()
    # Connecting and disconnecting go through ExoCommon.psm1 (tests/windows/test_shared_module.py).
    assert exchange_cmdlets(parse_file(WRAPPER), exchange_reference) == set()
    assert exchange_cmdlets(parse_file(SWITCH), exchange_reference) == {"Get-ConnectionInformation"}
    assert exchange_cmdlets(parse_file(SCRIPTS / "ExoCommon.psm1"), exchange_reference) == {
        "Connect-ExchangeOnline",
        "Get-ConnectionInformation",
        "Disconnect-ExchangeOnline",
    }


# --- the cmdlet-check helper itself is tested in tests/runbooks/test_powershell_helper.py; here: the mode these scripts use

TINY_REFERENCE = {
    "get-mailbox": {
        "name": "Get-Mailbox", "exo": True, "applicable": "Exchange Online", "params": {"Identity": True, "IgnoreDefaultScope": False}
    },
    "add-adpermission": {"name": "Add-ADPermission", "exo": False, "applicable": "Exchange Server 2019", "params": {"Identity": False}},
}  # fmt: skip


def test_exchange_only_mode_ignores_windows_cmdlets_but_not_exchange_mistakes() -> None:
    script = parse_source(
        "Import-PfxCertificate -FilePath x -CertStoreLocation Cert:\\LocalMachine\\My\n"
        "Get-Mailbox -Identity x -IgnoreDefaultScope\n"
        "Add-ADPermission -Identity x\n"
    )
    assert exchange_usage_problems(script, TINY_REFERENCE, other_commands=None) == [
        "line 2: Get-Mailbox: parameter -IgnoreDefaultScope does not apply to Exchange Online",
        "line 3: Add-ADPermission: not available in Exchange Online (applies to: Exchange Server 2019)",
    ]


# --- what each script does, read from its syntax tree ------------------------------------------------------------


def test_install_script_forces_the_same_csp_that_certtool_writes() -> None:
    text = INSTALL.read_text()
    assert f"$CspName = '{CSP_NAME}'" in text
    (certutil,) = calls_named(INSTALL, "certutil.exe")
    assert {"f", "p", "csp", "importPFX"} <= set(certutil.parameters)
    # certutil's NoExport modifier makes the key non-exportable; the .NET path never asks for Exportable.
    assert re.search(r"-importPFX My \$PfxPath 'NoExport,AT_KEYEXCHANGE'", text)
    assert "'MachineKeySet, PersistKeySet'" in text and "Exportable'" not in text


def test_install_script_takes_the_password_as_a_secure_string() -> None:
    parameters = script_parameters(INSTALL)
    assert parameters["Password"] == "securestring"
    assert {"PfxPath", "TaskAccount", "ExpectedThumbprint", "ImportMethod"} <= set(parameters)
    assert calls_named(INSTALL, "Read-Host")[0].parameters == (
        "Prompt",
        "AsSecureString",
    )


def test_install_script_targets_the_machine_store_and_grants_read() -> None:
    text = INSTALL.read_text()
    assert "$StoreLocation = 'Cert:\\LocalMachine\\My'" in text
    assert "'My', 'LocalMachine'" in text
    (grant,) = calls_named(INSTALL, "Grant-ExoKeyReadAccess")
    assert grant.parameters == ("KeyFile", "Sid", "WhatIf")
    # The module grants Read and nothing more, to the one SID it is given.
    module = MODULE.read_text()
    assert "FileSystemAccessRule -ArgumentList $Sid, 'Read', 'Allow'" in module
    assert calls_named(MODULE, "Set-Acl")


def test_install_script_removes_only_expired_same_subject_certificates() -> None:
    text = INSTALL.read_text()
    assert "$_.Subject -eq $installed.Subject -and $_.Thumbprint -ne $thumbprint -and $_.NotAfter -lt $now" in text
    assert calls_named(INSTALL, "Remove-ExoStoreCertificate")
    assert any("DeleteKey" in call.parameters for call in calls_named(MODULE, "Remove-Item"))


def test_install_script_undoes_a_cng_or_exportable_import() -> None:
    text = INSTALL.read_text()
    assert re.search(r"if \(\$key\.IsCng\) \{\s+Remove-ExoStoreCertificate", text)
    assert re.search(r"if \(\$key\.Exportable\) \{\s+Remove-ExoStoreCertificate", text)


def test_key_provider_module_reads_the_provider_recorded_with_the_certificate() -> None:
    """Provider type 0 in CERT_KEY_PROV_INFO marks a CNG key; the C# mirrors the wincrypt.h struct field order."""
    text = MODULE.read_text()
    struct = text[text.index("struct CRYPT_KEY_PROV_INFO") :]
    fields = re.findall(r"public (?:IntPtr|int) (\w+);", struct[: struct.index("}")])
    assert fields == [
        "pwszContainerName",
        "pwszProvName",
        "dwProvType",
        "dwFlags",
        "cProvParam",
        "rgProvParam",
        "dwKeySpec",
    ]
    assert "CERT_KEY_PROV_INFO_PROP_ID = 2" in text and "CRYPT_MACHINE_KEYSET = 0x20" in text
    assert "IsCng         = ($info.ProviderType -eq 0)" in text
    # The signing check is what MSAL does for a client assertion: RS256.
    assert "HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1" in text
    assert [call.parameters for call in calls_named(MODULE, "Export-ModuleMember")] == [("Function",)]
    exported = re.search(r"Export-ModuleMember -Function (.+)", text)
    assert exported is not None
    functions = {name.strip(" '") for name in exported.group(1).split(",")}
    assert functions == {
        "Get-ExoKeyProvider",
        "Test-ExoKeySigning",
        "Resolve-ExoAccountSid",
        "Grant-ExoKeyReadAccess",
        "Remove-ExoStoreCertificate",
    }
    assert functions == {match for match in re.findall(r"^function (\S+) \{", text, re.MULTILINE)}


def test_both_scripts_load_the_module_from_their_own_folder() -> None:
    for script in (INSTALL, WRAPPER):
        assert "Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1'" in script.read_text()


def test_install_script_prints_the_thumbprint() -> None:
    assert INSTALL.read_text().rstrip().endswith("Write-Output $thumbprint")


def test_wrapper_connects_with_the_stack_values() -> None:
    (connect,) = calls_named(WRAPPER, "Connect-ExoSession")
    assert connect.parameters == ("CertificateThumbprint", "AppId", "Organization", "ExchangeEnvironmentName", "RequiredRoleHint")
    # The module connects from the user store by thumbprint, from the machine store with the certificate object.
    module = {c.parameters[0] for c in calls_named(SCRIPTS / "ExoCommon.psm1", "Connect-ExchangeOnline") if "AppId" in c.parameters}
    assert module == {"CertificateThumbprint", "Certificate"}
    parameters = script_parameters(WRAPPER)
    assert {
        "ScriptPath",
        "CertificateThumbprint",
        "AppId",
        "Organization",
        "ExchangeEnvironmentName",
    } <= set(parameters)


def test_wrapper_disconnects_in_finally_and_exits_with_its_code() -> None:
    text = WRAPPER.read_text()
    assert re.search(r"finally \{\s+(#[^\n]*\s+)?if \(\$connectionId\) \{\s+Disconnect-ExoSession -ConnectionId \$connectionId", text)
    assert text.rstrip().endswith("exit $script:ExitCode")
    codes = dict(re.findall(r"\$(Exit\w+) = (\d)", text))
    assert codes == {
        "ExitSuccess": "0",
        "ExitTaskFailed": "1",
        "ExitConnectFailed": "2",
        "ExitCertificateProblem": "3",
        "ExitSetupProblem": "4",
    }


def test_wrapper_logs_to_a_file() -> None:
    assert calls_named(WRAPPER, "Add-Content")[0].parameters == (
        "LiteralPath",
        "Value",
        "Encoding",
    )
    assert calls_named(WRAPPER, "Start-Transcript")


def test_rotation_script_tests_before_it_switches() -> None:
    calls = [call.name for call in parse_file(SWITCH).commands]
    assert calls.index("Connect-ExoSession") < calls.index("Set-ScheduledTask")
    assert calls.index("Get-ConnectionInformation") < calls.index("Set-ScheduledTask")
