<#
.SYNOPSIS
    Makes Exchange Online RBAC match the desired state that exo-automation publishes, touching only objects this stack owns.
.DESCRIPTION
    Reads the desired state (JSON) from the Automation variable ExchangeRbacDesiredState, connects to Exchange Online with the
    Automation account's managed identity, reads the Exchange objects whose names carry one of its owner prefixes (exoa-<6 hex>-),
    computes a plan and, unless -DryRun is $true, applies it in this order (docs/exchange-rbac.md is the specification):
      1. service principals (an owned one superseded by a re-created Entra service principal leaves its owned groups and goes;
         New-ServicePrincipal; Set-ServicePrincipal for display-name drift or a former owner's prefix);
      2. management scopes for recipient filters (New-ManagementScope; Set-ManagementScope for filter drift);
      3. role groups, created empty (New-RoleGroup);
      4. their role assignments, each scoped (New-ManagementRoleAssignment); undeclared or mis-scoped ones removed (only narrows);
      5. membership: the declared principal added (Add-RoleGroupMember) only once its group holds every scoped assignment;
         anyone else removed from an owned group;
      6. obsolete owned role groups emptied and removed, only after every step above succeeded (a replacement exists first);
      7. obsolete owned scopes, 8. obsolete owned service principals removed.
    Ownership: an object is the reconciler's when its name (a service principal's display name) starts, without case, with one of its
    owner prefixes: the state's owner, the state's formerOwners, or the owner recorded by the last applied run (a renamed stack).
    Objects without one are never changed. An owned service principal that holds a declared AppId under another ObjectId (the Entra
    service principal was re-created) is removed first; a foreign one for a declared app is refused, not adopted. Every step is written as one JSON line (planned, applied or failed); a summary line closes the run.
.PARAMETER Organization
    The tenant's initial domain, for example contoso.onmicrosoft.com.
.PARAMETER ExchangeEnvironmentName
    O365Default (commercial and GCC), O365USGovGCCHigh, O365USGovDoD or O365China.
.PARAMETER DryRun
    $true: report the plan and the drift, change nothing.
.PARAMETER ExpectedStateSha256
    SHA-256 (hex) of the state a manual run is meant for; the job refuses to apply any other document. Empty (the schedule): accept
    the current one.
.PARAMETER StateVariableName
    The Automation variable that holds the desired state.
.PARAMETER AppliedVariableName
    The Automation variable where a successful run records the SHA-256 of the document it applied, when, and under which owner
    prefix ({"stateSha256": …, "appliedAtUtc": …, "owner": …}). The program creates it as "{}" and never overwrites it.
.PARAMETER FullRunAfterHours
    The schedule runs this job often (hourly by default) so that a changed document is applied soon after `pulumi up`. A run whose
    document is the one last applied, less than this many hours ago, ends before connecting to Exchange; otherwise it reads Exchange,
    reports drift and applies the plan. Default 24 (drift is checked daily); 0: always a full run.
.NOTES
    Role: the managed identity needs the Role Management management role, which comes with the Entra role Exchange Administrator
    (member of Organization Management). The program refuses, at preview, an account without it (facts.RBAC_RECONCILER_ROLES).
    Exit: the job fails (throws) on any Exchange error, on an unreadable or mismatching state, and on a foreign object in the way;
    no removal runs after a failed creation.
#>
# exo-automation:roles {"anyOf": [["Exchange Administrator"], ["Global Administrator"]], "reason": "New-ServicePrincipal, New-ManagementScope, New-ManagementRoleAssignment and the role group cmdlets need the Role Management management role, which only Organization Management holds by default; Exchange Administrator and Global Administrator are members of it (permissions-exo.md)."}
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9-]*\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,
    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',
    # [bool], not [switch]: Azure Automation schedules pass parameters by value ("true"/"false").
    [bool] $DryRun = $false,
    [ValidatePattern('^([0-9A-Fa-f]{64})?$')]
    [string] $ExpectedStateSha256 = '',
    [string] $StateVariableName = 'ExchangeRbacDesiredState',
    [string] $AppliedVariableName = 'ExchangeRbacAppliedState',
    [ValidateRange(0, 168)]
    [int] $FullRunAfterHours = 24
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$RunbookName = 'Sync-ExchangeRbac'
$RequiredRoleHint = 'Exchange Administrator (its Organization Management membership carries the Role Management role)'
$OwnerPattern = '^exoa-[0-9a-f]{6}-$'
# The Exchange cmdlets this runbook calls: the only ones Connect-ExchangeOnline -CommandName loads (tests/runbooks check the list).
$ExchangeCommands = @(
    'Get-ServicePrincipal', 'New-ServicePrincipal', 'Set-ServicePrincipal', 'Remove-ServicePrincipal',
    'Get-ManagementScope', 'New-ManagementScope', 'Set-ManagementScope', 'Remove-ManagementScope',
    'Get-ManagementRole', 'New-ManagementRole', 'Remove-ManagementRole',
    'Get-ManagementRoleEntry', 'Add-ManagementRoleEntry', 'Remove-ManagementRoleEntry',
    'Get-RoleGroup', 'New-RoleGroup', 'Remove-RoleGroup', 'Get-RoleGroupMember', 'Add-RoleGroupMember', 'Remove-RoleGroupMember',
    'Get-ManagementRoleAssignment', 'New-ManagementRoleAssignment', 'Remove-ManagementRoleAssignment'
)
# Helpers (connection, retries, records) come from scripts/windows/ExoCommon.psm1, put after param() when the program publishes this.

