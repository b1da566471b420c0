"""What every runbook we ship must do, read from its syntax tree (no PowerShell runs here).

A runbook runs unattended in Azure Automation as the account's managed identity: it has to parse, connect with
`-ManagedIdentity -Organization <initial domain>`, fail loudly, always disconnect, and only use Exchange Online
cmdlets and parameters that exist.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from exo.powershell_script import parser
from exo.runbook_assembly import MODULE_BEGIN, MODULE_END
from tests.powershell import (
    PowerShellScript,
    exchange_usage_problems,
    local_function_call_problems,
    parse_file,
    parse_source,
)

from .conftest import MODULE_FILE, RUNBOOK_DIR, RUNBOOK_FILES, published, published_text


def _path(runbook: PowerShellScript) -> Path:
    assert runbook.path is not None
    return runbook.path


def _own_source(runbook: PowerShellScript) -> str:
    """The runbook's own file, without the module."""
    return _path(runbook).read_text(encoding="utf-8")


# PowerShell's own cmdlets the runbooks may use: all ship with both Windows PowerShell 5.1 and PowerShell 7
# (Microsoft.PowerShell.Core / .Utility). Anything else must be an Exchange Online cmdlet or a script function,
# so a typo such as Get-EXOMailboxx fails the test instead of failing the 3 a.m. job.
POWERSHELL_CMDLETS = frozenset(
    {
        "Import-Module",  # in the shared module's Import-ExoManagementModule, for Windows hosts (Automation loads modules itself)
        "ConvertFrom-Json",
        "ConvertTo-Json",
        "ForEach-Object",
        "Get-Command",
        "Get-Item",
        "Get-Random",
        "New-Object",
        "Select-Object",
        "Set-StrictMode",
        "Sort-Object",
        "Start-Sleep",
        "Test-Path",
        "Where-Object",
        "Write-Output",
        "Write-Verbose",
        "Write-Warning",
        # Azure Automation's internal cmdlet for shared variables (in every cloud job's sandbox; not a module from a gallery).
        "Get-AutomationVariable",
        "Set-AutomationVariable",
    }
)

# Interactive or secret-based ways of signing in that must not appear in a runbook (app-only: managed identity or certificate).
FORBIDDEN_CONNECT_PARAMETERS = {
    "AccessToken",
    "CertificateFilePath",
    "CertificatePassword",
    "Credential",
    "UserPrincipalName",
    "Device",
    "InlineCredential",
}
# Module cmdlets, not REST cmdlets of the session: -CommandName does not limit them.
SESSION_CMDLETS = {"connect-exchangeonline", "disconnect-exchangeonline", "get-connectioninformation"}


def test_at_least_two_runbooks_are_shipped() -> None:
    assert len(RUNBOOK_FILES) >= 2, f"runbooks/ holds {[p.name for p in RUNBOOK_FILES]}"


def test_runbook_parses_without_syntax_errors(runbook: PowerShellScript) -> None:
    assert runbook.problems == (), "\n".join(str(p) for p in runbook.problems)


def test_runbook_connects_app_only_to_its_organization_with_only_its_cmdlets(runbook: PowerShellScript) -> None:
    connects = runbook.calls("Connect-ExchangeOnline")
    assert connects, "the runbook never calls Connect-ExchangeOnline"
    assert {c.in_function for c in connects} == {"Connect-ExoSession"}, "connect through the shared module only"
    lines = _source(runbook).splitlines()
    for call in connects:
        assert call.has_parameter("Organization"), f"line {call.line}: no -Organization"
        # The module's whole-module certificate connections are for the Windows host scripts, which run unknown task scripts:
        # taken only when no -CommandName is given (tests/windows/test_shared_module.py), and the runbook gives one (below).
        whole_module = lines[call.line - 2].strip() == "if ($fullSession) {"
        assert call.has_parameter("CommandName") or whole_module, f"line {call.line}: no -CommandName (the whole module would load)"
        certificate = call.has_parameter("CertificateThumbprint") or call.has_parameter("Certificate")
        assert call.has_parameter("ManagedIdentity") != certificate, f"line {call.line}: managed identity or certificate, one of them"
        assert not certificate or call.has_parameter("AppId"), f"line {call.line}: a certificate needs -AppId"
        assert not call.splatted, f"line {call.line}: splatted connection parameters"
        other_sign_in = {p for p in call.parameters if p in FORBIDDEN_CONNECT_PARAMETERS}
        assert not other_sign_in, f"line {call.line}: other sign-in parameters {other_sign_in}"
    sessions = [c for c in runbook.calls("Connect-ExoSession") if c.in_function is None]
    assert len(sessions) == 1 and sessions[0].has_parameter("CommandName"), "the runbook connects once, naming its cmdlets"


