"""Sync-ExchangeRbac.ps1 read with tree-sitter: it fails loudly, changes Exchange in one guarded place, and follows the plan order of
exo/exchange_rbac_state.py (no PowerShell runs here; the plan itself is tested in tests/exo/test_exchange_rbac_state.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tree_sitter import Node

from exo import exchange_rbac_state, facts
from exo.powershell_script import parser, read_role_declaration, text, walk
from tests.powershell import parse_file

from .conftest import RUNBOOK_DIR

PATH = RUNBOOK_DIR / "Sync-ExchangeRbac.ps1"
STATE_MODULE = Path(__file__).resolve().parents[2] / "exo" / "exchange_rbac_state.py"
# The reconciler's plan, phase by phase (docs/exchange-rbac.md): creations first, membership after assignments, removals last.
PHASE_ORDER = [
    "New-ServicePrincipal",
    "Set-ServicePrincipal",
    "New-ManagementScope",
    "Set-ManagementScope",
    "New-ManagementRole",
    "New-RoleGroup",
    "New-ManagementRoleAssignment",
    "Add-RoleGroupMember",
    "Remove-RoleGroup",
    "Remove-ManagementScope",
    "Remove-ManagementRole",
    "Remove-ServicePrincipal",
]
MUTATING = re.compile(r"^(New|Set|Remove|Add|Update|Enable|Disable)-", re.IGNORECASE)


def _root() -> Node:
    return parser().parse(PATH.read_bytes()).root_node


def _function(name: str) -> Node:
    for node in walk(_root()):
        if node.type == "function_statement" and any(c.type == "function_name" and text(c) == name for c in node.children):
            return node
    raise AssertionError(f"no function {name}")


def _commands(root: Node) -> list[tuple[str, str, int]]:
    found = []
    for node in walk(root):
        if node.type == "command":
            name = node.child_by_field_name("command_name")
            if name is not None:
                found.append((text(name), text(node), node.start_point.row + 1))
    return found


def test_every_exchange_call_stops_on_error(exchange_reference: dict[str, dict[str, Any]]) -> None:
    calls = [(n, t, line) for n, t, line in _commands(_root()) if n.lower() in exchange_reference]
    assert len(calls) >= 18
    for name, source, line in calls:
        if name == "Disconnect-ExchangeOnline":
            continue  # in finally: a failed disconnect must not hide the real outcome
        assert re.search(r"-ErrorAction\s+Stop\b", source), f"line {line}: {name} without -ErrorAction Stop"


def test_exchange_is_changed_only_in_invoke_plan_step_after_the_ownership_check(exchange_reference: dict[str, dict[str, Any]]) -> None:
    step = _function("Invoke-PlanStep")
    inside = {(line, name) for name, _, line in _commands(step)}
    mutating = [(n, line) for n, _, line in _commands(_root()) if n.lower() in exchange_reference and MUTATING.match(n)]
    mutating = [(n, line) for n, line in mutating if n not in ("Connect-ExchangeOnline", "Disconnect-ExchangeOnline")]
    assert {n for n, _ in mutating} >= set(PHASE_ORDER) | {"Remove-ManagementRoleAssignment", "Remove-RoleGroupMember"}
    for name, line in mutating:
        assert (line, name) in inside, f"line {line}: {name} changes Exchange outside Invoke-PlanStep"
    checks = [line for name, _, line in _commands(step) if name == "Assert-Owned"]
    first_change = min(line for n, line in mutating)
    assert checks and max(checks) < first_change, "Invoke-PlanStep must check ownership before its first change"


def test_dry_run_never_reaches_invoke_plan_step() -> None:
    source = PATH.read_text(encoding="utf-8")
    loop = source[source.index("foreach ($step in $plan)") :]
    assert loop.index("if ($DryRun)") < loop.index("continue") < loop.index("Invoke-PlanStep")
    dry_run = parse_file(PATH).parameter("DryRun")
    assert dry_run is not None and dry_run.type_name == "bool" and dry_run.default == "$false"


def test_plan_phases_follow_the_specification() -> None:
    body = text(_function("New-ReconcilePlan"))
    # Removals of obsolete objects are the last occurrence of their action (phase 1 also removes a superseded service principal).
    positions = [(body.rindex if action.startswith("Remove-") else body.index)(f"action = '{action}'") for action in PHASE_ORDER]
    assert positions == sorted(positions), "phases out of order in New-ReconcilePlan"
    superseded = body.index("reason = 'superseded'; displayName = $old.displayName")
    assert superseded < body.index("action = 'New-ServicePrincipal'"), "a superseded pointer must go before its replacement is created"


def test_powershell_and_python_plans_know_the_same_actions() -> None:
    python_actions = set(re.findall(r'Step\(\s*"([A-Za-z-]+)"', STATE_MODULE.read_text(encoding="utf-8")))
    plan_actions = set(re.findall(r"action = '([A-Za-z-]+)'", text(_function("New-ReconcilePlan"))))
    switch_actions = set(re.findall(r"^\s*'([A-Za-z-]+)' \{", text(_function("Invoke-PlanStep")), re.MULTILINE))
    assert python_actions == plan_actions == switch_actions


def test_state_is_checked_before_it_is_used() -> None:
    body = text(_function("Read-DesiredState"))
    assert body.index("ExpectedStateSha256") < body.index("ConvertFrom-Json") < body.index("Assert-Owned")
    assert "OwnerPattern" in body


def test_role_header_names_the_roles_the_program_requires() -> None:
    declaration = read_role_declaration(PATH.read_text(encoding="utf-8"))
    assert declaration is not None
    # Each role the program accepts for the reconciler is one alternative on its own.
    assert declaration.any_of == tuple((role,) for role in facts.RBAC_RECONCILER_ROLES)


def test_exchange_reads_are_retried_by_the_shared_helper() -> None:
    # Retries, connection and records come from the shared module (scripts/windows/ExoCommon.psm1), not from a copy here.
    own = {text(c) for node in walk(_root()) if node.type == "function_statement" for c in node.children if c.type == "function_name"}
    assert not own & {"Invoke-WithBackoff", "Invoke-ExchangeCall", "Get-ExceptionText", "Write-Record", "Get-ConnectionFailureMessage"}
    exchange_reads = [
        "Get-ServicePrincipal",
        "Get-ManagementScope",
        "Get-ManagementRole",
        "Get-ManagementRoleEntry",
        "Get-RoleGroup",
        "Get-RoleGroupMember",
        "Get-ManagementRoleAssignment",
    ]
    reader = text(_function("Read-ActualState"))
    for name in exchange_reads:
        assert re.search(rf"Invoke-ExchangeCall[^\n]*\n?[^\n]*\{{\s*{name} ", reader), f"{name} is not wrapped in Invoke-ExchangeCall"


def test_the_session_loads_exactly_the_cmdlets_the_reconciler_calls(exchange_reference: dict[str, dict[str, Any]]) -> None:
    # Connect-ExchangeOnline -CommandName: a cmdlet missing from the list would not exist in the job's session.
    source = PATH.read_text(encoding="utf-8")
    listed = set(
        re.findall(
            r"'([A-Za-z]+-[A-Za-z]+)'",
            source[source.index("$ExchangeCommands = @(") : source.index(")", source.index("$ExchangeCommands = @("))],
        )
    )
    called = {n for n, _, _ in _commands(_root()) if n.lower() in exchange_reference}
    assert listed == called
    assert "-CommandName $ExchangeCommands" in source


@pytest.mark.parametrize(
    "cmdlet",
    ["Remove-RoleGroup", "Remove-ManagementScope", "Remove-ServicePrincipal", "Remove-RoleGroupMember", "Remove-ManagementRoleEntry"],
)
def test_removals_never_prompt(cmdlet: str) -> None:
    for name, source, line in _commands(_function("Invoke-PlanStep")):
        if name == cmdlet:
            assert "-Confirm:$false" in source, f"line {line}: {cmdlet} would wait for a confirmation no job can give"


def test_an_unchanged_document_ends_the_frequent_run_before_exchange_is_contacted() -> None:
    # Top-level command order: the skip check comes before Connect-ExchangeOnline; the record of what was applied is written only
    # after the plan loop, and only by a run that changes things (not DryRun).
    top = [(name, line) for name, _, line in _commands(_root())]
    lines = {name: line for name, line in reversed(top)}  # first occurrence of each
    assert lines["Test-RecentlyApplied"] < lines["Connect-ExoSession"] < lines["New-ReconcilePlan"] < lines["Save-Applied"]
    recent = text(_function("Test-RecentlyApplied"))
    assert "$DryRun" in recent and "FullRunAfterHours" in recent and "$LastApplied" in recent
    assert lines["Read-LastApplied"] < lines["Test-RecentlyApplied"]
    save = text(_function("Save-Applied"))
    assert "Set-AutomationVariable" in save and "$AppliedVariableName" in save
    source = PATH.read_text(encoding="utf-8")
    assert re.search(r"if \(-not \$DryRun\) \{\s*#[^\n]*\n\s*Save-Applied", source), "a dry run must not record a document as applied"


def test_the_program_and_the_runbook_name_the_same_applied_variable() -> None:
    from components.exchange_rbac import APPLIED_VARIABLE_NAME

    assert f"[string] $AppliedVariableName = '{APPLIED_VARIABLE_NAME}'" in PATH.read_text(encoding="utf-8")


# -- Issue 22: read-back, member matching, ownership and order agree with exo/exchange_rbac_state.py -----------------------------------


def _comparisons(root: Node) -> list[tuple[str, str, int]]:
    """(operator, whole expression, line) of every binary comparison."""
    found = []
    for node in walk(root):
        if node.type == "comparison_expression":
            operator = next((c for c in node.children if c.type == "comparison_operator"), None)
            if operator is not None:
                found.append((text(operator).lower(), text(node), node.start_point.row + 1))
    return found


def test_no_object_is_matched_by_display_name() -> None:
    # A display name can be shared by any principal: nothing is found, matched or filtered by it. The one comparison allowed is the
    # case-sensitive drift check of a service principal already matched by ObjectId (-cne).
    root = _root()
    for operator, expression, line in _comparisons(root):
        if "displayname" in expression.lower():
            assert operator == "-cne", f"line {line}: {expression!r} compares a display name"
    for name, source, line in _commands(root):
        if name.lower() in ("where-object", "select-object", "sort-object", "group-object"):
            assert "displayname" not in source.lower(), f"line {line}: {name} keys on a display name"
    member = text(_function("Resolve-MemberId"))
    read_names = set(re.findall(r"-Name '([A-Za-z]+)'", member))
    assert read_names == {"Guid", "DistinguishedName"}, f"members are compared by {read_names}"
    # Never Get-ServicePrincipal -Identity <member>: for a value that matches nothing it returns every service principal.
    assert not [c for c in _commands(root) if c[0] == "Get-ServicePrincipal" and "-Identity" in c[1]]


def test_the_runbook_reads_the_properties_the_python_twin_reads() -> None:
    runbook = "\n".join(text(_function(f)) for f in ("Read-ActualState", "Resolve-MemberId", "Get-AssignmentScopeText"))
    twin = Path(exchange_rbac_state.__file__).read_text(encoding="utf-8")
    start = twin.index("# -- The read-back")
    twin_reads = set(re.findall(r'_text\([a-z]+, "([A-Za-z]+)"\)', twin[start:]))
    runbook_reads = set(re.findall(r"-Name '([A-Za-z]+)'", runbook))
    assert twin_reads == runbook_reads
    assert "RecipientAdministrativeUnitScope" not in runbook_reads, "an AU scope reads back in RecipientWriteScope (Microsoft365DSC)"
    scope = text(_function("Get-AssignmentScopeText"))
    for value in (exchange_rbac_state.WRITE_SCOPE_ADMINISTRATIVE_UNIT, exchange_rbac_state.WRITE_SCOPE_CUSTOM):
        assert f"'{value}'" in scope


def test_ownership_is_case_insensitive_and_covers_every_owner_prefix() -> None:
    owned = text(_function("Test-Owned"))
    assert "OrdinalIgnoreCase" in owned and "OwnerPrefixes" in owned
    add = text(_function("Add-OwnerPrefix"))
    assert "$OwnerPattern" in add and "throw" in add
    desired = text(_function("Read-DesiredState"))
    assert "formerOwners" in desired and "Add-OwnerPrefix" in desired
    reader = text(_function("Read-ActualState"))
    assert "$script:OwnerPrefixes" in reader, "role groups of a former owner prefix must be read to be removed"
    assert "owner = $script:Owner" in text(_function("Save-Applied"))


def test_the_plan_walks_lists_in_ordinal_lower_case_order_like_the_twin() -> None:
    body = text(_function("New-ReconcilePlan"))
    assert "Sort-Object" not in body, "Sort-Object compares by culture; plan() sorts ordinally"
    assert "$have.Values" not in body.replace("@($have.Values) -Property 'name'", ""), "hashtable order is arbitrary"
    sorter = text(_function("Get-OrdinalSorted"))
    assert "ToLowerInvariant" in sorter and "StringComparer]::Ordinal" in sorter


def test_the_applied_record_is_read_safely_under_strict_mode() -> None:
    source = PATH.read_text(encoding="utf-8")
    assert "Set-StrictMode -Version Latest" in source
    # .PSObject.Properties.Name on the initial "{}" names no property at all: strict mode may throw outside any try.
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert ".Properties.Name" not in code
    last = text(_function("Read-LastApplied"))
    assert "Get-PropertyText" in last and "-isnot [System.Management.Automation.PSCustomObject]" in last
    assert re.search(r"try \{ \$record = \$text \| ConvertFrom-Json \} catch \{ return \$null \}", last)
    getter = text(_function("Get-PropertyText"))
    assert "PSObject.Properties[$Name]" in getter


def test_service_principal_steps_check_the_object_they_change() -> None:
    step = text(_function("Invoke-PlanStep"))
    guard = step[step.index("-like '*ServicePrincipal'") : step.index("elseif")]
    assert "Assert-Owned -Name $current.displayName" in guard and "Assert-Owned -Name $Step.displayName" in guard


def test_empty_answers_are_no_items() -> None:
    # @($null) is one item: an empty role group would read as one member without identity and fail every run.
    reader = text(_function("Read-ActualState"))
    loops = re.findall(r"foreach \(\$\w+ in @\((\$\w+)( \| Where-Object \{ \$null -ne \$_ \})?\)\)", reader)
    assert len(loops) == reader.count("foreach (") == 7
    for variable, guard in loops:
        assert guard, f"foreach over @({variable}) walks a $null answer as one item"
    assert "Where-Object { $null -ne $_ }" in text(_function("Get-OrdinalSorted"))
