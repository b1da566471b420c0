# exo-automation:roles {"anyOf": [["Global Reader"], ["Exchange Recipient Administrator"], ["Exchange Administrator"], ["Global Administrator"]], "reason": "Read-only: Get-EXOMailbox, Get-EXOMailboxPermission and Get-EXORecipientPermission read recipients, which Global Reader (View-Only Organization Management) can do; the recipient and Exchange administrator roles also can, with more privilege than needed."}
<#
.SYNOPSIS
    Reports explicit mailbox delegation in Exchange Online: Full Access, Send As and Send on Behalf.

.DESCRIPTION
    Connects to Exchange Online with the Automation account's managed identity and lists the permissions someone was
    explicitly given:

      - mailbox permissions (Get-EXOMailboxPermission, one call per mailbox: Exchange has no tenant-wide query for them):
        FullAccess and any other access right, not inherited, without the mailbox's own NT AUTHORITY\SELF entry;
      - Send As: ONE tenant-wide query (Get-EXORecipientPermission -AccessRights SendAs -ResultSize Unlimited), not
        inherited, without SELF. It covers every recipient (groups too) and runs in partition 0 only, because its
        records carry no ExternalDirectoryObjectId to partition by;
      - Send on Behalf (the mailbox's GrantSendOnBehalfTo list, read with the mailbox itself).

    Records stream out as they are found (one object, or one JSON line with -OutputFormat JsonLines), with a Progress
    record every 500 mailboxes and a JSON summary at the end, so a job stopped by the sandbox still leaves its findings.
    Mailboxes are streamed through the pipeline, never collected. Trustees that are bare SIDs (S-1-5-...) belong to
    deleted accounts and are flagged.

    Read-only: the runbook changes nothing. Entra role: see the exo-automation:roles line at the top (Global Reader).

.PARAMETER Organization
    The tenant's initial domain, for example contoso.onmicrosoft.com (not a vanity domain, not the tenant id).

.PARAMETER ExchangeEnvironmentName
    O365Default (commercial and GCC), O365USGovGCCHigh, O365USGovDoD or O365China.

.PARAMETER ManagedIdentityClientId
    Client (application) id of a user-assigned managed identity. Leave empty to use the system-assigned identity.

.PARAMETER RecipientTypeDetails
    Mailbox types to scan, as a list or one comma-separated string.

.PARAMETER Identity
    Optional mailboxes (addresses or UPNs) to report on instead of every mailbox of the types above (no partitioning).

.PARAMETER OutputFormat
    Object (one PowerShell object per record) or JsonLines (one compressed JSON document per record).

.PARAMETER PartitionCount
    Split one logical run into this many jobs (1-64, default 1). Each mailbox belongs to exactly one partition, by a
    SHA-256 of its ExternalDirectoryObjectId, the same on PowerShell 5.1 and 7. The program sets it from partitions.

.PARAMETER PartitionIndex
    Which partition this job reads, 0 to PartitionCount-1 (default 0).

.PARAMETER MaxReadFailurePercent
    The job fails when more than this percentage of the mailboxes in its partition could not be read (default 0: any
    mailbox that could not be read fails the job, after the others were read). A tenant-wide read that fails always
    fails the job.

.NOTES
    Runtime: PowerShell 7.4 with ExchangeOnlineManagement 3.5.0-3.9.x, or Windows PowerShell 5.1 with any 3.x.
    Every Exchange call passes -ErrorAction Stop itself: the module's REST functions do not see this script's
    $ErrorActionPreference (PowerShell/PowerShell #4568). Throttled calls are retried with back-off.
    Exit: the job fails (throws) when the connection fails, when a tenant-wide read fails, or when mailbox reads fail
    beyond -MaxReadFailurePercent; the records and the summary written before that stay in the job output.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9-]*\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,

    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',

    [string] $ManagedIdentityClientId = '',

    [string[]] $RecipientTypeDetails = @('UserMailbox', 'SharedMailbox', 'RoomMailbox', 'EquipmentMailbox'),

    [string[]] $Identity = @(),

    [ValidateSet('Object', 'JsonLines')]
    [string] $OutputFormat = 'Object',

    [ValidateRange(1, 64)]
    [int] $PartitionCount = 1,

    [ValidateRange(0, 63)]
    [int] $PartitionIndex = 0,

    [ValidateRange(0, 100)]
    [double] $MaxReadFailurePercent = 0
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RunbookName = 'Get-MailboxPermissionReport'
$RequiredRoleHint = 'Global Reader (read-only; Exchange Recipient Administrator or Exchange Administrator also work)'
$SelfTrustee = 'NT AUTHORITY\SELF'
# Calls per mailbox in scope (Get-EXOMailboxPermission); see docs/runbooks.md, "Scale".
$CallsPerMailbox = 1

#region exo-automation shared helpers (identical in every runbook; tests/runbooks checks it: Automation uploads each file alone)
# Exchange throttling and transient service errors: HTTP 429 (Too Many Requests) and 503 (Server Busy / Service Unavailable)
# from the REST endpoint, and Exchange's own throttling wording ("Micro delay applied", Microsoft KB 2881759; budget exceeded;
# "try again later"). Anything else is not retried.
$ThrottlingPattern = '(?i)\b429\b|Too ?Many ?Requests|\b503\b|Server ?Busy|Service ?Unavailable|throttl|Micro ?delay|budget.{0,20}exceed|try again later'
$MaxAttempts = 6
# A run of consecutive failed mailbox reads this long is a systemic problem (a missing role, a revoked grant): stop early.
$MaxConsecutiveReadFailures = 25

function Split-ListParameter {
    # Azure Automation passes schedule parameters as strings; accept both a real list and "a,b,c".
    param([string[]] $Value)
    # Writes the items to the pipeline; callers wrap the call in @() to get an array, even of one or none.
    foreach ($entry in @($Value)) {
        foreach ($part in ([string] $entry).Split(',')) {
            $trimmed = $part.Trim()
            if ($trimmed) { $trimmed }
        }
    }
}

function Get-ExceptionText {
    param([System.Management.Automation.ErrorRecord] $ErrorRecord)
    $messages = New-Object System.Collections.Generic.List[string]
    $messages.Add([string] $ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        $messages.Add($exception.Message)
        $exception = $exception.InnerException
    }
    return ($messages -join ' | ')
}

function Test-ThrottlingError {
    param([System.Management.Automation.ErrorRecord] $ErrorRecord)
    return ((Get-ExceptionText -ErrorRecord $ErrorRecord) -match $ThrottlingPattern)
}

function Invoke-ExchangeCall {
    # Runs one Exchange call (the script block passes -ErrorAction Stop itself) and retries it with exponential back-off
    # and jitter while Exchange throttles; honours a Retry-After hint in the error. Any other error is thrown at once.
    param([Parameter(Mandatory)] [scriptblock] $Call, [Parameter(Mandatory)] [string] $Step)
    for ($attempt = 1; ; $attempt++) {
        try {
            # @(): the caller gets an array, even of one or no result.
            return , @(& $Call)
        }
        catch {
            if ($attempt -ge $MaxAttempts -or -not (Test-ThrottlingError -ErrorRecord $_)) { throw }
            $delay = [math]::Min(300, [math]::Pow(2, $attempt)) + (Get-Random -Minimum 0 -Maximum 1000) / 1000
            if ((Get-ExceptionText -ErrorRecord $_) -match '(?i)retry.?after\D{0,10}(\d+)') { $delay = [math]::Max($delay, [int] $Matches[1]) }
            Write-Warning "$Step throttled (attempt $attempt of $MaxAttempts); waiting $([int] $delay) s."
            Start-Sleep -Seconds ([int] [math]::Ceiling($delay))
        }
    }
}

function Get-ConnectionFailureMessage {
    # Turns the module's errors into the fix an administrator needs to make.
    param(
        [System.Management.Automation.ErrorRecord] $ErrorRecord,
        [string] $Organization,
        [string] $RequiredRoleHint,
        [string] $Step = 'Connect-ExchangeOnline -ManagedIdentity'
    )
    $text = Get-ExceptionText -ErrorRecord $ErrorRecord
    if ($text -match "(isn.t|is not) supported in this scenario") {
        return ("Exchange Online refused the managed identity's role: '$text'. The identity holds Exchange.ManageAsApp " +
            "but no Entra role that Exchange Online accepts for app-only access. Assign $RequiredRoleHint to the " +
            "managed identity's service principal, wait for the assignment to replicate (it can take up to an hour), " +
            "and run the job again.")
    }
    if ($text -match 'cannot be a Guid') {
        return "-Organization must be the initial *.onmicrosoft.com domain, not the tenant id ('$Organization'): $text"
    }
    if ($text -match 'Unauthori[sz]ed|\b(401|403)\b|Forbidden|AADSTS|AccessDenied|access denied') {
        return ("Exchange Online refused '$Step' for organization '$Organization': '$text'. Check that the identity holds " +
            "the Exchange.ManageAsApp app role on the 'Office 365 Exchange Online' service principal of this tenant, that " +
            "-Organization is the tenant's initial onmicrosoft domain, and that it holds $RequiredRoleHint.")
    }
    if ($text -match 'managed identity|ManagedIdentity|IDENTITY_ENDPOINT|\bMSI\b') {
        return ("No managed identity token could be obtained: '$text'. Enable the system-assigned identity on the " +
            "Automation account (or pass -ManagedIdentityClientId of a user-assigned identity attached to it).")
    }
    return "$Step failed for organization '$Organization': $text"
}

function Connect-ExchangeWithManagedIdentity {
    param([string] $Organization, [string] $ExchangeEnvironmentName, [string] $ManagedIdentityClientId, [string] $RequiredRoleHint)
    if (-not (Get-Command -Name Connect-ExchangeOnline -ErrorAction SilentlyContinue)) {
        throw ('The ExchangeOnlineManagement module is not available to this job. Import it into the runtime environment ' +
            '(PowerShell 7.4: package) or the account (5.1/7.2: module) and make sure the import finished before the job runs.')
    }
    try {
        $null = Invoke-ExchangeCall -Step 'Connect-ExchangeOnline' -Call {
            if ($ManagedIdentityClientId) {
                Connect-ExchangeOnline -ManagedIdentity -ManagedIdentityAccountId $ManagedIdentityClientId `
                    -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
                    -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
            }
            else {
                Connect-ExchangeOnline -ManagedIdentity -Organization $Organization `
                    -ExchangeEnvironmentName $ExchangeEnvironmentName -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
            }
        }
    }
    catch {
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization -RequiredRoleHint $RequiredRoleHint)
    }
}

