"""Issue 22, "one shared module": the Windows host scripts connect, retry and explain failures through ExoCommon.psm1 (the module
the runbooks are assembled with), and every helper a script calls is defined exactly once across the script and the modules it
imports. Read with tree-sitter, as every PowerShell test here."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.powershell import imported_modules, local_function_call_problems, parse_file, parse_with_imported_modules

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "windows"
COMMON = SCRIPTS / "ExoCommon.psm1"
HOST_SCRIPTS = sorted(SCRIPTS.glob("*.ps1"), key=lambda path: path.name)
MODULES = sorted(SCRIPTS.glob("*.psm1"), key=lambda path: path.name)
# The scripts that sign in to Exchange Online, and how (the identity each uses stays its own).
CONNECTING = {
    "Get-ExoCertificateFromKeyVault.ps1": "Certificate",  # the in-memory certificate from Key Vault
    "Invoke-ExoScheduledTask.ps1": "CertificateThumbprint",  # the task's installed certificate, user store then machine store
    "Switch-ExoTaskCertificate.ps1": "Certificate",  # the new machine-store certificate under test
}
# Helpers: every function any script or module of scripts/windows defines.
SHOULD_PROCESS = re.compile(r"function ([\w-]+) \{\s*(?:<#(?:(?!#>).)*#>\s*)?\[CmdletBinding\(SupportsShouldProcess", re.DOTALL)
HELPERS = {name.lower() for path in [*HOST_SCRIPTS, *MODULES] for name in parse_file(path).functions}


@pytest.mark.parametrize("script", HOST_SCRIPTS, ids=lambda path: path.name)
def test_every_helper_a_script_calls_is_defined_once_across_the_script_and_its_modules(script: Path) -> None:
    combined = parse_with_imported_modules(script)
    assert combined.problems == ()
    defined = Counter(name.lower() for name in combined.functions)
    assert [name for name, count in defined.items() if count > 1] == [], "a helper defined twice: keep it in the module only"
    called = {c.name.lower() for c in combined.commands} & HELPERS
    assert called <= set(defined), f"called but neither defined nor imported: {sorted(called - set(defined))}"
    # -WhatIf/-Confirm are declared by [CmdletBinding(SupportsShouldProcess)], which the parameter list does not show.
    should_process = {
        name for path in [script, *imported_modules(script)] for name in SHOULD_PROCESS.findall(path.read_text(encoding="utf-8"))
    }
    problems = [
        p
        for p in local_function_call_problems(combined)
        if not re.search(rf": ({'|'.join(should_process) or '-'}): no parameter -(WhatIf|Confirm)$", p)
    ]
    assert problems == []


def test_no_helper_is_defined_in_two_files() -> None:
    owners: dict[str, list[str]] = {}
    for path in [*HOST_SCRIPTS, *MODULES]:
        for name in parse_file(path).functions:
            owners.setdefault(name.lower(), []).append(path.name)
    assert {name: files for name, files in owners.items() if len(files) > 1} == {}


@pytest.mark.parametrize("script", sorted(CONNECTING), ids=str)
def test_connecting_scripts_use_the_shared_connection(script: str) -> None:
    path = SCRIPTS / script
    own = parse_file(path)
    assert COMMON in imported_modules(path)
    # No connection, disconnection or module import of their own: ExoCommon.psm1's, which retries transient errors, turns a
    # refusal into the fix, and disconnects only the connection it made.
    for cmdlet in ("Connect-ExchangeOnline", "Disconnect-ExchangeOnline"):
        assert not own.calls(cmdlet), f"{script} calls {cmdlet} itself"
    assert not [c for c in own.calls("Import-Module") if c.value_of("Name") == "ExchangeOnlineManagement"]
    (connect,) = own.calls("Connect-ExoSession")
    assert connect.has_parameter(CONNECTING[script]) and connect.has_parameter("AppId") and connect.has_parameter("Organization")
    assert connect.has_parameter("ExchangeEnvironmentName") and connect.has_parameter("RequiredRoleHint")
    # A task script or an administrator's own work follows: the whole module, so no -CommandName.
    assert not connect.has_parameter("CommandName")
    assert own.calls("Import-ExoManagementModule")


def test_scripts_that_do_not_connect_do_not_load_exchange() -> None:
    for path in HOST_SCRIPTS:
        if path.name not in CONNECTING:
            assert not parse_file(path).calls("Connect-ExoSession"), path.name


@pytest.mark.parametrize("script", HOST_SCRIPTS, ids=lambda path: path.name)
def test_every_exchange_call_across_script_and_modules_stops_on_error(script: Path, exchange_reference: dict[str, Any]) -> None:
    combined = parse_with_imported_modules(script)
    loose = [
        f"{c.name} (in {c.in_function or 'the script'}) -ErrorAction {c.value_of('ErrorAction')}"
        for c in combined.commands
        if c.name.lower() in exchange_reference and (c.value_of("ErrorAction") or "").lower() != "stop"
    ]
    assert loose == []


def test_a_session_without_named_cmdlets_is_a_certificate_session_chosen_only_when_none_are_named() -> None:
    # The runbooks always name their cmdlets (tests/runbooks); the host scripts name none, for a task script's unknown cmdlets.
    module = parse_file(COMMON)
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    whole = [c for c in module.calls("Connect-ExchangeOnline") if not c.has_parameter("CommandName")]
    assert len(whole) == 2
    for call in whole:
        assert call.has_parameter("CertificateThumbprint") or call.has_parameter("Certificate")
        assert lines[call.line - 2].strip() == "if ($fullSession) {"
        assert not call.has_parameter("SkipLoadingFormatData"), "the task script's output is formatted for the log"
    assert "$fullSession = @($CommandName).Count -eq 0" in COMMON.read_text(encoding="utf-8")
    assert "A managed identity connection is for runbooks" in COMMON.read_text(encoding="utf-8")
