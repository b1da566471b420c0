<#
.SYNOPSIS
    Makes Exchange Online RBAC match the desired state that exo-automation publishes, touching only objects this stack owns.
.DESCRIPTION
    Reads the desired state (JSON) from the Automation variable ExchangeRbacDesiredState, connects to Exchange Online with the
    Automation account's managed identity, reads the Exchange objects whose names carry the state's owner prefix (exoa-<6 hex>-),
    computes a plan and, unless -DryRun is $true, applies it in this order (docs/exchange-rbac.md is the specification):
      1. service principals (New-ServicePrincipal; Set-ServicePrincipal for display-name drift);
      2. management scopes for recipient filters (New-ManagementScope; Set-ManagementScope for filter drift);
      3. role groups, created empty (New-RoleGroup);
      4. their role assignments, each scoped (New-ManagementRoleAssignment); undeclared or mis-scoped ones removed (only narrows);
      5. membership: the declared principal added (Add-RoleGroupMember) only once its group holds every scoped assignment;
         anyone else removed from an owned group;
      6. obsolete owned role groups emptied and removed, only after every step above succeeded (a replacement exists first);
      7. obsolete owned scopes, 8. obsolete owned service principals removed.
    Objects without the owner prefix are never changed. A service principal for a declared app that this stack did not create is
    refused, not adopted. Every step is written as one JSON line (planned, applied or failed); a summary line closes the run.
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
    The Automation variable where a successful run records the SHA-256 of the document it applied and when ({"stateSha256": …,
    "appliedAtUtc": …}). The program creates it and never overwrites it.
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
    # The one ownership rule: an object is ours when its name starts with the owner prefix of the published state.
    param([string] $Name)
    return ([string] $Name).StartsWith($script:Owner, [System.StringComparison]::OrdinalIgnoreCase)
}

function Assert-Owned {
    param([string] $Name)
    if (-not (Test-Owned -Name $Name)) {
        throw "refusing to change '$Name': it does not carry this stack's owner prefix $script:Owner"
    }
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
    $script:Owner = [string] $state.owner
    foreach ($principal in @($state.principals)) {
        $names = @($principal.displayName, $principal.roleGroup.name) + @($principal.roleGroup.assignments | Select-Object -ExpandProperty name)
        foreach ($name in $names) { Assert-Owned -Name $name }
    }
    return [pscustomobject]@{ State = $state; Sha256 = $digest }
}

function Read-LastApplied {
    # What the last successful run applied; an unreadable record counts as none (a full run follows).
    $text = [string] (Get-AutomationVariable -Name $AppliedVariableName)
    try { $record = $text | ConvertFrom-Json } catch { return $null }
    if ($null -eq $record -or -not ($record.PSObject.Properties.Name -contains 'stateSha256')) { return $null }
    return $record
}

function Test-RecentlyApplied {
    param([string] $Digest)
    if ($DryRun -or $FullRunAfterHours -eq 0) { return $false }
    $last = Read-LastApplied
    if ($null -eq $last -or [string] $last.stateSha256 -ne $Digest) { return $false }
    $at = [datetime]::MinValue
    $styles = [Globalization.DateTimeStyles] 'AdjustToUniversal, AssumeUniversal'
    $culture = [Globalization.CultureInfo]::InvariantCulture
    $parsed = [datetime]::TryParse([string] $last.appliedAtUtc, $culture, $styles, [ref] $at)
    return $parsed -and ([datetime]::UtcNow - $at).TotalHours -lt $FullRunAfterHours
}

function Save-Applied {
    param([string] $Digest)
    $record = [ordered]@{ stateSha256 = $Digest; appliedAtUtc = [datetime]::UtcNow.ToString('o') }
    Set-AutomationVariable -Name $AppliedVariableName -Value ($record | ConvertTo-Json -Compress)
}

function Resolve-MemberId {
    # A role group member as the Entra object id of a known service principal when any of its identifiers names one (which property
    # Exchange fills for a service principal member is not documented); otherwise its own id, so a stranger can be removed by it.
    param($Member, $ServicePrincipals)
    $candidates = @('ExternalDirectoryObjectId', 'Identity', 'Name', 'Guid', 'DisplayName') |
        ForEach-Object { Get-PropertyText -InputObject $Member -Name $_ } | Where-Object { $_ }
    foreach ($sp in @($ServicePrincipals)) {
        foreach ($candidate in $candidates) {
            if ($candidate -eq $sp.objectId -or ($sp.identity -and $candidate -eq $sp.identity) -or $candidate -eq $sp.displayName) {
                return ([string] $sp.objectId).ToLowerInvariant()
            }
        }
    }
    if (-not $candidates) { throw 'a role group member came back without any identifier; cannot compare membership' }
    return ([string] @($candidates)[0]).ToLowerInvariant()
}