function Get-PropertyValue {
    # Reads a property that a module version may not return, without tripping Set-StrictMode.
    param($InputObject, [string] $Name)
    if ($null -eq $InputObject) { return $null }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function Write-Record {
    # Written as it is found, so a job stopped by the sandbox (3 h, 400 MB) still leaves what it found.
    param([Parameter(Mandatory)] [psobject] $Record, [string] $Format)
    if ($Format -eq 'JsonLines') {
        Write-Output ($Record | ConvertTo-Json -Compress -Depth 6)
    }
    else {
        Write-Output $Record
    }
}

function Get-PartitionIndex {
    # SHA-256 of the lower-case key, first four bytes big-endian, modulo the count: the same on Windows PowerShell 5.1 and
    # PowerShell 7 (String.GetHashCode() is randomized per process on .NET Core), so N jobs split the mailboxes exactly.
    param([Parameter(Mandatory)] [string] $Key, [Parameter(Mandatory)] [int] $Count)
    $sha256 = [System.Security.Cryptography.SHA256]::Create()
    try {
        $digest = $sha256.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Key.ToLowerInvariant()))
    }
    finally {
        $sha256.Dispose()
    }
    [long] $value = 0
    for ($i = 0; $i -lt 4; $i++) { $value = $value * 256 + [long] $digest[$i] }
    return [int] ($value % $Count)
}

