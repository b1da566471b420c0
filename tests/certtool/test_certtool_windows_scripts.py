"""The PowerShell for Windows hosts: it parses, calls only what Exchange Online has, and does what the docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from powershell import (
    CommandCall,
    command_calls,
    exchange_cmdlets,
    exchange_problems,
    load_exo_reference,
    script_parameters,
    syntax_errors,
)

from certtool.pfx import CSP_NAME

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "windows"
INSTALL = SCRIPTS / "Install-ExoCertificate.ps1"
WRAPPER = SCRIPTS / "Invoke-ExoScheduledTask.ps1"
SWITCH = SCRIPTS / "Switch-ExoTaskCertificate.ps1"
MODULE = SCRIPTS / "ExoCertificate.psm1"
ALL_SCRIPTS = sorted(
    [*SCRIPTS.glob("*.ps1"), *SCRIPTS.glob("*.psm1")], key=lambda path: path.name
)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    loaded = load_exo_reference()
    if loaded is None:
        pytest.skip(
            "../shared/reference/exo-cmdlets.json is not next to the repo; Exchange cmdlet checks skipped"
        )
    return loaded


def calls_named(path: Path, name: str) -> list[CommandCall]:
    return [
        call
        for call in command_calls(path.read_bytes())
        if call.name.lower() == name.lower()
    ]


def test_the_scripts_exist() -> None:
    assert [path.name for path in ALL_SCRIPTS] == [
        "ExoCertificate.psm1",
        "Install-ExoCertificate.ps1",
        "Invoke-ExoScheduledTask.ps1",
        "Switch-ExoTaskCertificate.ps1",
    ]


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda path: path.name)
def test_script_parses_without_error_or_missing_nodes(script: Path) -> None:
    assert syntax_errors(script.read_bytes()) == []


def test_the_parser_check_catches_broken_powershell() -> None:
    broken = b"function Test-It {\n    if ($true) { Write-Output 'x'\n}\n"
    assert syntax_errors(broken) != []


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda path: path.name)
def test_exchange_cmdlets_and_parameters_exist_in_exchange_online(
    script: Path, reference: dict[str, Any]
) -> None:
    assert exchange_problems(command_calls(script.read_bytes()), reference) == []


def test_connect_and_disconnect_are_in_the_reference(reference: dict[str, Any]) -> None:
    """The checks above cover the connection cmdlets only because the reference lists them."""
    for name in (
        "Connect-ExchangeOnline",
        "Disconnect-ExchangeOnline",
        "Get-ConnectionInformation",
    ):
        assert reference[name]["exo"] is True
    connect = reference["Connect-ExchangeOnline"]["params"]
    assert all(
        connect[name]
        for name in ("CertificateThumbprint", "Certificate", "AppId", "Organization")
    )


def test_which_exchange_cmdlets_each_script_uses(reference: dict[str, Any]) -> None:
    assert exchange_cmdlets(command_calls(INSTALL.read_bytes()), reference) == set()
    assert exchange_cmdlets(command_calls(WRAPPER.read_bytes()), reference) == {
        "Connect-ExchangeOnline",
        "Disconnect-ExchangeOnline",
    }
    assert exchange_cmdlets(command_calls(SWITCH.read_bytes()), reference) == {
        "Connect-ExchangeOnline",
        "Get-ConnectionInformation",
        "Disconnect-ExchangeOnline",
    }


# --- the cmdlet-check helper itself, on a small inline reference ----------------------------------------------

TINY_REFERENCE = {
    "Get-Mailbox": {"exo": True, "applicable": "Exchange Online", "params": {"Identity": True, "ResultSize": True, "IgnoreDefaultScope": False}},
    "Add-ADPermission": {"exo": False, "applicable": "Exchange Server 2019", "params": {"Identity": False}},
}  # fmt: skip


def test_helper_flags_unknown_and_on_premises_only_names() -> None:
    source = b"""
