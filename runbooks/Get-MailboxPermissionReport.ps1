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

.PARAMETER CertificateThumbprint
    Thumbprint(s) of the app registration's certificate, comma-separated (the program passes the current one first and the
    previous one during a rotation); the first found in Cert:\CurrentUser\My or Cert:\LocalMachine\My of the hybrid worker's job
    account is used (installed by scripts/windows/Install-ExoCertificate.ps1 or New-ExoHostCertificate.ps1). Empty: the managed identity.

.PARAMETER AppId
    Client id of that app registration; required with -CertificateThumbprint.

.PARAMETER SoftDeadlineMinutes
    Minutes after the start when the job stops, writes its summary (with recommendedPartitionCount) and fails (default 165; 0: none).

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

    # Hybrid workers outside Azure have no managed identity: the certificate of an app registration instead (set by the program
    # for a runbook with hybridWorker: true; docs/runbooks.md, "Hybrid workers").
    [ValidatePattern('^([0-9A-Fa-f]{40}(,[0-9A-Fa-f]{40})*)?$')]
    [string] $CertificateThumbprint = '',

    [ValidatePattern('^([0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})?$')]
    [string] $AppId = '',

    [string[]] $RecipientTypeDetails = @('UserMailbox', 'SharedMailbox', 'RoomMailbox', 'EquipmentMailbox'),

    [string[]] $Identity = @(),

    [ValidateSet('Object', 'JsonLines')]
    [string] $OutputFormat = 'Object',

    [ValidateRange(1, 64)]
    [int] $PartitionCount = 1,

    [ValidateRange(0, 63)]
    [int] $PartitionIndex = 0,

    [ValidateRange(0, 100)]
    [double] $MaxReadFailurePercent = 0,

    # Minutes after the start when the job stops reading, writes its summary and fails: before the sandbox's 3-hour fair-share
    # limit stops it without one. 0: no deadline (hybrid workers have no fair-share limit).
    [ValidateRange(0, 10080)]
    [int] $SoftDeadlineMinutes = 165
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RunbookName = 'Get-MailboxPermissionReport'
$RequiredRoleHint = 'Global Reader (read-only; Exchange Recipient Administrator or Exchange Administrator also work)'
$SelfTrustee = 'NT AUTHORITY\SELF'
# Calls per mailbox in scope (Get-EXOMailboxPermission); see docs/runbooks.md, "Scale".
$CallsPerMailbox = 1

# The Exchange cmdlets this runbook calls: the only ones Connect-ExchangeOnline -CommandName loads (tests/runbooks check the list).
$ExchangeCommands = @(
    'Get-EXOMailbox', 'Get-EXOMailboxPermission', 'Get-EXORecipientPermission', 'Get-EXORecipient'
)
# Helpers (connection, retries, deadline, records, partitions) come from scripts/windows/ExoCommon.psm1, put after param() when
# the program publishes this runbook.

function New-PermissionRecord {
    # Every record names its mailbox the same way: Mailbox (primary SMTP address) and MailboxName (the Exchange Name, which is what
    # Get-EXORecipientPermission's Identity shows), whichever query the record comes from.
    param($Recipient, [string] $Permission, [string] $Trustee, [string] $AccessRights, [bool] $Deny, [string] $Source)
    [pscustomobject]@{
        RecordType           = 'Permission'
        Mailbox              = [string] (Get-PropertyValue $Recipient 'PrimarySmtpAddress')
        MailboxName          = [string] (Get-PropertyValue $Recipient 'Name')
        MailboxDisplayName   = [string] (Get-PropertyValue $Recipient 'DisplayName')
        MailboxType          = [string] (Get-PropertyValue $Recipient 'RecipientTypeDetails')
        Permission           = $Permission
        Trustee              = $Trustee
        AccessRights         = $AccessRights
        Deny                 = $Deny
        TrusteeIsOrphanedSid = [bool] ($Trustee -match '^S-1-5-')
        Source               = $Source
    }
}

function Resolve-SendAsRecipient {
    # Send As entries name the recipient by its Identity only; one look-up per recipient (cached: explicit Send As grants are few)
    # gives the address every other record carries. A recipient that cannot be read keeps its Identity as its name.
    param([string] $Identity, $State)
    if ($State.recipients.ContainsKey($Identity)) { return $State.recipients[$Identity] }
    try {
        $found = Invoke-ExchangeCall -Step 'Get-EXORecipient' -Call { Get-EXORecipient -Identity $Identity -ErrorAction Stop }
        $recipient = if ($found.Count -eq 1) { $found[0] } else { [pscustomobject]@{ Name = $Identity } }
    }
    catch {
        $recipient = [pscustomobject]@{ Name = $Identity }
    }
    if ($State.recipients.Count -lt 10000) { $State.recipients[$Identity] = $recipient }
    return $recipient
}

