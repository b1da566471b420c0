<#
.SYNOPSIS
    Reports explicit mailbox delegation in Exchange Online: Full Access, Send As and Send on Behalf.

.DESCRIPTION
    Connects to Exchange Online with the Automation account's managed identity and, for every mailbox in scope, lists
    the permissions someone was explicitly given on it:

      - mailbox permissions (Get-EXOMailboxPermission): FullAccess and any other access right, not inherited,
        without the mailbox's own NT AUTHORITY\SELF entry;
      - Send As (Get-EXORecipientPermission -AccessRights SendAs), not inherited, without SELF;
      - Send on Behalf (the mailbox's GrantSendOnBehalfTo list).

    Each permission is written to the output stream as one object (or one JSON line with -OutputFormat JsonLines),
    followed by one JSON summary line. Trustees that are bare SIDs (S-1-5-...) point to deleted accounts and are flagged
    so they can be cleaned up.

    Read-only: the runbook changes nothing. Least-privilege Entra role for the managed identity: Global Reader.

.PARAMETER Organization
    The tenant's initial domain, for example contoso.onmicrosoft.com (not a vanity domain, not the tenant id).

.PARAMETER ExchangeEnvironmentName
    O365Default (commercial and GCC), O365USGovGCCHigh, O365USGovDoD or O365China.

.PARAMETER ManagedIdentityClientId
    Client (application) id of a user-assigned managed identity. Leave empty to use the system-assigned identity.

.PARAMETER RecipientTypeDetails
    Mailbox types to scan, as a list or one comma-separated string.

.PARAMETER Identity
    Optional mailboxes (addresses or UPNs) to report on instead of every mailbox of the types above.

.PARAMETER OutputFormat
    Object (one PowerShell object per permission) or JsonLines (one compressed JSON document per permission).

.NOTES
    Runtime: PowerShell 7.4 with ExchangeOnlineManagement 3.5.0-3.9.x, or Windows PowerShell 5.1 with any 3.x.
    Needs: Exchange.ManageAsApp on the Office 365 Exchange Online service principal and an Entra role that Exchange
    Online accepts for app-only access (Global Reader is enough here).
    Exit: the job fails (throws) when the connection fails or when any mailbox could not be read; the records and the
    summary written before that stay in the job output.
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
    [string] $OutputFormat = 'Object'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RunbookName = 'Get-MailboxPermissionReport'
$RequiredRoleHint = 'Global Reader (read-only; Exchange Recipient Administrator or Exchange Administrator also work)'
$SelfTrustee = 'NT AUTHORITY\SELF'

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
    if ($text -match 'Unauthori[sz]ed|\b(401|403)\b|Forbidden|AADSTS') {
        return ("Exchange Online rejected the managed identity's token for organization '$Organization': '$text'. " +
            "Check that the identity holds the Exchange.ManageAsApp app role on the 'Office 365 Exchange Online' " +
            "service principal of this tenant and that -Organization is the tenant's initial onmicrosoft domain.")
    }
    if ($text -match 'managed identity|ManagedIdentity|IDENTITY_ENDPOINT|\bMSI\b') {
        return ("No managed identity token could be obtained: '$text'. Enable the system-assigned identity on the " +
            "Automation account (or pass -ManagedIdentityClientId of a user-assigned identity attached to it).")
    }
    return "$Step failed for organization '$Organization': $text"
}