Get-Mailbox -Identity x -ResultSize Unlimited -Verbose -ErrorAction Stop
Get-Mailbox -Identity x -IgnoreDefaultScope -Filtr 'x'
Add-ADPermission -Identity x
Get-Mailbox @query
Write-Output -InputObject 1
"""
    problems = exchange_problems(command_calls(source), TINY_REFERENCE)
    assert problems == [
        "line 3: Get-Mailbox -IgnoreDefaultScope does not apply to Exchange Online",
        "line 3: Get-Mailbox has no parameter -Filtr",
        "line 4: Add-ADPermission is not available in Exchange Online (Exchange Server 2019)",
        "line 5: Get-Mailbox uses splatting (@query); write the parameters out so they can be checked",
    ]


def test_helper_keeps_nested_commands_apart() -> None:
    calls = command_calls(
        b"$boxes | ForEach-Object { Get-Mailbox -Identity $_ -ResultSize 1 }\n"
    )
    assert [(call.name, call.parameters) for call in calls] == [
        ("ForEach-Object", ()),
        ("Get-Mailbox", ("Identity", "ResultSize")),
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
    parameters = script_parameters(INSTALL.read_bytes())
    assert parameters["Password"] == "securestring"
    assert {"PfxPath", "TaskAccount", "ExpectedThumbprint", "ImportMethod"} <= set(
        parameters
    )
    assert calls_named(INSTALL, "Read-Host")[0].parameters == (
        "Prompt",
        "AsSecureString",
    )


def test_install_script_targets_the_machine_store_and_grants_read() -> None:
    text = INSTALL.read_text()
    assert "$StoreLocation = 'Cert:\\LocalMachine\\My'" in text
    assert "'My', 'LocalMachine'" in text
    assert "FileSystemAccessRule -ArgumentList $taskSid, 'Read', 'Allow'" in text
    assert calls_named(INSTALL, "Set-Acl")


def test_install_script_removes_only_expired_same_subject_certificates() -> None:
    text = INSTALL.read_text()
    assert (
        "$_.Subject -eq $installed.Subject -and $_.Thumbprint -ne $thumbprint -and $_.NotAfter -lt $now"
        in text
    )
    assert any(
        "DeleteKey" in call.parameters for call in calls_named(INSTALL, "Remove-Item")
    )


def test_install_script_undoes_a_cng_or_exportable_import() -> None:
    text = INSTALL.read_text()
    assert re.search(r"if \(\$key\.IsCng\) \{\s+Remove-InstalledCertificate", text)
    assert re.search(r"if \(\$key\.Exportable\) \{\s+Remove-InstalledCertificate", text)


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
    assert (
        "CERT_KEY_PROV_INFO_PROP_ID = 2" in text
        and "CRYPT_MACHINE_KEYSET = 0x20" in text
    )
    assert "IsCng         = ($info.ProviderType -eq 0)" in text
    # The signing check is what MSAL does for a client assertion: RS256.
    assert (
        "HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1"
        in text
    )
    assert [call.parameters for call in calls_named(MODULE, "Export-ModuleMember")] == [
        ("Function",)
    ]


def test_both_scripts_load_the_module_from_their_own_folder() -> None:
    for script in (INSTALL, WRAPPER):
        assert (
            "Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1'"
            in script.read_text()
        )


def test_install_script_prints_the_thumbprint() -> None:
    assert INSTALL.read_text().rstrip().endswith("Write-Output $thumbprint")


def test_wrapper_connects_with_the_stack_values() -> None:
    connects = calls_named(WRAPPER, "Connect-ExchangeOnline")
    assert [call.parameters for call in connects] == [
        (
            "CertificateThumbprint",
            "AppId",
            "Organization",
            "ExchangeEnvironmentName",
            "ShowBanner",
            "ErrorAction",
        ),
        (
            "Certificate",
            "AppId",
            "Organization",
            "ExchangeEnvironmentName",
            "ShowBanner",
            "ErrorAction",
        ),
    ]
    parameters = script_parameters(WRAPPER.read_bytes())
    assert {
        "ScriptPath",
        "CertificateThumbprint",
        "AppId",
        "Organization",
        "ExchangeEnvironmentName",
    } <= set(parameters)


def test_wrapper_disconnects_in_finally_and_exits_with_its_code() -> None:
    text = WRAPPER.read_text()
    assert re.search(
        r"finally \{\s+try \{\s+Disconnect-ExchangeOnline -Confirm:\$false", text
    )
    assert text.rstrip().endswith("exit $exitCode")
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
    calls = [call.name for call in command_calls(SWITCH.read_bytes())]
    assert calls.index("Connect-ExchangeOnline") < calls.index("Set-ScheduledTask")
    assert calls.index("Get-ConnectionInformation") < calls.index("Set-ScheduledTask")