def test_the_command_name_list_holds_every_exchange_cmdlet_the_runbook_calls(
    runbook: PowerShellScript, exchange_reference: dict[str, dict[str, Any]]
) -> None:
    source = _own_source(runbook)
    listed = re.search(r"\$ExchangeCommands = @\((.*?)\n\)", source, re.S)
    assert listed, "no $ExchangeCommands = @(...) list"
    names = {n.lower() for n in re.findall(r"'([A-Za-z]+-[A-Za-z]+)'", listed[1])}
    called = {c.name.lower() for c in runbook.commands if c.name.lower() in exchange_reference} - SESSION_CMDLETS
    assert names == called, f"listed but not called: {sorted(names - called)}; called but not listed: {sorted(called - names)}"


def test_runbook_connection_errors_name_the_missing_role(
    runbook: PowerShellScript,
) -> None:
    source = published_text(_path(runbook))
    # The error Exchange Online gives when ManageAsApp is granted but no supported Entra role is assigned.
    assert re.search(r"supported in this scenario", source), "no handling of the unsupported-role error"
    assert re.search(r"\$RequiredRoleHint = '[^']*(Exchange Recipient Administrator|Global Reader|Exchange Administrator)", source)
    assert all(c.has_parameter("RequiredRoleHint") for c in runbook.calls("Connect-ExoSession") if c.in_function is None)


def test_runbook_disconnects_only_its_own_connection_in_a_finally_block(runbook: PowerShellScript) -> None:
    # A bare Disconnect-ExchangeOnline ends every connection of the process: other jobs' in a shared sandbox too.
    disconnects = runbook.calls("Disconnect-ExchangeOnline")
    assert disconnects and all(c.has_parameter("ConnectionId") and c.has_parameter("Confirm") for c in disconnects)
    assert {c.in_function for c in disconnects} == {"Disconnect-ExoSession"}
    assert [c for c in runbook.calls("Disconnect-ExoSession") if c.in_finally and c.in_function is None], "not in a finally block"


def test_every_helper_the_published_runbook_calls_is_defined_exactly_once(runbook: PowerShellScript) -> None:
    counts = Counter(name.lower() for name in runbook.functions)
    assert [name for name, count in counts.items() if count > 1] == [], "a helper defined twice: keep it in the module only"
    module = {name.lower() for name in parse_file(MODULE_FILE).functions}
    own = {name.lower() for name in parse_source(_own_source(runbook)).functions}
    assert own & module == set(), "the runbook redefines a module helper"
    used_helpers = {c.name.lower() for c in runbook.commands} & module
    assert used_helpers, "the runbook uses none of the shared helpers"
    assert used_helpers <= set(counts)


def test_published_runbook_keeps_param_first_and_has_no_requires(runbook: PowerShellScript) -> None:
    text = published_text(_path(runbook))
    root = parser().parse(text.encode()).root_node
    statements = [c for c in root.children if c.type not in ("comment",)]
    assert statements and statements[0].type == "param_block", f"first statement is {statements[0].type if statements else None}"
    # Automation: "Runbooks can't use the PowerShell #Requires statement ... might cause the job to fail" (automation-runbook-types.md).
    assert not [line for line in text.splitlines() if line.lstrip().lower().startswith("#requires")]
    begin, end = text.index(MODULE_BEGIN), text.index(MODULE_END)
    assert text.index("param(") < begin < end
    assert not runbook.calls("Export-ModuleMember"), "a runbook is a script: Export-ModuleMember fails there"


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


# --- Failing loudly, streaming, partitions (issue 11) -------------------------------------------------------------------

# Exchange calls allowed without -ErrorAction Stop: none (the module's disconnect stops too, inside a try/catch that turns a failure
# into a warning, so it never hides the error that ended the job).
EXEMPT_FROM_STOP: set[tuple[str, str]] = set()

# Cmdlets whose unfiltered, unlimited output is tenant-sized (one item per mailbox or recipient): they must stream.
TENANT_SIZED = frozenset(
    {"get-exomailbox", "get-mailbox", "get-exorecipient", "get-recipient", "get-mailuser", "get-mailcontact", "get-exorecipientpermission"}
)
# Parameters that bound such a call to one object or a filtered few.
BOUNDING_PARAMETERS = frozenset({"identity", "externaldirectoryobjectid", "filter", "primarysmtpaddress", "userprincipalname"})