function Test-Owned {
    # The one ownership rule (exo/exchange_rbac_state.py is_owned): an object is ours when its name (a service principal's DisplayName)
    # starts, without case, with one of the owner prefixes: the state's owner, its formerOwners, the owner the last applied run recorded.
    param([string] $Name, [string[]] $Prefixes = $script:OwnerPrefixes)
    foreach ($prefix in @($Prefixes)) {
        if (([string] $Name).StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) { return $true }
    }
    return $false
}

function Assert-Owned {
    param([string] $Name, [string[]] $Prefixes = $script:OwnerPrefixes)
    if (-not (Test-Owned -Name $Name -Prefixes $Prefixes)) {
        throw "refusing to change '$Name': it carries none of this stack's owner prefixes ($($Prefixes -join ', '))"
    }
}

function Get-OrdinalSorted {
    # Sorts by a key lower-cased and compared ordinally, as plan() in exo/exchange_rbac_state.py does (Sort-Object compares by culture).
    param($InputObject, [string] $Property = '')
    # @($null) would be one item: an absent list is an empty one.
    $items = @($InputObject | Where-Object { $null -ne $_ })
    if ($items.Count -lt 2) { return , $items }
    $keys = New-Object 'string[]' $items.Count
    for ($i = 0; $i -lt $items.Count; $i++) {
        $value = $items[$i]
        if ($Property) { $value = $value.$Property }
        $keys[$i] = ([string] $value).ToLowerInvariant()
    }
    [System.Array]::Sort($keys, $items, [System.StringComparer]::Ordinal)
    return , $items
}

function Get-PropertyText {
    # Reads a property that a module version may not return, without tripping Set-StrictMode.
    param($InputObject, [string] $Name)
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return '' }
    return [string] $property.Value
}

function Get-NormalisedFilter {
    param([string] $Text)
    $value = (($Text -split '\s+') -join ' ').Trim().ToLowerInvariant()
    while ($value.StartsWith('(') -and $value.EndsWith(')') -and (Test-Balanced -Text $value.Substring(1, $value.Length - 2))) {
        $value = $value.Substring(1, $value.Length - 2).Trim()
    }
    return $value
}

function Test-Balanced {
    param([string] $Text)
    $depth = 0
    foreach ($character in $Text.ToCharArray()) {
        if ($character -eq '(') { $depth++ }
        if ($character -eq ')') { $depth-- }
        if ($depth -lt 0) { return $false }
    }
    return ($depth -eq 0)
}

function Get-AssignmentScope {
    # How a declared assignment is scoped, as one comparable text: '', 'scope:<name>' or 'au:<id>'.
    param($Scope)
    if ($null -eq $Scope) { return '' }
    if ($Scope.kind -eq 'filter') { return "scope:$($Scope.name)" }
    return "au:$($Scope.administrativeUnitId)"
}

function Add-OwnerPrefix {
    # A prefix this program never writes must not widen what the job may change or remove.
    param([string] $Prefix, [string] $Source)
    if ($Prefix -notmatch $OwnerPattern) { throw "owner prefix '$Prefix' in $Source is not one exo-automation writes" }
    if ($script:OwnerPrefixes -notcontains $Prefix.ToLowerInvariant()) { $script:OwnerPrefixes += $Prefix.ToLowerInvariant() }
}