function Write-SendAsRecord {
    param($Entry, $State)
    Assert-WithinDeadline -Where 'the Send As query'
    $trustee = [string] $Entry.Trustee
    if ((ConvertTo-Flag -Value (Get-PropertyValue $Entry 'IsInherited') -Name 'IsInherited') -or $trustee -eq $SelfTrustee) { return }
    $identity = [string] $Entry.Identity
    $deny = ([string] (Get-PropertyValue $Entry 'AccessControlType')) -eq 'Deny'
    # A resumed query re-reads from the start (its order is not documented): skip what was already written.
    $key = "$identity|$trustee|$deny"
    if (-not $State.sendAsWritten.Add($key)) { return }
    $State.counts.SendAs++
    if ($trustee -match '^S-1-5-') { $State.counts.OrphanedSidTrustees++ }
    Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Recipient (Resolve-SendAsRecipient -Identity $identity -State $State) `
            -Permission 'SendAs' -Trustee $trustee -AccessRights 'SendAs' -Deny $deny -Source 'Get-EXORecipientPermission')
}

function Read-MailboxPermission {
    # One mailbox: its explicit mailbox permissions (one call) and its Send on Behalf list (already read with it).
    param($Mailbox, $State)
    Assert-WithinDeadline -Where 'the mailbox enumeration'
    $objectId = [string] $Mailbox.ExternalDirectoryObjectId
    # A resumed enumeration re-reads from the start (Get-EXOMailbox documents no order): mailboxes already done are skipped.
    if (-not $State.done.Add($objectId)) { return }
    $State.mailboxesInPartition++
    $address = [string] $Mailbox.PrimarySmtpAddress
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
        if ((ConvertTo-Flag -Value (Get-PropertyValue $entry 'IsInherited') -Name 'IsInherited') -or $trustee -eq $SelfTrustee) { continue }
        $rights = (@($entry.AccessRights) | ForEach-Object { [string] $_ }) -join ','
        $permission = if ($rights -match 'FullAccess') { 'FullAccess' } else { 'MailboxRights' }
        if ($permission -eq 'FullAccess') { $State.counts.FullAccess++ } else { $State.counts.OtherMailboxRights++ }
        if ($trustee -match '^S-1-5-') { $State.counts.OrphanedSidTrustees++ }
        Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Recipient $Mailbox -Permission $permission -Trustee $trustee `
                -AccessRights $rights -Deny (ConvertTo-Flag -Value (Get-PropertyValue $entry 'Deny') -Name 'Deny') -Source 'Get-EXOMailboxPermission')
    }
    foreach ($delegate in @(Get-PropertyValue $Mailbox 'GrantSendOnBehalfTo')) {
        if (-not $delegate) { continue }
        $State.counts.SendOnBehalf++
        Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Recipient $Mailbox -Permission 'SendOnBehalf' -Trustee ([string] $delegate) `
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
    # This partition's mailboxes done and the Send As records written: what a resumed read skips (a partition's share, not the tenant).
    done                    = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
    sendAsWritten           = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
    recipients              = @{}
    resumed                 = New-Object System.Collections.Generic.List[string]
}
Set-ExoDeadline -StartedAtUtc $state.startedAt -Minutes $SoftDeadlineMinutes
$connectionId = ''
$fatal = $null
$sendAsScope = 'none'

try {
    $connectionId = Connect-ExoSession -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
        -ManagedIdentityClientId $ManagedIdentityClientId -CertificateThumbprint $CertificateThumbprint -AppId $AppId `
        -CommandName $ExchangeCommands -RequiredRoleHint $RequiredRoleHint

    # Beyond the Minimum property set (which already has Name, DisplayName, PrimarySmtpAddress, ExternalDirectoryObjectId).
    $mailboxProperties = @('GrantSendOnBehalfTo')
    $identities = @(Split-ListParameter -Value $Identity)
    if ($identities.Count -gt 0) {
        $sendAsScope = 'Identity'
        foreach ($mailboxIdentity in $identities) {
            Assert-WithinDeadline -Where 'the -Identity list'
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
            foreach ($mailbox in $found) {
                # Named the same way as every other record: the mailbox just read stands for its Send As entries too.
                $state.recipients[[string] $mailbox.Name] = $mailbox
                Read-MailboxPermission -Mailbox $mailbox -State $state
            }
            foreach ($entry in $sendAs) { Write-SendAsRecord -Entry $entry -State $state }
        }
    }
    else {
        if ($PartitionIndex -eq 0) {
            # One tenant-wide query instead of one per mailbox; a failure here fails the job (Send As would be missing).
            $sendAsScope = 'Tenant'
            Invoke-ResumableRead -Step 'Get-EXORecipientPermission' -Read {
                param($Pass)
                if ($Pass -gt 0) { $state.resumed.Add('Get-EXORecipientPermission (re-read; records already written skipped)') }
                Get-EXORecipientPermission -AccessRights SendAs -ResultSize Unlimited -ErrorAction Stop |
                    ForEach-Object { Write-SendAsRecord -Entry $_ -State $state }
            }
        }
        $types = @(Split-ListParameter -Value $RecipientTypeDetails)
        # Streamed: each mailbox is processed as the module pages it in, and only this partition's share costs a call.
        Invoke-ResumableRead -Step 'Get-EXOMailbox' -Read {
            param($Pass)
            if ($Pass -gt 0) { $state.resumed.Add('Get-EXOMailbox (re-read; mailboxes already done skipped)') }
            $state.mailboxesSeen = 0
            Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails $types -Properties $mailboxProperties -ErrorAction Stop |
                Where-Object {
                    $state.mailboxesSeen++
                    Test-MailboxInPartition -Mailbox $_ -PartitionCount $PartitionCount -PartitionIndex $PartitionIndex
                } |
                ForEach-Object { Read-MailboxPermission -Mailbox $_ -State $state }
        }
    }
}
catch {
    $fatal = $_
}
finally {
    Disconnect-ExoSession -ConnectionId $connectionId
}