# Functions that run once per mailbox in scope, and the Exchange calls each may make there, with the reason no bulk query replaces them.
PER_MAILBOX_FUNCTIONS = {"Read-MailboxPermission", "Invoke-MailboxAudit"}
PER_MAILBOX_CALLS = {
    "Get-EXOMailboxPermission": "mailbox permissions have no tenant-wide query; Get-EXOMailboxPermission needs a mailbox identity",
    "Get-InboxRule": "inbox rules live in each mailbox; Get-InboxRule reads one mailbox (-Mailbox) at a time",
}
# Calls made once per finding (remediation and its read-back), never once per mailbox.
PER_FINDING_FUNCTIONS = {"Clear-MailboxForwarding", "Disable-ExternalInboxRule"}


def _source(runbook: PowerShellScript) -> str:
    """The published text (the runbook with the module)."""
    return published_text(_path(runbook))


def test_every_exchange_call_stops_on_error(runbook: PowerShellScript, exchange_reference: dict[str, dict[str, Any]]) -> None:
    # The module's REST functions do not see the script's $ErrorActionPreference (PowerShell/PowerShell #4568): without
    # -ErrorAction Stop on the call, a failed read returns nothing and try/catch never fires.
    exchange_calls = [c for c in runbook.commands if c.name.lower() in exchange_reference]
    assert len(exchange_calls) >= 5
    loose = [
        f"line {c.line}: {c.name} -ErrorAction {c.value_of('ErrorAction')}"
        for c in exchange_calls
        if (c.name.lower(), c.in_function) not in EXEMPT_FROM_STOP and (c.value_of("ErrorAction") or "").lower() != "stop"
    ]
    assert loose == [], "\n".join(loose)


def test_tenant_sized_reads_stream_through_the_pipeline(mailbox_runbook: PowerShellScript) -> None:
    collected = [
        f"line {c.line}: {c.name} -ResultSize Unlimited is held whole (assigned, wrapped in @() or handed to Invoke-ExchangeCall)"
        for c in mailbox_runbook.commands
        if c.name.lower() in TENANT_SIZED
        and (c.value_of("ResultSize") or "").lower() == "unlimited"
        and not {p.lower() for p in c.parameters} & BOUNDING_PARAMETERS
        and not c.streamed
    ]
    assert collected == [], "\n".join(collected)
    assert any(c.name == "Get-EXOMailbox" and c.streamed for c in mailbox_runbook.commands), "mailboxes must be streamed"


def test_per_mailbox_calls_are_only_those_without_a_bulk_query(
    mailbox_runbook: PowerShellScript, exchange_reference: dict[str, dict[str, Any]]
) -> None:
    per_mailbox = [c for c in mailbox_runbook.commands if c.in_function in PER_MAILBOX_FUNCTIONS and c.name.lower() in exchange_reference]
    assert per_mailbox, "the runbook has no per-mailbox function"
    unexpected = [f"line {c.line}: {c.name} in {c.in_function}" for c in per_mailbox if c.name not in PER_MAILBOX_CALLS]
    assert unexpected == [], "\n".join(unexpected) + "\nuse a bulk query, or list the call with its reason in PER_MAILBOX_CALLS"
    # Each per-mailbox function writes its records (and progress) as it goes.
    for function in {c.in_function for c in per_mailbox}:
        assert any(c.name == "Write-Record" and c.in_function == function for c in mailbox_runbook.commands), function


def test_send_as_is_one_tenant_wide_query_in_the_permission_report() -> None:
    from tests.powershell import parse_file

    from .conftest import RUNBOOK_DIR

    report = parse_file(RUNBOOK_DIR / "Get-MailboxPermissionReport.ps1")
    bulk = [
        c
        for c in report.calls("Get-EXORecipientPermission")
        if c.value_of("AccessRights") == "SendAs" and c.value_of("ResultSize") == "Unlimited" and not c.has_parameter("Identity")
    ]
    assert len(bulk) == 1 and bulk[0].in_function is None and bulk[0].streamed
    assert not [c for c in report.calls("Get-EXORecipientPermission") if c.in_function in PER_MAILBOX_FUNCTIONS]