function Read-DesiredState {
    $text = [string] (Get-AutomationVariable -Name $StateVariableName)
    if (-not $text) { throw "the Automation variable $StateVariableName is empty or missing; run pulumi up --refresh to publish it again" }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $digest = -join ($sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($text)) | ForEach-Object { $_.ToString('X2') })
    if ($ExpectedStateSha256 -and $digest -ne $ExpectedStateSha256.ToUpperInvariant()) {
        throw ("the desired state in $StateVariableName (SHA-256 $digest) is not the one this job was scheduled for " +
            "($ExpectedStateSha256): it changed since (a newer up schedules its own run) or was edited by hand; nothing applied")
    }
    $state = $text | ConvertFrom-Json
    if ($state.schemaVersion -ne 1 -or $state.managedBy -ne 'exo-automation') { throw "unknown desired state format in $StateVariableName" }
    if ([string] $state.owner -notmatch $OwnerPattern) { throw "owner prefix '$($state.owner)' is not one exo-automation writes" }
    $script:Owner = ([string] $state.owner).ToLowerInvariant()
    $script:OwnerPrefixes = @($script:Owner)
    $formerOwners = $state.PSObject.Properties['formerOwners']
    if ($null -ne $formerOwners) {
        foreach ($former in @($formerOwners.Value)) { Add-OwnerPrefix -Prefix ([string] $former) -Source 'formerOwners' }
    }
    foreach ($principal in @($state.principals)) {
        $names = @($principal.displayName, $principal.roleGroup.name) + @($principal.roleGroup.assignments | Select-Object -ExpandProperty name)
        # Declared objects are created under the current owner only; a former owner's prefix is for taking over and removing.
        foreach ($name in $names) { Assert-Owned -Name $name -Prefixes @($script:Owner) }
    }
    return [pscustomobject]@{ State = $state; Sha256 = $digest }
}

function Read-LastApplied {
    # What the last successful run applied; an unreadable record counts as none (a full run follows). The program creates the variable
    # as "{}": an object with no properties, whose .PSObject.Properties.Name is no property at all under Set-StrictMode -Version Latest.
    # Properties['name'] answers $null for a missing one on 5.1 and 7 alike.
    $text = [string] (Get-AutomationVariable -Name $AppliedVariableName)
    if (-not $text.Trim()) { return $null }
    try { $record = $text | ConvertFrom-Json } catch { return $null }
    if ($record -isnot [System.Management.Automation.PSCustomObject]) { return $null }
    $sha = Get-PropertyText -InputObject $record -Name 'stateSha256'
    if (-not $sha) { return $null }
    return [pscustomobject]@{
        stateSha256  = $sha
        appliedAtUtc = Get-PropertyText -InputObject $record -Name 'appliedAtUtc'
        owner        = Get-PropertyText -InputObject $record -Name 'owner'
    }
}

function Test-RecentlyApplied {
    param([string] $Digest, $LastApplied)
    if ($DryRun -or $FullRunAfterHours -eq 0) { return $false }
    $last = $LastApplied
    if ($null -eq $last -or [string] $last.stateSha256 -ne $Digest) { return $false }
    $at = [datetime]::MinValue
    $styles = [Globalization.DateTimeStyles] 'AdjustToUniversal, AssumeUniversal'
    $culture = [Globalization.CultureInfo]::InvariantCulture
    $parsed = [datetime]::TryParse([string] $last.appliedAtUtc, $culture, $styles, [ref] $at)
    return $parsed -and ([datetime]::UtcNow - $at).TotalHours -lt $FullRunAfterHours
}

function Save-Applied {
    param([string] $Digest)
    # The owner is kept so that a run after a stack rename (new owner prefix) still owns, and removes, what the old prefix made.
    $record = [ordered]@{ stateSha256 = $Digest; appliedAtUtc = [datetime]::UtcNow.ToString('o'); owner = $script:Owner }
    Set-AutomationVariable -Name $AppliedVariableName -Value ($record | ConvertTo-Json -Compress)
}

function Resolve-MemberId {
    # A role group member as the plan compares it (exo/exchange_rbac_state.py member_id): the ObjectId of the Exchange service principal
    # whose Guid or DistinguishedName it has (both are documented identities of a service principal, Get-ServicePrincipal.md, and of a
    # role group member, Add-/Remove-RoleGroupMember.md), else its own Guid, by which a stranger is removed. Never a display name, which
    # another principal can share; never Get-ServicePrincipal -Identity <member>, which returns every service principal for a value that
    # matches none (Get-ServicePrincipal.md, "Caution").
    param($Member, $ServicePrincipals)
    $guid = (Get-PropertyText -InputObject $Member -Name 'Guid').ToLowerInvariant()
    $dn = (Get-PropertyText -InputObject $Member -Name 'DistinguishedName').ToLowerInvariant()
    if (-not $guid -and -not $dn) { throw 'a role group member came back without Guid or DistinguishedName; cannot compare membership' }
    foreach ($sp in @($ServicePrincipals)) {
        if (($guid -and $guid -eq $sp.guid) -or ($dn -and $dn -eq $sp.distinguishedName)) {
            return ([string] $sp.objectId).ToLowerInvariant()
        }
    }
    if ($guid) { return $guid }
    return $dn
}