$elapsed = ([DateTime]::UtcNow - $state.startedAt).TotalSeconds
$stopReason = Get-ExoStopReason
$deadlineReached = ($null -ne $stopReason -and $stopReason -like 'soft deadline*')
$status = 'Succeeded'
if ($deadlineReached) { $status = 'DeadlineReached' }
elseif ($null -ne $fatal) { $status = 'Failed' }
elseif ($state.readFailures -gt 0) {
    $status = 'CompletedWithUnreadMailboxes'
    if (100.0 * $state.readFailures / [math]::Max(1, $state.mailboxesInPartition) -gt $MaxReadFailurePercent) { $status = 'Failed' }
}
$summary = [ordered]@{
    recordType            = 'Summary'
    runbook               = $RunbookName
    organization          = $Organization
    identity              = if ($CertificateThumbprint) { "certificate (app $AppId)" } else { 'managed identity' }
    partition             = "$PartitionIndex/$PartitionCount"
    startedAtUtc          = $state.startedAt.ToString('o')
    finishedAtUtc         = [DateTime]::UtcNow.ToString('o')
    mailboxesSeen         = $state.mailboxesSeen
    mailboxesInPartition  = $state.mailboxesInPartition
    sendAsScope           = $sendAsScope
    permissions           = $state.counts
    readFailures          = $state.readFailures
    maxReadFailurePercent = $MaxReadFailurePercent
    resumedReads          = @($state.resumed)
    failures              = @($state.failures)
    error                 = if ($null -ne $fatal) { Get-ExceptionText -ErrorRecord $fatal } else { $null }
    secondsPerMailbox     = if ($state.mailboxesInPartition -gt 0) { [math]::Round($elapsed / $state.mailboxesInPartition, 3) } else { $null }
    # Jobs that would each stay under two of the sandbox's three hours at this run's measured pace; a lower bound when the run
    # ended early (it had not seen every mailbox).
    recommendedPartitionCount = Get-RecommendedPartitionCount -ElapsedSeconds $elapsed -MailboxesInPartition $state.mailboxesInPartition `
        -MailboxesSeen $state.mailboxesSeen
    recommendedPartitionCountIsMinimum = ($null -ne $fatal)
    status                = $status
}
Write-Output ($summary | ConvertTo-Json -Compress -Depth 6)

if ($null -ne $fatal) {
    throw "$RunbookName failed: $(Get-ExceptionText -ErrorRecord $fatal)"
}
Assert-ReadFailureThreshold -State $state -ThresholdPercent $MaxReadFailurePercent