def test_remediation_reads_back_what_it_changed() -> None:
    from tests.powershell import parse_file

    from .conftest import RUNBOOK_DIR

    audit = parse_file(RUNBOOK_DIR / "Invoke-ForwardingAudit.ps1")
    for function, change, read_back in (
        ("Clear-MailboxForwarding", "Set-Mailbox", "Get-EXOMailbox"),
        ("Disable-ExternalInboxRule", "Disable-InboxRule", "Get-InboxRule"),
    ):
        calls = [c.name for c in audit.commands if c.in_function == function]
        assert change in calls and read_back in calls, f"{function} must {change} and then {read_back} to confirm"
        assert calls.index(change) < calls.index(read_back)
    changes = {c.in_function for c in audit.commands if c.name in ("Set-Mailbox", "Disable-InboxRule")}
    assert changes <= PER_FINDING_FUNCTIONS


def test_runbook_takes_partition_and_threshold_parameters(mailbox_runbook: PowerShellScript) -> None:
    for name, type_name, default in (
        ("PartitionCount", "int", "1"),
        ("PartitionIndex", "int", "0"),
        ("MaxReadFailurePercent", "double", "0"),
    ):
        parameter = mailbox_runbook.parameter(name)
        assert parameter is not None, f"no -{name}"
        assert (parameter.type_name, parameter.default) == (type_name, default)
        assert "ValidateRange" in parameter.attributes
    source = _source(mailbox_runbook)
    assert ".PARAMETER MaxReadFailurePercent" in source and "default 0" in source, "document the threshold's default"
    # String.GetHashCode() is randomized per process on PowerShell 7: partitions would differ from job to job.
    assert not re.search(r"\)?\.GetHashCode\(\)", "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#")))
    assert "System.Security.Cryptography.SHA256" in source
    assert mailbox_runbook.calls("Test-MailboxInPartition"), "mailboxes must be filtered to this job's partition"


def test_every_streamed_tenant_sized_read_survives_one_late_error(mailbox_runbook: PowerShellScript) -> None:
    # A tenant-sized read runs inside Invoke-ResumableRead, which runs it once more after an error part-way (resuming where a
    # documented order allows, else skipping what was written) instead of discarding hours of work.
    streamed = [c for c in mailbox_runbook.commands if c.name.lower() in TENANT_SIZED and c.streamed]
    assert len(streamed) >= 2
    unguarded = [f"line {c.line}: {c.name}" for c in streamed if "Invoke-ResumableRead" not in c.enclosing_commands]
    assert unguarded == [], "\n".join(unguarded)


def test_mail_users_and_contacts_resume_in_their_documented_order() -> None:
    audit = published(RUNBOOK_DIR / "Invoke-ForwardingAudit.ps1")
    for name in ("Get-MailUser", "Get-MailContact"):
        calls = audit.calls(name)
        assert len(calls) == 2 and all(c.value_of("SortBy") == "Name" for c in calls), f"{name}: always -SortBy Name"
        assert sorted(str(c.value_of("Filter")) for c in calls) == ["$resumeFilter", "None"], f"{name}: a first read and a resumed one"
        assert all(c.in_function == "Read-MailRecipient" for c in calls)
    source = published_text(RUNBOOK_DIR / "Invoke-ForwardingAudit.ps1")
    assert "Name -ge '" in source


def test_permission_flags_are_never_tested_for_truthiness(mailbox_runbook: PowerShellScript) -> None:
    # The REST module may return IsInherited / Deny / Enabled as the string 'False', which is truthy: every read of such a flag
    # goes through ConvertTo-Flag, which compares with both forms.
    source = _source(mailbox_runbook)
    flags = ("IsInherited", "Deny", "Enabled", "AutoForwardEnabled", "IsDefault", "MatchSubDomains", "DeliverToMailboxAndForward")
    reads = re.findall(r"(.{0,40})Get-PropertyValue \$\w+(?:\[0\])? '(" + "|".join(flags) + r")'\)", source)
    assert reads, "no flag is read"
    loose = [f"{flag}: ...{before}" for before, flag in reads if not before.rstrip().endswith("ConvertTo-Flag -Value (")]
    assert loose == [], "\n".join(loose)
    assert not re.search(r"\[bool\]\s*\(Get-PropertyValue", source), "a [bool] cast of a property is a truthiness test"


# Functions that run once per item of a long loop (a streamed read or the -Identity list).
LONG_LOOP_FUNCTIONS = {"Read-MailboxPermission", "Write-SendAsRecord", "Invoke-MailboxAudit", "Resolve-ExternalRecipient"}