function Get-AssignmentScopeText {
    # An assignment's scope as the plan compares it (exo/exchange_rbac_state.py assignment_scope_text). RecipientWriteScope says the
    # kind (Organization, CustomRecipientScope, AdministrativeUnit: the ScopeType values of Test-ServicePrincipalAuthorization.md); an
    # AU-scoped assignment carries the AU id in CustomRecipientWriteScope (Microsoft365DSC MSFT_EXOManagementRoleAssignment.psm1).
    param($Assignment)
    $writeScope = Get-PropertyText -InputObject $Assignment -Name 'RecipientWriteScope'
    $custom = Get-PropertyText -InputObject $Assignment -Name 'CustomRecipientWriteScope'
    if (-not $writeScope) {
        throw "role assignment '$(Get-PropertyText -InputObject $Assignment -Name 'Name')' came back without RecipientWriteScope; cannot compare its scope"
    }
    if ($writeScope -eq 'AdministrativeUnit') { return "au:$custom" }
    if ($writeScope -eq 'CustomRecipientScope') { return "scope:$custom" }
    if ($writeScope -eq 'Organization' -and -not $custom) { return '' }
    # An exclusive or OU scope, which this program never sets: no declaration matches it, so the assignment is re-created.
    return "other:$($writeScope):$custom"
}

function Read-ActualState {
    # Only the owner's objects are kept; service principals are few (one per app), role groups and scopes are filtered by name.
    # A cmdlet that answers nothing gives $null, and @($null) is one item: every answer is walked without nulls (an empty role group
    # must read as no members, not as a member without identity).
    $servicePrincipals = New-Object System.Collections.Generic.List[object]
    $raw = Invoke-ExchangeCall -Step 'Get-ServicePrincipal' -Call { Get-ServicePrincipal -ErrorAction Stop }
    foreach ($sp in @($raw | Where-Object { $null -ne $_ })) {
        $servicePrincipals.Add([pscustomobject]@{
                objectId          = Get-PropertyText -InputObject $sp -Name 'ObjectId'
                appId             = Get-PropertyText -InputObject $sp -Name 'AppId'
                displayName       = Get-PropertyText -InputObject $sp -Name 'DisplayName'
                guid              = (Get-PropertyText -InputObject $sp -Name 'Guid').ToLowerInvariant()
                distinguishedName = (Get-PropertyText -InputObject $sp -Name 'DistinguishedName').ToLowerInvariant()
            })
    }
    $scopes = New-Object System.Collections.Generic.List[object]
    $rawScopes = Invoke-ExchangeCall -Step 'Get-ManagementScope' -Call { Get-ManagementScope -ErrorAction Stop }
    foreach ($scope in @($rawScopes | Where-Object { $null -ne $_ })) {
        $name = Get-PropertyText -InputObject $scope -Name 'Name'
        if (Test-Owned -Name $name) {
            $scopes.Add([pscustomobject]@{ name = $name; filter = Get-PropertyText -InputObject $scope -Name 'RecipientFilter' })
        }
    }
    $roles = New-Object System.Collections.Generic.List[object]
    $rawRoles = Invoke-ExchangeCall -Step 'Get-ManagementRole' -Call { Get-ManagementRole -ErrorAction Stop }
    foreach ($role in @($rawRoles | Where-Object { $null -ne $_ })) {
        $name = Get-PropertyText -InputObject $role -Name 'Name'
        if (-not (Test-Owned -Name $name)) { continue }
        $entries = Invoke-ExchangeCall -Step "Get-ManagementRoleEntry $name" -Call {
            Get-ManagementRoleEntry -Identity "$name\*" -ErrorAction Stop
        }
        $cmdlets = New-Object System.Collections.Generic.List[string]
        foreach ($entry in @($entries | Where-Object { $null -ne $_ })) { $cmdlets.Add((Get-PropertyText -InputObject $entry -Name 'Name')) }
        $roles.Add([pscustomobject]@{ name = $name; cmdlets = $cmdlets })
    }
    $groups = New-Object System.Collections.Generic.List[object]
    # One filter per owner prefix: the current one and any former one whose groups still hold rights.
    $filter = (@($script:OwnerPrefixes) | ForEach-Object { "(Name -like '$($_)*')" }) -join ' -or '
    $rawGroups = Invoke-ExchangeCall -Step 'Get-RoleGroup' -Call { Get-RoleGroup -Filter $filter -ResultSize Unlimited -ErrorAction Stop }
    foreach ($group in @($rawGroups | Where-Object { $null -ne $_ })) {
        $name = Get-PropertyText -InputObject $group -Name 'Name'
        if (-not (Test-Owned -Name $name)) { continue }
        $members = Invoke-ExchangeCall -Step "Get-RoleGroupMember $name" -Call {
            Get-RoleGroupMember -Identity $name -ResultSize Unlimited -ErrorAction Stop
        }
        $memberIds = New-Object System.Collections.Generic.List[string]
        foreach ($member in @($members | Where-Object { $null -ne $_ })) {
            $memberIds.Add((Resolve-MemberId -Member $member -ServicePrincipals $servicePrincipals))
        }
        $assignments = New-Object System.Collections.Generic.List[object]
        $rawAssignments = Invoke-ExchangeCall -Step "Get-ManagementRoleAssignment $name" -Call {
            Get-ManagementRoleAssignment -RoleAssignee $name -ErrorAction Stop
        }
        foreach ($assignment in @($rawAssignments | Where-Object { $null -ne $_ })) {
            $assignments.Add([pscustomobject]@{
                    name  = Get-PropertyText -InputObject $assignment -Name 'Name'
                    role  = Get-PropertyText -InputObject $assignment -Name 'Role'
                    scope = Get-AssignmentScopeText -Assignment $assignment
                })
        }
        $groups.Add([pscustomobject]@{ name = $name; members = $memberIds; assignments = $assignments })
    }
    return [pscustomobject]@{ ServicePrincipals = $servicePrincipals; Scopes = $scopes; Roles = $roles; RoleGroups = $groups }
}