function Test-MailboxInPartition {
    param($Mailbox, [int] $PartitionCount, [int] $PartitionIndex)
    if ($PartitionCount -le 1) { return $true }
    $key = [string] (Get-PropertyValue $Mailbox 'ExternalDirectoryObjectId')
    if (-not $key) { $key = [string] (Get-PropertyValue $Mailbox 'Guid') }
    return ((Get-PartitionIndex -Key $key -Count $PartitionCount) -eq $PartitionIndex)
}

function Add-ReadFailure {
    # Counts and reports a mailbox that could not be read; stops the run when the failures look systemic.
    param([Parameter(Mandatory)] $State, [string] $Mailbox, [string] $Step, [System.Management.Automation.ErrorRecord] $ErrorRecord, [string] $Format)
    $State.readFailures++
    $State.consecutiveReadFailures++
    $failure = [pscustomobject]@{ RecordType = 'Failure'; Mailbox = $Mailbox; Step = $Step; Error = (Get-ExceptionText -ErrorRecord $ErrorRecord) }
    if ($State.failures.Count -lt 50) { $State.failures.Add($failure) }
    Write-Record -Format $Format -Record $failure
    if ($State.consecutiveReadFailures -ge $MaxConsecutiveReadFailures) {
        throw "$($State.consecutiveReadFailures) mailbox reads in a row failed (last: $Step on $Mailbox): $($failure.Error)"
    }
}