function Get-PropertyValue {
    # Reads a property that a module version may not return, without tripping Set-StrictMode.
    param($InputObject, [string] $Name)
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function Write-Record {
    param([Parameter(Mandatory)] [psobject] $Record, [string] $Format)
    if ($Format -eq 'JsonLines') {
        Write-Output ($Record | ConvertTo-Json -Compress -Depth 4)
    }
    else {
        Write-Output $Record
    }
}

function New-PermissionRecord {
    param($Mailbox, [string] $Permission, [string] $Trustee, [string] $AccessRights, [bool] $Deny, [string] $Source)
    [pscustomobject]@{
        Mailbox              = [string] $Mailbox.PrimarySmtpAddress
        MailboxDisplayName   = [string] $Mailbox.DisplayName
        MailboxType          = [string] $Mailbox.RecipientTypeDetails
        Permission           = $Permission
        Trustee              = $Trustee
        AccessRights         = $AccessRights
        Deny                 = $Deny
        TrusteeIsOrphanedSid = [bool] ($Trustee -match '^S-1-5-')
        Source               = $Source
    }
}

$startedAt = [DateTime]::UtcNow
$counts = [ordered]@{ FullAccess = 0; OtherMailboxRights = 0; SendAs = 0; SendOnBehalf = 0; OrphanedSidTrustees = 0 }
$failures = New-Object System.Collections.Generic.List[object]
$mailboxesScanned = 0
$connected = $false

if (-not (Get-Command -Name Connect-ExchangeOnline -ErrorAction SilentlyContinue)) {
    throw ('The ExchangeOnlineManagement module is not available to this job. Import it into the runtime environment ' +
        '(PowerShell 7.4: package) or the account (5.1/7.2: module) and make sure the import finished before the job runs.')
}

try {
    try {
        if ($ManagedIdentityClientId) {
            Connect-ExchangeOnline -ManagedIdentity -ManagedIdentityAccountId $ManagedIdentityClientId `
                -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
                -ShowBanner:$false -SkipLoadingFormatData
        }
        else {
            Connect-ExchangeOnline -ManagedIdentity -Organization $Organization `
                -ExchangeEnvironmentName $ExchangeEnvironmentName -ShowBanner:$false -SkipLoadingFormatData
        }
        $connected = $true
    }
    catch {
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization -RequiredRoleHint $RequiredRoleHint)
    }

    # Beyond the Minimum property set (which already has DisplayName, PrimarySmtpAddress, ExternalDirectoryObjectId).
    $mailboxProperties = @('GrantSendOnBehalfTo')
    $identities = @(Split-ListParameter -Value $Identity)
    if ($identities.Count -gt 0) {
        # @(): an empty result must be an empty array, not $null (which foreach would visit once).
        $mailboxes = @(foreach ($mailboxIdentity in $identities) {
            try {
                Get-EXOMailbox -Identity $mailboxIdentity -Properties $mailboxProperties
            }
            catch {
                $failures.Add([pscustomobject]@{ Mailbox = $mailboxIdentity; Step = 'Get-EXOMailbox'; Error = (Get-ExceptionText -ErrorRecord $_) })
            }
        })
    }
    else {
        $types = @(Split-ListParameter -Value $RecipientTypeDetails)
        try {
            $mailboxes = @(Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails $types -Properties $mailboxProperties)
        }
        catch {
            # The first cmdlet after connecting is where a missing Exchange role shows up as well.
            throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization `
                    -RequiredRoleHint $RequiredRoleHint -Step 'Get-EXOMailbox')
        }
    }

    foreach ($mailbox in $mailboxes) {
        $mailboxesScanned++
        $address = [string] $mailbox.PrimarySmtpAddress
        Write-Verbose "Reading permissions of $address"

        try {
            $mailboxPermissions = @(Get-EXOMailboxPermission -ExternalDirectoryObjectId $mailbox.ExternalDirectoryObjectId -ResultSize Unlimited)
            foreach ($entry in $mailboxPermissions) {
                $trustee = [string] $entry.User
                if ((Get-PropertyValue $entry 'IsInherited') -or $trustee -eq $SelfTrustee) { continue }
                $rights = (@($entry.AccessRights) | ForEach-Object { [string] $_ }) -join ','
                $permission = if ($rights -match 'FullAccess') { 'FullAccess' } else { 'MailboxRights' }
                if ($permission -eq 'FullAccess') { $counts.FullAccess++ } else { $counts.OtherMailboxRights++ }
                if ($trustee -match '^S-1-5-') { $counts.OrphanedSidTrustees++ }
                Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox $mailbox -Permission $permission `
                        -Trustee $trustee -AccessRights $rights -Deny ([bool] (Get-PropertyValue $entry 'Deny')) -Source 'Get-EXOMailboxPermission')
            }
        }
        catch {
            $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Get-EXOMailboxPermission'; Error = (Get-ExceptionText -ErrorRecord $_) })
        }

        try {
            $sendAs = @(Get-EXORecipientPermission -ExternalDirectoryObjectId $mailbox.ExternalDirectoryObjectId -AccessRights SendAs -ResultSize Unlimited)
            foreach ($entry in $sendAs) {
                $trustee = [string] $entry.Trustee
                if ((Get-PropertyValue $entry 'IsInherited') -or $trustee -eq $SelfTrustee) { continue }
                $counts.SendAs++
                if ($trustee -match '^S-1-5-') { $counts.OrphanedSidTrustees++ }
                Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox $mailbox -Permission 'SendAs' `
                        -Trustee $trustee -AccessRights 'SendAs' -Deny ([string] (Get-PropertyValue $entry 'AccessControlType') -eq 'Deny') `
                        -Source 'Get-EXORecipientPermission')
            }
        }
        catch {
            $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Get-EXORecipientPermission'; Error = (Get-ExceptionText -ErrorRecord $_) })
        }

        foreach ($delegate in @(Get-PropertyValue $mailbox 'GrantSendOnBehalfTo')) {
            if (-not $delegate) { continue }
            $counts.SendOnBehalf++
            Write-Record -Format $OutputFormat -Record (New-PermissionRecord -Mailbox $mailbox -Permission 'SendOnBehalf' `
                    -Trustee ([string] $delegate) -AccessRights 'SendOnBehalf' -Deny $false -Source 'GrantSendOnBehalfTo')
        }
    }
}
finally {
    if ($connected) {
        # Never let a failed disconnect hide the error that ended the job.
        Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue
    }
}

$summary = [ordered]@{
    runbook          = $RunbookName
    organization     = $Organization
    startedAtUtc     = $startedAt.ToString('o')
    finishedAtUtc    = [DateTime]::UtcNow.ToString('o')
    mailboxesScanned = $mailboxesScanned
    permissions      = $counts
    failureCount     = $failures.Count
    failures         = @($failures | Select-Object -First 50)
    status           = if ($failures.Count -eq 0) { 'Succeeded' } else { 'CompletedWithErrors' }
}
Write-Output ($summary | ConvertTo-Json -Compress -Depth 5)

if ($failures.Count -gt 0) {
    throw "$RunbookName could not read $($failures.Count) mailbox permission set(s); see 'failures' in the summary above."
}