function New-ReconcilePlan {
    # The same plan as exo/exchange_rbac_state.py plan(), step for step and in the same order; the order of the phases is the safety
    # argument. Every list is walked in Get-OrdinalSorted order; names are compared without case (-eq, -contains), display names with.
    param($Desired, $Actual)
    $steps = New-Object System.Collections.Generic.List[object]
    $principals = Get-OrdinalSorted -InputObject @($Desired.principals) -Property 'name'
    $servicePrincipals = Get-OrdinalSorted -InputObject @($Actual.ServicePrincipals) -Property 'objectId'
    $ownedGroups = Get-OrdinalSorted -InputObject @($Actual.RoleGroups | Where-Object { Test-Owned -Name $_.name }) -Property 'name'
    $removedMembers = @()

    # 1. Service principals. An owned one holding a declared AppId under another ObjectId points at a deleted and re-created Entra
    #    service principal: it leaves its owned groups and goes first. Declared ones are created, or renamed (former owner, drift).
    foreach ($p in $principals) {
        foreach ($old in $servicePrincipals) {
            if ($old.appId -ne $p.appId -or $old.objectId -eq $p.objectId) { continue }
            if (-not (Test-Owned -Name $old.displayName)) {
                throw ("Exchange holds service principal '$($old.displayName)' ($($old.objectId)) for the AppId of $($p.name) ($($p.appId)), " +
                    "not created by this stack; New-ServicePrincipal for $($p.objectId) cannot succeed while it exists: remove it " +
                    "(Remove-ServicePrincipal) or rename it to $($p.displayName) to hand it over")
            }
            $oldId = ([string] $old.objectId).ToLowerInvariant()
            foreach ($group in $ownedGroups) {
                if (@($group.members) -contains $oldId) {
                    $steps.Add(@{ action = 'Remove-RoleGroupMember'; target = $group.name; reason = 'superseded'; member = $oldId })
                }
            }
            $removedMembers += $oldId
            $steps.Add(@{ action = 'Remove-ServicePrincipal'; target = $old.objectId; reason = 'superseded'; displayName = $old.displayName })
        }
        $existing = @($servicePrincipals | Where-Object { $_.objectId -eq $p.objectId }) | Select-Object -First 1
        if ($null -eq $existing) {
            $steps.Add(@{ action = 'New-ServicePrincipal'; target = $p.objectId; reason = 'missing'; appId = $p.appId; displayName = $p.displayName })
        }
        elseif (-not (Test-Owned -Name $existing.displayName)) {
            throw ("Exchange already holds service principal '$($existing.displayName)' for $($p.name) ($($p.objectId)), not created by " +
                "this stack; remove it or rename it to $($p.displayName) to hand it over")
        }
        elseif ($existing.displayName -cne $p.displayName) {
            $reason = 'superseded'
            if (Test-Owned -Name $existing.displayName -Prefixes @($script:Owner)) { $reason = 'drift' }
            $steps.Add(@{ action = 'Set-ServicePrincipal'; target = $p.objectId; reason = $reason; displayName = $p.displayName })
        }
    }

    # 2. Filter scopes.
    $declaredScopes = @{}
    foreach ($p in $principals) {
        $scope = $p.roleGroup.scope
        if ($null -ne $scope -and $scope.kind -eq 'filter') {
            $declaredScopes[$scope.name.ToLowerInvariant()] = $true
            $existing = @($Actual.Scopes | Where-Object { $_.name -eq $scope.name }) | Select-Object -First 1
            if ($null -eq $existing) {
                $steps.Add(@{ action = 'New-ManagementScope'; target = $scope.name; reason = 'missing'; filter = $scope.filter })
            }
            elseif ((Get-NormalisedFilter -Text $existing.filter) -ne (Get-NormalisedFilter -Text $scope.filter)) {
                $steps.Add(@{ action = 'Set-ManagementScope'; target = $scope.name; reason = 'drift'; filter = $scope.filter })
            }
        }
    }

    # 2b. Custom roles: created with only the declared cmdlets (never a full copy of the parent); entries drifted back.
    $declaredRoles = @{}
    foreach ($p in $principals) {
        $custom = $p.roleGroup.customRole
        if ($null -eq $custom) { continue }
        $declaredRoles[$custom.name.ToLowerInvariant()] = $true
        $existing = @($Actual.Roles | Where-Object { $_.name -eq $custom.name }) | Select-Object -First 1
        if ($null -eq $existing) {
            $steps.Add(@{ action = 'New-ManagementRole'; target = $custom.name; reason = 'missing'; parent = $custom.parent; cmdlets = [string[]] @($custom.cmdlets) })
            continue
        }
        $haveCmdlets = @($existing.cmdlets | ForEach-Object { ([string] $_).ToLowerInvariant() })
        $wantCmdlets = @($custom.cmdlets | ForEach-Object { ([string] $_).ToLowerInvariant() })
        foreach ($cmdlet in @($custom.cmdlets)) {
            if ($haveCmdlets -notcontains ([string] $cmdlet).ToLowerInvariant()) {
                $steps.Add(@{ action = 'Add-ManagementRoleEntry'; target = $custom.name; reason = 'drift'; cmdlet = $cmdlet })
            }
        }
        foreach ($extra in (Get-OrdinalSorted -InputObject @($existing.cmdlets))) {
            if ($wantCmdlets -notcontains ([string] $extra).ToLowerInvariant()) {
                $steps.Add(@{ action = 'Remove-ManagementRoleEntry'; target = $custom.name; reason = 'drift'; cmdlet = $extra })
            }
        }
    }

    # 3. Role groups (empty) and 4. their scoped assignments; undeclared or mis-scoped assignments on owned groups go.
    foreach ($p in $principals) {
        $group = $p.roleGroup
        $existing = @($ownedGroups | Where-Object { $_.name -eq $group.name }) | Select-Object -First 1
        if ($null -eq $existing) {
            $steps.Add(@{ action = 'New-RoleGroup'; target = $group.name; reason = 'missing'; displayName = $group.displayName })
        }
        $have = @{}
        if ($null -ne $existing) {
            foreach ($a in @($existing.assignments)) { $have[$a.name.ToLowerInvariant()] = $a }
        }
        $wantScope = Get-AssignmentScope -Scope $group.scope
        foreach ($assignment in @($group.assignments)) {
            $key = $assignment.name.ToLowerInvariant()
            $current = $have[$key]
            $have.Remove($key)
            if ($null -ne $current -and ($current.role -ne $assignment.role -or $current.scope -ne $wantScope)) {
                $steps.Add(@{ action = 'Remove-ManagementRoleAssignment'; target = $current.name; reason = 'drift'; role = $current.role })
                $current = $null
            }
            if ($null -eq $current) {
                $steps.Add(@{
                        action = 'New-ManagementRoleAssignment'; target = $assignment.name; reason = 'missing'
                        role = $assignment.role; roleGroup = $group.name; scope = $wantScope
                    })
            }
        }
        foreach ($extra in (Get-OrdinalSorted -InputObject @($have.Values) -Property 'name')) {
            $steps.Add(@{ action = 'Remove-ManagementRoleAssignment'; target = $extra.name; reason = 'drift'; role = $extra.role })
        }
    }

    # 5. Membership, only now that every declared group holds its scoped assignments.
    foreach ($p in $principals) {
        $group = $p.roleGroup
        $declaredMember = ([string] $p.objectId).ToLowerInvariant()
        $existing = @($ownedGroups | Where-Object { $_.name -eq $group.name }) | Select-Object -First 1
        $members = @()
        if ($null -ne $existing) { $members = @($existing.members | Where-Object { $removedMembers -notcontains $_ }) }
        if ($members -notcontains $declaredMember) {
            $steps.Add(@{ action = 'Add-RoleGroupMember'; target = $group.name; reason = 'missing'; member = $p.objectId })
        }
        foreach ($stranger in (Get-OrdinalSorted -InputObject @($members | Where-Object { $_ -ne $declaredMember } | Select-Object -Unique))) {
            $steps.Add(@{ action = 'Remove-RoleGroupMember'; target = $group.name; reason = 'drift'; member = $stranger })
        }
    }

    # 6. Obsolete owned groups (this owner's or a former one's): emptied, then removed; 7. obsolete scopes and custom roles;
    #    8. obsolete service principals.
    $wantedGroups = @($principals | ForEach-Object { $_.roleGroup.name.ToLowerInvariant() })
    foreach ($group in $ownedGroups) {
        if ($wantedGroups -contains $group.name.ToLowerInvariant()) { continue }
        $leftMembers = @($group.members | Where-Object { $removedMembers -notcontains $_ } | Select-Object -Unique)
        foreach ($member in (Get-OrdinalSorted -InputObject $leftMembers)) {
            $steps.Add(@{ action = 'Remove-RoleGroupMember'; target = $group.name; reason = 'obsolete'; member = $member })
        }
        $steps.Add(@{ action = 'Remove-RoleGroup'; target = $group.name; reason = 'obsolete' })
    }
    foreach ($scope in (Get-OrdinalSorted -InputObject @($Actual.Scopes | Where-Object { Test-Owned -Name $_.name }) -Property 'name')) {
        if (-not $declaredScopes.ContainsKey($scope.name.ToLowerInvariant())) {
            $steps.Add(@{ action = 'Remove-ManagementScope'; target = $scope.name; reason = 'obsolete' })
        }
    }
    foreach ($role in (Get-OrdinalSorted -InputObject @($Actual.Roles | Where-Object { Test-Owned -Name $_.name }) -Property 'name')) {
        if (-not $declaredRoles.ContainsKey($role.name.ToLowerInvariant())) {
            $steps.Add(@{ action = 'Remove-ManagementRole'; target = $role.name; reason = 'obsolete' })
        }
    }
    $wantedPrincipals = @($principals | ForEach-Object { ([string] $_.objectId).ToLowerInvariant() })
    foreach ($sp in $servicePrincipals) {
        $spId = ([string] $sp.objectId).ToLowerInvariant()
        if ((Test-Owned -Name $sp.displayName) -and ($wantedPrincipals -notcontains $spId) -and ($removedMembers -notcontains $spId)) {
            $steps.Add(@{ action = 'Remove-ServicePrincipal'; target = $sp.objectId; reason = 'obsolete'; displayName = $sp.displayName })
        }
    }
    return $steps
}