function Assert-ReadFailureThreshold {
    # The job fails (Failed in Automation) when more than ThresholdPercent of the mailboxes in scope could not be read.
    param([Parameter(Mandatory)] $State, [double] $ThresholdPercent)
    $attempted = [math]::Max(1, $State.mailboxesInPartition)
    $percent = 100.0 * $State.readFailures / $attempted
    if ($State.readFailures -gt 0 -and $percent -gt $ThresholdPercent) {
        throw ("$($State.readFailures) of $($State.mailboxesInPartition) mailbox(es) could not be read ($([math]::Round($percent, 2))% > " +
            "-MaxReadFailurePercent $ThresholdPercent); their records are missing. See the Failure records above.")
    }
}
#endregion exo-automation shared helpers

function New-PermissionRecord {
    param([string] $Mailbox, [string] $MailboxDisplayName, [string] $MailboxType, [string] $Permission, [string] $Trustee,
        [string] $AccessRights, [bool] $Deny, [string] $Source)
    [pscustomobject]@{
        RecordType           = 'Permission'
        Mailbox              = $Mailbox
        MailboxDisplayName   = $MailboxDisplayName
        MailboxType          = $MailboxType
        Permission           = $Permission
        Trustee              = $Trustee
        AccessRights         = $AccessRights
        Deny                 = $Deny
        TrusteeIsOrphanedSid = [bool] ($Trustee -match '^S-1-5-')
        Source               = $Source
    }
}

function Write-SendAsRecord {
    param($Entry, $State)
    $trustee = [string] $Entry.Trustee
    if ((Get-PropertyValue $Entry 'IsInherited') -or $trustee -eq $SelfTrustee) { return }
    $State.counts.SendAs++
    if ($trustee -match '^S-1-5-') { $State.counts.OrphanedSidTrustees++ }
    Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox ([string] $Entry.Identity) -Permission 'SendAs' `
            -Trustee $trustee -AccessRights 'SendAs' -Deny ([string] (Get-PropertyValue $Entry 'AccessControlType') -eq 'Deny') `
            -Source 'Get-EXORecipientPermission')
}

