"""The tree-sitter helper must catch what the runbook tests rely on it to catch."""

from __future__ import annotations

from typing import Any

from tests.powershell import (
    exchange_usage_problems,
    local_function_call_problems,
    parse_source,
)

BROKEN = """\
param([Parameter(Mandatory)] [string] $Organization)
try {
    Connect-ExchangeOnline -ManagedIdentity -Organization $Organization
    if ($x -eq ) { Get-EXOMailbox }
"""


def test_broken_script_is_flagged_with_a_line_number() -> None:
    script = parse_source(BROKEN)
    assert script.problems, "an unterminated try block and an empty comparison must not parse cleanly"
    assert all(p.line >= 1 for p in script.problems)
    assert any(p.line in (2, 4, 5) for p in script.problems)


def test_valid_script_has_no_problems() -> None:
    script = parse_source("Get-EXOMailbox -ResultSize 10 | Where-Object { $_.Name -like 'a*' }\n")
    assert script.problems == ()


def test_parameters_and_mandatory_flags_are_read() -> None:
    script = parse_source(
        """
        [CmdletBinding()]
        param(
            [Parameter(Mandatory)] [string] $Organization,
            [Parameter(Mandatory = $true)] [int] $Count,
            [Parameter(Mandatory = $false)] [bool] $Remediate = $false,
            $Untyped
        )
        function Inner { param([Parameter(Mandatory)] $NotAScriptParameter) }
        """
    )
    by_name = {p.name: p for p in script.parameters}
    assert list(by_name) == ["Organization", "Count", "Remediate", "Untyped"]
    assert by_name["Organization"].mandatory and by_name["Count"].mandatory
    assert not by_name["Remediate"].mandatory and by_name["Remediate"].default == "$false"
    assert by_name["Untyped"].type_name is None and not by_name["Untyped"].has_default
    assert script.functions == ("Inner",)


def test_commands_parameters_and_finally_placement_are_read() -> None:
    script = parse_source(
        """
        Disconnect-ExchangeOnline -Confirm:$false
        try { Get-EXOMailbox -ResultSize Unlimited -Properties ForwardingSmtpAddress }
        finally { if ($connected) { Disconnect-ExchangeOnline -Confirm:$false } }
        Set-Mailbox @arguments
        """
    )
    first, inside = script.calls("disconnect-exchangeonline")
    assert not first.in_finally and inside.in_finally
    assert inside.parameters == ("Confirm",)
    (get,) = script.calls("Get-EXOMailbox")
    assert get.parameters == ("ResultSize", "Properties") and get.has_parameter("resultsize")
    (splat,) = script.calls("Set-Mailbox")
    assert splat.splatted


REFERENCE: dict[str, dict[str, Any]] = {
    "get-exomailbox": {
        "name": "Get-EXOMailbox",
        "exo": True,
        "params": {"Identity": True, "ResultSize": True},
    },
    "get-mailbox": {
        "name": "Get-Mailbox",
        "exo": True,
        "params": {"Identity": True, "Database": False},
    },
    "get-exchangeserver": {
        "name": "Get-ExchangeServer",
        "exo": False,
        "applicable": "Exchange Server 2019",
    },
}


def test_unknown_exchange_parameter_is_reported() -> None:
    script = parse_source("Get-EXOMailbox -Identity a@b.c -NoSuchParameter 1 -ErrorAction Stop\n")
    problems = exchange_usage_problems(script, REFERENCE)
    assert problems == ["line 1: Get-EXOMailbox: unknown parameter -NoSuchParameter"]


def test_on_premises_only_parameter_and_cmdlet_are_reported() -> None:
    script = parse_source("Get-Mailbox -Database DB01\nGet-ExchangeServer\n")
    problems = exchange_usage_problems(script, REFERENCE)
    assert any("-Database does not apply to Exchange Online" in p for p in problems)
    assert any("Get-ExchangeServer: not available in Exchange Online" in p for p in problems)


def test_unknown_command_and_splatting_are_reported() -> None:
    script = parse_source("Get-EXOMailboxx -Identity x\nGet-EXOMailbox @params\nWrite-Output 1\n")
    problems = exchange_usage_problems(script, REFERENCE, other_commands={"Write-Output"})
    assert any("Get-EXOMailboxx: not an Exchange cmdlet" in p for p in problems)
    assert any("splatted" in p for p in problems)
    assert not any("Write-Output" in p for p in problems)


def test_local_function_called_with_an_undeclared_parameter_is_reported() -> None:
    script = parse_source(
        """
        function Write-Record { param([psobject] $Record, [string] $Format) }
        function Join-Pair($Left, $Right) { }
        Write-Record -Record $x -Formatt Json -Verbose
        Join-Pair -Left 1 -Right 2
        """
    )
    assert [p.name for p in script.function_parameters["Join-Pair"]] == [
        "Left",
        "Right",
    ]
    assert local_function_call_problems(script) == ["line 4: Write-Record: no parameter -Formatt"]


def test_values_and_streaming_are_read_from_the_call() -> None:
    script = parse_source(
        """
        Get-EXOMailbox -ResultSize Unlimited -ErrorAction Stop | Where-Object { $_ } |
            ForEach-Object { $_ }
        $held = @(Get-EXOMailbox -ResultSize Unlimited | Where-Object { $_ })
        $also = Get-EXOMailbox -ResultSize Unlimited
        $wrapped = Invoke-ExchangeCall -Call { Get-EXOMailbox -ResultSize Unlimited | Select-Object -First 1 }
        Set-Mailbox -Confirm:$false -ErrorAction:'Stop' -ForwardingSmtpAddress $null
        function Read-All { Get-MailUser -ResultSize Unlimited | Write-Output }
        """
    )
    mailbox_reads = [(c.line, c.streamed) for c in script.calls("Get-EXOMailbox")]
    assert mailbox_reads == [(2, True), (4, False), (5, False), (6, False)]
    assert [c.streamed for c in script.calls("Get-MailUser")] == [True]
    (set_mailbox,) = script.calls("Set-Mailbox")
    assert (set_mailbox.value_of("ErrorAction"), set_mailbox.value_of("Confirm"), set_mailbox.value_of("ForwardingSmtpAddress")) == (
        "Stop",
        "$false",
        "$null",
    )
    assert script.calls("Get-EXOMailbox")[0].value_of("ResultSize") == "Unlimited"


def test_captured_output_is_told_from_output_that_reaches_the_stream() -> None:
    script = parse_source(
        """
        function Write-It { Write-Output 1 }
        Write-It
        $x = Write-It
        $y = @(Write-It)
        Write-It | Out-Null
        Get-Thing | ForEach-Object { Write-It }
        Get-Thing | Where-Object { Write-It } | ForEach-Object { $_ }
        $z = Get-Thing | ForEach-Object { Write-It }
        try { if ($true) { Write-It } } finally { }
        """
    )
    assert [(c.line, c.captured) for c in script.calls("Write-It")] == [
        (3, False),
        (4, True),
        (5, True),
        (6, True),
        (7, False),
        (8, True),
        (9, True),
        (10, False),
    ]
    assert [c.captured for c in script.calls("Write-Output")] == [False]