function Invoke-PlanStep {
    # The only place that changes Exchange. Every target is checked for the owner prefix first (service principals by display name).
    param([hashtable] $Step, $Actual)
    $target = [string] $Step.target
    if ($Step.action -like '*ServicePrincipal') {
        # The object changed must be owned (by the display name this run read), and so must any name it is given.
        if ($Step.action -ne 'New-ServicePrincipal') {
            $current = @($Actual.ServicePrincipals | Where-Object { $_.objectId -eq $target }) | Select-Object -First 1
            if ($null -eq $current) { throw "service principal $target is not among those this run read; refusing to change it" }
            Assert-Owned -Name $current.displayName
        }
        if ($Step.action -ne 'Remove-ServicePrincipal') { Assert-Owned -Name $Step.displayName -Prefixes @($script:Owner) }
    }
    elseif ($Step.action -eq 'Remove-ManagementRoleAssignment' -or $Step.action -eq 'New-ManagementRoleAssignment') {
        Assert-Owned -Name $target
        if ($Step['roleGroup']) { Assert-Owned -Name $Step.roleGroup }
    }
    else {
        Assert-Owned -Name $target
    }
    switch ($Step.action) {
        'New-ServicePrincipal' {
            $null = New-ServicePrincipal -AppId $Step.appId -ObjectId $target -DisplayName $Step.displayName -ErrorAction Stop
        }
        'Set-ServicePrincipal' {
            Set-ServicePrincipal -Identity $target -DisplayName $Step.displayName -Confirm:$false -ErrorAction Stop
        }
        'Remove-ServicePrincipal' {
            Remove-ServicePrincipal -Identity $target -Confirm:$false -ErrorAction Stop
        }
        'New-ManagementScope' {
            $null = New-ManagementScope -Name $target -RecipientRestrictionFilter $Step.filter -ErrorAction Stop
        }
        'Set-ManagementScope' {
            Set-ManagementScope -Identity $target -RecipientRestrictionFilter $Step.filter -Confirm:$false -ErrorAction Stop
        }
        'Remove-ManagementScope' {
            Remove-ManagementScope -Identity $target -Confirm:$false -ErrorAction Stop
        }
        'New-ManagementRole' {
            $null = New-ManagementRole -Name $target -Parent $Step.parent -EnabledCmdlets $Step.cmdlets -ErrorAction Stop
        }
        'Add-ManagementRoleEntry' {
            Add-ManagementRoleEntry -Identity "$target\$($Step.cmdlet)" -ErrorAction Stop
        }
        'Remove-ManagementRoleEntry' {
            Remove-ManagementRoleEntry -Identity "$target\$($Step.cmdlet)" -Confirm:$false -ErrorAction Stop
        }
        'Remove-ManagementRole' {
            Remove-ManagementRole -Identity $target -Confirm:$false -ErrorAction Stop
        }
        'New-RoleGroup' {
            $null = New-RoleGroup -Name $target -DisplayName $Step.displayName -Description "Managed by exo-automation Sync-ExchangeRbac; edits are reverted" -ErrorAction Stop
        }
        'Remove-RoleGroup' {
            Remove-RoleGroup -Identity $target -BypassSecurityGroupManagerCheck -Confirm:$false -ErrorAction Stop
        }
        'New-ManagementRoleAssignment' {
            $scope = [string] $Step.scope
            if ($scope.StartsWith('scope:')) {
                $null = New-ManagementRoleAssignment -Name $target -Role $Step.role -SecurityGroup $Step.roleGroup -CustomRecipientWriteScope $scope.Substring(6) -ErrorAction Stop
            }
            elseif ($scope.StartsWith('au:')) {
                $null = New-ManagementRoleAssignment -Name $target -Role $Step.role -SecurityGroup $Step.roleGroup -RecipientAdministrativeUnitScope $scope.Substring(3) -ErrorAction Stop
            }
            else {
                $null = New-ManagementRoleAssignment -Name $target -Role $Step.role -SecurityGroup $Step.roleGroup -ErrorAction Stop
            }
        }
        'Remove-ManagementRoleAssignment' {
            Remove-ManagementRoleAssignment -Identity $target -Confirm:$false -ErrorAction Stop
        }
        'Add-RoleGroupMember' {
            Add-RoleGroupMember -Identity $target -Member $Step.member -BypassSecurityGroupManagerCheck -ErrorAction Stop
        }
        'Remove-RoleGroupMember' {
            Remove-RoleGroupMember -Identity $target -Member $Step.member -BypassSecurityGroupManagerCheck -Confirm:$false -ErrorAction Stop
        }
        default { throw "unknown plan step $($Step.action)" }
    }
}

