"""What every runbook we ship must do, read from its syntax tree (no PowerShell runs here).

A runbook runs unattended in Azure Automation as the account's managed identity: it has to parse, connect with
`-ManagedIdentity -Organization <initial domain>`, fail loudly, always disconnect, and only use Exchange Online
cmdlets and parameters that exist.
"""

from __future__ import annotations

import re
from typing import Any

from tests.powershell import (
    PowerShellScript,
    exchange_usage_problems,
    local_function_call_problems,
)

from .conftest import RUNBOOK_FILES

# PowerShell's own cmdlets the runbooks may use: all ship with both Windows PowerShell 5.1 and PowerShell 7
# (Microsoft.PowerShell.Core / .Utility). Anything else must be an Exchange Online cmdlet or a script function,
# so a typo such as Get-EXOMailboxx fails the test instead of failing the 3 a.m. job.
POWERSHELL_CMDLETS = frozenset(
    {
        "ConvertFrom-Json",
        "ConvertTo-Json",
        "ForEach-Object",
        "Get-Command",
        "New-Object",
        "Select-Object",
        "Set-StrictMode",
        "Sort-Object",
        "Start-Sleep",
        "Where-Object",
        "Write-Output",
        "Write-Verbose",
        "Write-Warning",
        # Azure Automation's internal cmdlet for shared variables (in every cloud job's sandbox; not a module from a gallery).
        "Get-AutomationVariable",
    }
)

# Other ways of signing in that must not appear in a managed identity runbook.
FORBIDDEN_CONNECT_PARAMETERS = {
    "AccessToken",
    "AppId",
    "Certificate",
    "CertificateFilePath",
    "CertificatePassword",
    "CertificateThumbprint",
    "Credential",
    "UserPrincipalName",
    "Device",
    "InlineCredential",
}


def test_at_least_two_runbooks_are_shipped() -> None:
    assert len(RUNBOOK_FILES) >= 2, f"runbooks/ holds {[p.name for p in RUNBOOK_FILES]}"


def test_runbook_parses_without_syntax_errors(runbook: PowerShellScript) -> None:
    assert runbook.problems == (), "\n".join(str(p) for p in runbook.problems)


def test_runbook_connects_with_the_managed_identity_and_organization(
    runbook: PowerShellScript,
) -> None:
    connects = runbook.calls("Connect-ExchangeOnline")
    assert connects, "the runbook never calls Connect-ExchangeOnline"
    for call in connects:
        assert call.has_parameter("ManagedIdentity"), f"line {call.line}: no -ManagedIdentity"
        assert call.has_parameter("Organization"), f"line {call.line}: no -Organization"
        assert not call.splatted, f"line {call.line}: splatted connection parameters"
        other_sign_in = {p for p in call.parameters if p in FORBIDDEN_CONNECT_PARAMETERS}
        assert not other_sign_in, f"line {call.line}: other sign-in parameters {other_sign_in}"


def test_runbook_connection_errors_name_the_missing_role(
    runbook: PowerShellScript,
) -> None:
    assert runbook.path is not None
    source = runbook.path.read_text(encoding="utf-8")
    # The error Exchange Online gives when ManageAsApp is granted but no supported Entra role is assigned.
    assert re.search(r"supported in this scenario", source), "no handling of the unsupported-role error"
    assert re.search(r"Exchange Recipient Administrator|Global Reader|Exchange Administrator", source)


def test_runbook_disconnects_in_a_finally_block(runbook: PowerShellScript) -> None:
    disconnects = runbook.calls("Disconnect-ExchangeOnline")
    in_finally = [c for c in disconnects if c.in_finally]
    assert in_finally, "Disconnect-ExchangeOnline is not inside a finally block"
    assert all(c.has_parameter("Confirm") for c in in_finally), "disconnect must not prompt (-Confirm:$false)"


def test_runbook_declares_organization_mandatory(runbook: PowerShellScript) -> None:
    organization = runbook.parameter("Organization")
    assert organization is not None, "no Organization parameter in the script's param() block"
    assert organization.mandatory
    assert organization.type_name is not None and organization.type_name.lower() == "string"
    assert "ValidatePattern" in organization.attributes, "Organization must be checked for the onmicrosoft form"


def test_runbook_is_strict_and_stops_on_errors(runbook: PowerShellScript) -> None:
    strict = [c for c in runbook.calls("Set-StrictMode") if c.in_function is None]
    assert strict and strict[0].has_parameter("Version")
    stop = [a for a in runbook.assignments if a.variable.lower() == "erroractionpreference" and a.in_function is None]
    assert stop and stop[0].value.strip("'\"").lower() == "stop"


def test_runbook_writes_a_json_summary(runbook: PowerShellScript) -> None:
    top_level_json = [c for c in runbook.calls("ConvertTo-Json") if c.in_function is None]
    assert top_level_json, "no JSON summary written at script level"


def test_switch_like_parameters_are_safe_by_default(runbook: PowerShellScript) -> None:
    # Enforcement must be opt-in: a schedule that forgets the parameter only reports.
    for name in ("Remediate", "Enforce", "Apply"):
        parameter = runbook.parameter(name)
        if parameter is not None:
            assert parameter.type_name == "bool", "Azure Automation passes [bool], not [switch]"
            assert parameter.default == "$false"


def test_runbook_uses_only_existing_exchange_online_cmdlets_and_parameters(
    runbook: PowerShellScript, exchange_reference: dict[str, dict[str, Any]]
) -> None:
    problems = exchange_usage_problems(runbook, exchange_reference, POWERSHELL_CMDLETS)
    assert problems == [], "\n".join(problems)


def test_runbook_calls_its_own_functions_with_declared_parameters(
    runbook: PowerShellScript,
) -> None:
    problems = local_function_call_problems(runbook)
    assert problems == [], "\n".join(problems)


def test_connect_and_disconnect_are_in_the_exchange_reference(
    exchange_reference: dict[str, dict[str, Any]],
) -> None:
    # The parameter check above relies on the reference covering the module's own connection cmdlets.
    connect = exchange_reference["connect-exchangeonline"]
    assert connect["exo"] and {"ManagedIdentity", "Organization", "ShowBanner"} <= set(connect["params"])
    assert "Confirm" in exchange_reference["disconnect-exchangeonline"]["params"]