function Read-MailboxPermission {
    # One mailbox: its explicit mailbox permissions (one call) and its Send on Behalf list (already read with it).
    param($Mailbox, $State)
    $State.mailboxesInPartition++
    $address = [string] $Mailbox.PrimarySmtpAddress
    $objectId = [string] $Mailbox.ExternalDirectoryObjectId
    try {
        $entries = Invoke-ExchangeCall -Step 'Get-EXOMailboxPermission' -Call {
            Get-EXOMailboxPermission -ExternalDirectoryObjectId $objectId -ResultSize Unlimited -ErrorAction Stop
        }
    }
    catch {
        Add-ReadFailure -State $State -Mailbox $address -Step 'Get-EXOMailboxPermission' -ErrorRecord $_ -Format $OutputFormat
        return
    }
    $State.consecutiveReadFailures = 0
    foreach ($entry in $entries) {
        $trustee = [string] $entry.User
        if ((Get-PropertyValue $entry 'IsInherited') -or $trustee -eq $SelfTrustee) { continue }
        $rights = (@($entry.AccessRights) | ForEach-Object { [string] $_ }) -join ','
        $permission = if ($rights -match 'FullAccess') { 'FullAccess' } else { 'MailboxRights' }
        if ($permission -eq 'FullAccess') { $State.counts.FullAccess++ } else { $State.counts.OtherMailboxRights++ }
        if ($trustee -match '^S-1-5-') { $State.counts.OrphanedSidTrustees++ }
        Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox $address -MailboxDisplayName ([string] $Mailbox.DisplayName) `
                -MailboxType ([string] $Mailbox.RecipientTypeDetails) -Permission $permission -Trustee $trustee -AccessRights $rights `
                -Deny ([bool] (Get-PropertyValue $entry 'Deny')) -Source 'Get-EXOMailboxPermission')
    }
    foreach ($delegate in @(Get-PropertyValue $Mailbox 'GrantSendOnBehalfTo')) {
        if (-not $delegate) { continue }
        $State.counts.SendOnBehalf++
        Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox $address -MailboxDisplayName ([string] $Mailbox.DisplayName) `
                -MailboxType ([string] $Mailbox.RecipientTypeDetails) -Permission 'SendOnBehalf' -Trustee ([string] $delegate) `
                -AccessRights 'SendOnBehalf' -Deny $false -Source 'GrantSendOnBehalfTo')
    }
    if ($State.mailboxesInPartition % 500 -eq 0) {
        Write-Record -Format $OutputFormat -Record ([pscustomobject]@{
                RecordType = 'Progress'; MailboxesSeen = $State.mailboxesSeen; MailboxesInPartition = $State.mailboxesInPartition
                ReadFailures = $State.readFailures; ElapsedSeconds = [int] ([DateTime]::UtcNow - $State.startedAt).TotalSeconds
            })
    }
}

if ($PartitionIndex -ge $PartitionCount) {
    throw "-PartitionIndex $PartitionIndex must be less than -PartitionCount $PartitionCount."
}

$state = @{
    startedAt               = [DateTime]::UtcNow
    counts                  = [ordered]@{ FullAccess = 0; OtherMailboxRights = 0; SendAs = 0; SendOnBehalf = 0; OrphanedSidTrustees = 0 }
    failures                = New-Object System.Collections.Generic.List[object]
    readFailures            = 0
    consecutiveReadFailures = 0
    mailboxesSeen           = 0
    mailboxesInPartition    = 0
}
$connected = $false
$fatal = $null
$sendAsScope = 'none'