$summary = [ordered]@{
    runbook      = $RunbookName
    organization = $Organization
    dryRun       = $DryRun
    stateSha256  = ''
    skipped      = $false
    planned      = 0
    applied      = 0
    drift        = 0
    status       = 'Failed'
}
$connectionId = ''
try {
    $desired = Read-DesiredState
    $summary.stateSha256 = $desired.Sha256
    $lastApplied = Read-LastApplied
    if ($null -ne $lastApplied -and $lastApplied.owner) {
        # A stack renamed since the last applied run: what the old prefix made is still ours to hand over or remove.
        Add-OwnerPrefix -Prefix $lastApplied.owner -Source $AppliedVariableName
    }
    $unchanged = Test-RecentlyApplied -Digest $desired.Sha256 -LastApplied $lastApplied
    if ($unchanged) {
        # The frequent schedule's common case: nothing changed since the last full run; Exchange is not contacted.
        $summary.skipped = $true
        $summary.status = 'Succeeded'
        return
    }
    $connectionId = Connect-ExoSession -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
        -CommandName $ExchangeCommands -RequiredRoleHint $RequiredRoleHint

    $actual = Read-ActualState
    # @(): a function's list output is unrolled; an empty or one-step plan must still be a list.
    $plan = @(New-ReconcilePlan -Desired $desired.State -Actual $actual)
    $summary.planned = $plan.Count
    $summary.drift = @($plan | Where-Object { $_.reason -eq 'drift' }).Count
    foreach ($step in $plan) {
        # The record carries the step's details (role, scope, filter, member, cmdlet): the drift report names what differs.
        $record = @{ runbook = $RunbookName; status = 'Planned' }
        foreach ($key in $step.Keys) { $record[$key] = $step[$key] }
        if ($DryRun) {
            Write-Record -Record $record -Format 'JsonLines'
            continue
        }
        try {
            $null = Invoke-ExchangeCall -Step "$($step.action) $($step.target)" -Call { Invoke-PlanStep -Step $step -Actual $actual }
        }
        catch {
            $record.status = 'Failed'
            $record.error = Get-ExceptionText -ErrorRecord $_
            Write-Record -Record $record -Format 'JsonLines'
            # Stop here: no later step (removals come last) may run after a failed one.
            throw
        }
        $record.status = 'Applied'
        $summary.applied++
        Write-Record -Record $record -Format 'JsonLines'
    }
    if (-not $DryRun) {
        # Only a run that applied every step records the document: a failed one leaves the next run a full one.
        Save-Applied -Digest $desired.Sha256
    }
    $summary.status = 'Succeeded'
}
finally {
    Disconnect-ExoSession -ConnectionId $connectionId
    Write-Output ($summary | ConvertTo-Json -Compress -Depth 4)
}