function Read-ActualState {
    # Only the owner's objects are kept; service principals are few (one per app), role groups and scopes are filtered by name.
    $servicePrincipals = New-Object System.Collections.Generic.List[object]
    $raw = Invoke-ExchangeCall -Step 'Get-ServicePrincipal' -Call { Get-ServicePrincipal -ErrorAction Stop }
    foreach ($sp in @($raw)) {
        $servicePrincipals.Add([pscustomobject]@{
                objectId    = Get-PropertyText -InputObject $sp -Name 'ObjectId'
                appId       = Get-PropertyText -InputObject $sp -Name 'AppId'
                displayName = Get-PropertyText -InputObject $sp -Name 'DisplayName'
                identity    = Get-PropertyText -InputObject $sp -Name 'Identity'
            })
    }
    $scopes = New-Object System.Collections.Generic.List[object]
    $rawScopes = Invoke-ExchangeCall -Step 'Get-ManagementScope' -Call { Get-ManagementScope -ErrorAction Stop }
    foreach ($scope in @($rawScopes)) {
        $name = Get-PropertyText -InputObject $scope -Name 'Name'
        if (Test-Owned -Name $name) {
            $scopes.Add([pscustomobject]@{ name = $name; filter = Get-PropertyText -InputObject $scope -Name 'RecipientFilter' })
        }
    }
    $roles = New-Object System.Collections.Generic.List[object]
    $rawRoles = Invoke-ExchangeCall -Step 'Get-ManagementRole' -Call { Get-ManagementRole -ErrorAction Stop }
    foreach ($role in @($rawRoles)) {
        $name = Get-PropertyText -InputObject $role -Name 'Name'
        if (-not (Test-Owned -Name $name)) { continue }
        $entries = Invoke-ExchangeCall -Step "Get-ManagementRoleEntry $name" -Call {
            Get-ManagementRoleEntry -Identity "$name\*" -ErrorAction Stop
        }
        $cmdlets = New-Object System.Collections.Generic.List[string]
        foreach ($entry in @($entries)) { $cmdlets.Add((Get-PropertyText -InputObject $entry -Name 'Name')) }
        $roles.Add([pscustomobject]@{ name = $name; cmdlets = $cmdlets })
    }
    $groups = New-Object System.Collections.Generic.List[object]
    $filter = "Name -like '$($script:Owner)*'"
    $rawGroups = Invoke-ExchangeCall -Step 'Get-RoleGroup' -Call { Get-RoleGroup -Filter $filter -ResultSize Unlimited -ErrorAction Stop }
    foreach ($group in @($rawGroups)) {
        $name = Get-PropertyText -InputObject $group -Name 'Name'
        if (-not (Test-Owned -Name $name)) { continue }
        $members = Invoke-ExchangeCall -Step "Get-RoleGroupMember $name" -Call {
            Get-RoleGroupMember -Identity $name -ResultSize Unlimited -ErrorAction Stop
        }
        $memberIds = New-Object System.Collections.Generic.List[string]
        foreach ($member in @($members)) {
            $memberIds.Add((Resolve-MemberId -Member $member -ServicePrincipals $servicePrincipals))
        }
        $assignments = New-Object System.Collections.Generic.List[object]
        $rawAssignments = Invoke-ExchangeCall -Step "Get-ManagementRoleAssignment $name" -Call {
            Get-ManagementRoleAssignment -RoleAssignee $name -ErrorAction Stop
        }
        foreach ($assignment in @($rawAssignments)) {
            $scopeText = ''
            $custom = Get-PropertyText -InputObject $assignment -Name 'CustomRecipientWriteScope'
            $unit = Get-PropertyText -InputObject $assignment -Name 'RecipientAdministrativeUnitScope'
            if ($custom) { $scopeText = "scope:$custom" }
            elseif ($unit) { $scopeText = "au:$unit" }
            $assignments.Add([pscustomobject]@{
                    name  = Get-PropertyText -InputObject $assignment -Name 'Name'
                    role  = Get-PropertyText -InputObject $assignment -Name 'Role'
                    scope = $scopeText
                })
        }
        $groups.Add([pscustomobject]@{ name = $name; members = $memberIds; assignments = $assignments })
    }
    return [pscustomobject]@{ ServicePrincipals = $servicePrincipals; Scopes = $scopes; Roles = $roles; RoleGroups = $groups }
}