def test_the_deadline_is_checked_in_every_long_loop_and_ends_in_a_summary_and_a_throw(mailbox_runbook: PowerShellScript) -> None:
    streamed = [c for c in mailbox_runbook.commands if c.name.lower() in TENANT_SIZED and c.streamed]
    # What each streamed read hands every item to.
    item_handlers = {
        c.name for c in mailbox_runbook.commands if "ForEach-Object" in c.enclosing_commands[:1] and c.name in LONG_LOOP_FUNCTIONS
    }
    assert item_handlers and len(streamed) >= 2
    for function in item_handlers:
        calls = [c for c in mailbox_runbook.commands if c.in_function == function]
        assert calls and calls[0].name == "Assert-WithinDeadline", f"{function} must check the deadline first"
    identity_loops = [c for c in mailbox_runbook.calls("Assert-WithinDeadline") if c.in_function is None]
    assert identity_loops, "the -Identity loop must check the deadline too"
    deadline = mailbox_runbook.parameter("SoftDeadlineMinutes")
    assert deadline is not None and deadline.type_name == "int" and deadline.default is not None and 0 < int(deadline.default) < 180
    source = _source(mailbox_runbook)
    body = source[source.index("Set-ExoDeadline -StartedAtUtc") :]
    # Past the deadline: the summary (status DeadlineReached, recommendedPartitionCount) is written, then the job throws.
    assert (
        body.index("'DeadlineReached'")
        < body.index("recommendedPartitionCount")
        < body.index("ConvertTo-Json")
        < body.index('throw "$RunbookName failed')
    )
    assert "Stop-ExoRun" in text_of_function(mailbox_runbook, "Assert-WithinDeadline")


def text_of_function(script: PowerShellScript, name: str) -> str:
    source = _source(script)
    start = source.index(f"function {name} {{")
    return source[start : source.index("\n}\n", start)]


def test_transient_errors_back_off_to_the_documented_cap(mailbox_runbook: PowerShellScript) -> None:
    source = _source(mailbox_runbook)
    pattern = re.search(r"\$script:ExoTransientPattern = '([^']*)' \+\s*'([^']*)'", source)
    assert pattern, "the transient pattern"
    regex = re.compile(pattern[1] + pattern[2])
    # office-docs-powershell issue #10972: what the REST module lets through after its own retries.
    reported = (
        'Error while querying REST service. HttpStatusCode=500 ErrorMessage={"error":{"code":"InternalServerError",'
        '"innererror":{"type":"Microsoft.Exchange.Data.Directory.ADTransientException"}}}'
    )
    for message in (reported, "HttpStatusCode=429 Too Many Requests", "503 Server Busy", "Micro delay applied"):
        assert regex.search(message), message
    assert not regex.search("HttpStatusCode=403 Forbidden"), "a refusal is not retried"
    first, cap, attempts = (
        int(found[1]) if (found := re.search(rf"\$script:{name} = (\d+)", source)) else 0
        for name in ("ExoFirstDelaySeconds", "ExoMaxDelaySeconds", "ExoMaxAttempts")
    )
    delays = [min(cap, first * 2 ** (attempt - 1)) for attempt in range(1, attempts)]
    assert cap == 300 and delays[-1] == cap, f"back-off {delays} must reach the 300 s cap docs/runbooks.md states"


def test_throttling_is_retried_and_reads_are_counted(mailbox_runbook: PowerShellScript) -> None:
    assert (
        mailbox_runbook.calls("Start-Sleep")
        and mailbox_runbook.calls("Add-ReadFailure")
        and mailbox_runbook.calls("Assert-ReadFailureThreshold")
    )
    top_level_throws = [a for a in mailbox_runbook.calls("Assert-ReadFailureThreshold") if a.in_function is None]
    assert top_level_throws, "the job must end with the threshold check so unread mailboxes fail it"


def test_records_are_never_swallowed_by_an_assignment(mailbox_runbook: PowerShellScript) -> None:
    # A function that writes records (directly or through another) must not be called where its output is held: the
    # records would vanish into a variable (and a Failure record would end up inside, say, a finding's Action).
    writers = {"write-record"}
    while True:
        more = {c.in_function.lower() for c in mailbox_runbook.commands if c.in_function and c.name.lower() in writers} - writers
        if not more:
            break
        writers |= more
    assert {"add-readfailure", "write-record"} <= writers
    swallowed = [
        f"line {c.line}: {c.name} (in {c.in_function or 'the script'})"
        for c in mailbox_runbook.commands
        if c.name.lower() in writers and c.captured and c.name.lower() != "write-output"
    ]
    assert swallowed == [], "\n".join(swallowed)