try {
    Connect-ExchangeWithManagedIdentity -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
        -ManagedIdentityClientId $ManagedIdentityClientId -RequiredRoleHint $RequiredRoleHint
    $connected = $true

    # Beyond the Minimum property set (which already has DisplayName, PrimarySmtpAddress, ExternalDirectoryObjectId).
    $mailboxProperties = @('GrantSendOnBehalfTo')
    $identities = @(Split-ListParameter -Value $Identity)
    if ($identities.Count -gt 0) {
        $sendAsScope = 'Identity'
        foreach ($mailboxIdentity in $identities) {
            $state.mailboxesSeen++
            try {
                $found = Invoke-ExchangeCall -Step 'Get-EXOMailbox' -Call {
                    Get-EXOMailbox -Identity $mailboxIdentity -Properties $mailboxProperties -ErrorAction Stop
                }
                $sendAs = Invoke-ExchangeCall -Step 'Get-EXORecipientPermission' -Call {
                    Get-EXORecipientPermission -Identity $mailboxIdentity -AccessRights SendAs -ResultSize Unlimited -ErrorAction Stop
                }
            }
            catch {
                $state.mailboxesInPartition++
                Add-ReadFailure -State $state -Mailbox $mailboxIdentity -Step 'Get-EXOMailbox/Get-EXORecipientPermission' -ErrorRecord $_ -Format $OutputFormat
                continue
            }
            foreach ($mailbox in $found) { Read-MailboxPermission -Mailbox $mailbox -State $state }
            foreach ($entry in $sendAs) { Write-SendAsRecord -Entry $entry -State $state }
        }
    }
    else {
        if ($PartitionIndex -eq 0) {
            # One tenant-wide query instead of one per mailbox; a failure here fails the job (Send As would be missing).
            $sendAsScope = 'Tenant'
            Get-EXORecipientPermission -AccessRights SendAs -ResultSize Unlimited -ErrorAction Stop |
                ForEach-Object { Write-SendAsRecord -Entry $_ -State $state }
        }
        $types = @(Split-ListParameter -Value $RecipientTypeDetails)
        # Streamed: each mailbox is processed as the module pages it in, and only this partition's share costs a call.
        Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails $types -Properties $mailboxProperties -ErrorAction Stop |
            Where-Object {
                $state.mailboxesSeen++
                Test-MailboxInPartition -Mailbox $_ -PartitionCount $PartitionCount -PartitionIndex $PartitionIndex
            } |
            ForEach-Object { Read-MailboxPermission -Mailbox $_ -State $state }
    }
}
catch {
    $fatal = $_
}
finally {
    if ($connected) {
        # Never let a failed disconnect hide the error that ended the job; its output is discarded, not reported.
        $null = Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue
    }
}

$elapsed = ([DateTime]::UtcNow - $state.startedAt).TotalSeconds
$status = 'Succeeded'
if ($null -ne $fatal) { $status = 'Failed' }
elseif ($state.readFailures -gt 0) {
    $status = 'CompletedWithUnreadMailboxes'
    if (100.0 * $state.readFailures / [math]::Max(1, $state.mailboxesInPartition) -gt $MaxReadFailurePercent) { $status = 'Failed' }
}
$summary = [ordered]@{
    recordType            = 'Summary'
    runbook               = $RunbookName
    organization          = $Organization
    partition             = "$PartitionIndex/$PartitionCount"
    startedAtUtc          = $state.startedAt.ToString('o')
    finishedAtUtc         = [DateTime]::UtcNow.ToString('o')
    mailboxesSeen         = $state.mailboxesSeen
    mailboxesInPartition  = $state.mailboxesInPartition
    sendAsScope           = $sendAsScope
    permissions           = $state.counts
    readFailures          = $state.readFailures
    maxReadFailurePercent = $MaxReadFailurePercent
    failures              = @($state.failures)
    error                 = if ($null -ne $fatal) { Get-ExceptionText -ErrorRecord $fatal } else { $null }
    secondsPerMailbox     = if ($state.mailboxesInPartition -gt 0) { [math]::Round($elapsed / $state.mailboxesInPartition, 3) } else { $null }
    # Jobs that would each stay under two of the sandbox's three hours at this run's measured pace.
    recommendedPartitionCount = if ($state.mailboxesInPartition -gt 0) { [math]::Max(1, [int] [math]::Ceiling($elapsed / $state.mailboxesInPartition * $state.mailboxesSeen / 7200)) } else { $null }
    status                = $status
}
Write-Output ($summary | ConvertTo-Json -Compress -Depth 6)

if ($null -ne $fatal) {
    throw "$RunbookName failed: $(Get-ExceptionText -ErrorRecord $fatal)"
}
Assert-ReadFailureThreshold -State $state -ThresholdPercent $MaxReadFailurePercent