function New-ReconcilePlan {
    # The same plan as exo/exchange_rbac_state.py plan(); the order of the phases below is the safety argument.
    param($Desired, $Actual)
    $steps = New-Object System.Collections.Generic.List[object]
    $principals = @($Desired.principals)

    # 1. Service principals.
    foreach ($p in $principals) {
        $existing = @($Actual.ServicePrincipals | Where-Object { $_.objectId -eq $p.objectId }) | Select-Object -First 1
        if ($null -eq $existing) {
            $steps.Add(@{ action = 'New-ServicePrincipal'; target = $p.objectId; reason = 'missing'; appId = $p.appId; displayName = $p.displayName })
        }
        elseif (-not (Test-Owned -Name $existing.displayName)) {
            throw ("Exchange already holds service principal '$($existing.displayName)' for $($p.name) ($($p.objectId)), not created by " +
                "this stack; remove it or rename it to $($p.displayName) to hand it over")
        }
        elseif ($existing.displayName -cne $p.displayName) {
            $steps.Add(@{ action = 'Set-ServicePrincipal'; target = $p.objectId; reason = 'drift'; displayName = $p.displayName })
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
        foreach ($extra in @($existing.cmdlets | Sort-Object)) {
            if ($wantCmdlets -notcontains ([string] $extra).ToLowerInvariant()) {
                $steps.Add(@{ action = 'Remove-ManagementRoleEntry'; target = $custom.name; reason = 'drift'; cmdlet = $extra })
            }
        }
    }

    # 3. Role groups (empty) and 4. their scoped assignments; undeclared or mis-scoped assignments on owned groups go.
    foreach ($p in $principals) {
        $group = $p.roleGroup
        $existing = @($Actual.RoleGroups | Where-Object { $_.name -eq $group.name }) | Select-Object -First 1
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
        foreach ($extra in @($have.Values)) {
            $steps.Add(@{ action = 'Remove-ManagementRoleAssignment'; target = $extra.name; reason = 'drift'; role = $extra.role })
        }
    }

    # 5. Membership, only now that every declared group holds its scoped assignments.
    foreach ($p in $principals) {
        $group = $p.roleGroup
        $existing = @($Actual.RoleGroups | Where-Object { $_.name -eq $group.name }) | Select-Object -First 1
        $members = @()
        if ($null -ne $existing) { $members = @($existing.members) }
        if ($members -notcontains $p.objectId.ToLowerInvariant()) {
            $steps.Add(@{ action = 'Add-RoleGroupMember'; target = $group.name; reason = 'missing'; member = $p.objectId })
        }
        foreach ($stranger in @($members | Where-Object { $_ -ne $p.objectId.ToLowerInvariant() })) {
            $steps.Add(@{ action = 'Remove-RoleGroupMember'; target = $group.name; reason = 'drift'; member = $stranger })
        }
    }

    # 6. Obsolete owned groups: emptied, then removed; 7. obsolete scopes and custom roles; 8. obsolete service principals.
    $wantedGroups = @($principals | ForEach-Object { $_.roleGroup.name.ToLowerInvariant() })
    foreach ($group in @($Actual.RoleGroups | Sort-Object -Property name)) {
        if ($wantedGroups -contains $group.name.ToLowerInvariant()) { continue }
        foreach ($member in @($group.members | Sort-Object)) {
            $steps.Add(@{ action = 'Remove-RoleGroupMember'; target = $group.name; reason = 'obsolete'; member = $member })
        }
        $steps.Add(@{ action = 'Remove-RoleGroup'; target = $group.name; reason = 'obsolete' })
    }
    foreach ($scope in @($Actual.Scopes | Sort-Object -Property name)) {
        if (-not $declaredScopes.ContainsKey($scope.name.ToLowerInvariant())) {
            $steps.Add(@{ action = 'Remove-ManagementScope'; target = $scope.name; reason = 'obsolete' })
        }
    }
    foreach ($role in @($Actual.Roles | Sort-Object -Property name)) {
        if (-not $declaredRoles.ContainsKey($role.name.ToLowerInvariant())) {
            $steps.Add(@{ action = 'Remove-ManagementRole'; target = $role.name; reason = 'obsolete' })
        }
    }
    $wantedPrincipals = @($principals | ForEach-Object { $_.objectId.ToLowerInvariant() })
    foreach ($sp in @($Actual.ServicePrincipals | Sort-Object -Property objectId)) {
        if ((Test-Owned -Name $sp.displayName) -and ($wantedPrincipals -notcontains $sp.objectId.ToLowerInvariant())) {
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
        $name = $Step['displayName']
        if (-not $name) {
            $name = (@($Actual.ServicePrincipals | Where-Object { $_.objectId -eq $target }) | Select-Object -First 1).displayName
        }
        Assert-Owned -Name $name
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
    $unchanged = Test-RecentlyApplied -Digest $desired.Sha256
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
