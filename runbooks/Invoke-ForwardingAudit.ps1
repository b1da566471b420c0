<#
.SYNOPSIS
    Finds mail that leaves the organization through forwarding, and (only when asked) turns that forwarding off.

.DESCRIPTION
    Connects to Exchange Online with the Automation account's managed identity and looks for the three ways a mailbox
    sends copies of its mail outside the organization:

      - ForwardingSmtpAddress on the mailbox (set by the user in Outlook on the web, or by an admin);
      - ForwardingAddress on the mailbox pointing at a mail contact or mail user with an external address;
      - Inbox rules (hidden ones included) that forward, forward as attachment, or redirect to external addresses.

    "External" means the address's domain is not one of the tenant's accepted domains (sub-domains count where the
    accepted domain says MatchSubDomains) and not in -AllowedExternalDomains.

    By default the runbook only reports (Action = WouldDisable). With -Remediate $true it clears the mailbox forwarding
    (Set-Mailbox) and disables, never deletes, the offending inbox rules (Disable-InboxRule), so a user or admin can
    re-enable a rule that turns out to be legitimate. Each finding is written as one object (or one JSON line with
    -OutputFormat JsonLines), then one JSON summary line that also records the tenant-wide controls: the outbound spam
    policies' AutoForwardingMode and the default remote domain's AutoForwardEnabled.

    Least-privilege Entra role for the managed identity: Global Reader for report-only runs, Exchange Recipient
    Administrator when -Remediate is $true.

.PARAMETER Organization
    The tenant's initial domain, for example contoso.onmicrosoft.com (not a vanity domain, not the tenant id).

.PARAMETER ExchangeEnvironmentName
    O365Default (commercial and GCC), O365USGovGCCHigh, O365USGovDoD or O365China.

.PARAMETER ManagedIdentityClientId
    Client (application) id of a user-assigned managed identity. Leave empty to use the system-assigned identity.

.PARAMETER Remediate
    $false (default): report only. $true: clear external mailbox forwarding and disable external-forwarding inbox rules.

.PARAMETER AllowedExternalDomains
    Domains that forwarding may go to (for example a partner or an archive service), as a list or comma-separated.

.PARAMETER IncludeInboxRules
    $true (default) reads every mailbox's inbox rules, which is one call per mailbox; $false checks mailbox forwarding only.

.PARAMETER Identity
    Optional mailboxes (addresses or UPNs) to audit instead of every user and shared mailbox.

.PARAMETER OutputFormat
    Object (one PowerShell object per finding) or JsonLines (one compressed JSON document per finding).

.NOTES
    Runtime: PowerShell 7.4 with ExchangeOnlineManagement 3.5.0-3.9.x, or Windows PowerShell 5.1 with any 3.x.
    Disable-InboxRule runs with -Force because a job cannot answer its confirmation prompt. Exchange warns there that
    client-only Outlook rules of that mailbox are removed when server rules are changed: that is the cost of
    remediating from a schedule, and why -Remediate is off by default.
    Exit: the job fails (throws) when the connection fails or when any mailbox could not be read or changed; the
    findings and the summary written before that stay in the job output.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9-]*\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,

    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',

    [string] $ManagedIdentityClientId = '',

    # [bool], not [switch]: Azure Automation schedules pass parameters by value ("true"/"false").
    [bool] $Remediate = $false,

    [string[]] $AllowedExternalDomains = @(),

    [bool] $IncludeInboxRules = $true,

    [string[]] $Identity = @(),

    [ValidateSet('Object', 'JsonLines')]
    [string] $OutputFormat = 'Object'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RunbookName = 'Invoke-ForwardingAudit'
$RequiredRoleHint = 'Global Reader (enough for report-only runs; Exchange Recipient Administrator is needed with -Remediate $true)'
if ($Remediate) {
    $RequiredRoleHint = 'Exchange Recipient Administrator (needed to change forwarding and inbox rules; Exchange Administrator also works)'
}

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

function Get-SmtpAddress {
    # Inbox rule recipients read like '"Ann" [SMTP:ann@example.com]' or '"Bob" [EX:/o=...]' (internal, no SMTP part);
    # mailbox forwarding reads 'smtp:ann@example.com'. Returns the SMTP addresses found.
    param([string] $Value)
    $found = New-Object System.Collections.Generic.List[string]
    foreach ($match in [regex]::Matches($Value, '(?i)\[SMTP:([^\]\s]+@[^\]\s]+)\]')) {
        $found.Add($match.Groups[1].Value)
    }
    if ($found.Count -eq 0 -and $Value -match '^(?i)(smtp:)?([^\s@\[\]"<>]+@[^\s@\[\]"<>]+)$') {
        $found.Add($Matches[2])
    }
    # One address per pipeline item; callers wrap the call in @().
    foreach ($address in $found) { $address }
}

function Test-ExternalAddress {
    param([string] $Address, [object[]] $InternalDomains, [string[]] $AllowedDomains)
    $domain = ($Address -split '@')[-1].ToLowerInvariant()
    foreach ($accepted in $InternalDomains) {
        if ($domain -eq $accepted.Name) { return $false }
        if ($accepted.MatchSubDomains -and $domain.EndsWith('.' + $accepted.Name)) { return $false }
    }
    foreach ($allowed in $AllowedDomains) {
        if ($domain -eq $allowed -or $domain.EndsWith('.' + $allowed)) { return $false }
    }
    return $true
}

function New-Finding {
    param($Mailbox, [string] $Kind, [string] $Target, [string] $RuleName, [string] $RuleIdentity, [bool] $Enabled, [string] $Action, [string] $Detail)
    [pscustomobject]@{
        Mailbox         = [string] $Mailbox.PrimarySmtpAddress
        MailboxType     = [string] $Mailbox.RecipientTypeDetails
        Kind            = $Kind
        ExternalTarget  = $Target
        TargetDomain    = ($Target -split '@')[-1].ToLowerInvariant()
        RuleName        = $RuleName
        RuleIdentity    = $RuleIdentity
        Enabled         = $Enabled
        Action          = $Action
        Detail          = $Detail
    }
}

$startedAt = [DateTime]::UtcNow
$counts = [ordered]@{ ForwardingSmtpAddress = 0; ForwardingAddress = 0; InboxRule = 0; Remediated = 0 }
$failures = New-Object System.Collections.Generic.List[object]
$mailboxesScanned = 0
$connected = $false
$allowedDomains = @(Split-ListParameter -Value $AllowedExternalDomains | ForEach-Object { $_.ToLowerInvariant() })
$tenantControls = [ordered]@{ outboundSpamPolicies = @(); defaultRemoteDomainAutoForwardEnabled = $null; readError = $null }

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

    try {
        $internalDomains = @(Get-AcceptedDomain | ForEach-Object {
                [pscustomobject]@{
                    Name            = ([string] $_.DomainName).ToLowerInvariant()
                    MatchSubDomains = [bool] (Get-PropertyValue $_ 'MatchSubDomains')
                }
            })
    }
    catch {
        # The first cmdlet after connecting is where a missing Exchange role shows up as well.
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization `
                -RequiredRoleHint $RequiredRoleHint -Step 'Get-AcceptedDomain')
    }
    if ($internalDomains.Count -eq 0) {
        throw "Get-AcceptedDomain returned no domains for '$Organization'; refusing to classify addresses as external."
    }

    # Tenant-wide switches that decide whether external forwarding is delivered at all. Reading them needs more than
    # a recipient role, so a failure here is recorded, not fatal.
    try {
        $tenantControls.outboundSpamPolicies = @(Get-HostedOutboundSpamFilterPolicy | ForEach-Object {
                [ordered]@{
                    name               = [string] $_.Name
                    isDefault          = [bool] (Get-PropertyValue $_ 'IsDefault')
                    autoForwardingMode = [string] (Get-PropertyValue $_ 'AutoForwardingMode')
                }
            })
        $defaultRemoteDomain = Get-RemoteDomain -Identity Default
        $tenantControls.defaultRemoteDomainAutoForwardEnabled = [bool] (Get-PropertyValue $defaultRemoteDomain 'AutoForwardEnabled')
    }
    catch {
        $tenantControls.readError = Get-ExceptionText -ErrorRecord $_
        Write-Warning "Could not read tenant forwarding controls: $($tenantControls.readError)"
    }

    # Beyond the Minimum property set (which already has Guid, PrimarySmtpAddress, RecipientTypeDetails).
    $mailboxProperties = @('ForwardingSmtpAddress', 'ForwardingAddress', 'DeliverToMailboxAndForward')
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
        try {
            $mailboxes = @(Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails 'UserMailbox', 'SharedMailbox' -Properties $mailboxProperties)
        }
        catch {
            throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization `
                    -RequiredRoleHint $RequiredRoleHint -Step 'Get-EXOMailbox')
        }
    }

    foreach ($mailbox in $mailboxes) {
        $mailboxesScanned++
        $address = [string] $mailbox.PrimarySmtpAddress
        $mailboxKey = [string] $mailbox.Guid
        Write-Verbose "Auditing forwarding of $address"

        # 1. ForwardingSmtpAddress: a plain SMTP address.
        $forwardingSmtp = [string] (Get-PropertyValue $mailbox 'ForwardingSmtpAddress')
        $externalSmtp = @(Get-SmtpAddress -Value $forwardingSmtp | Where-Object {
                Test-ExternalAddress -Address $_ -InternalDomains $internalDomains -AllowedDomains $allowedDomains
            })

        # 2. ForwardingAddress: a recipient in the directory; external when it is a contact or mail user outside.
        $externalRecipient = @()
        $forwardingRecipient = [string] (Get-PropertyValue $mailbox 'ForwardingAddress')
        if ($forwardingRecipient) {
            try {
                $recipient = Get-EXORecipient -Identity $forwardingRecipient -Properties 'PrimarySmtpAddress', 'ExternalEmailAddress'
                $candidates = @([string] (Get-PropertyValue $recipient 'ExternalEmailAddress'), [string] (Get-PropertyValue $recipient 'PrimarySmtpAddress'))
                $recipientAddress = @($candidates | ForEach-Object { Get-SmtpAddress -Value $_ } | Select-Object -First 1)
                $externalRecipient = @($recipientAddress | Where-Object {
                        Test-ExternalAddress -Address $_ -InternalDomains $internalDomains -AllowedDomains $allowedDomains
                    })
            }
            catch {
                $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Get-EXORecipient'; Error = (Get-ExceptionText -ErrorRecord $_) })
            }
        }

        if ($externalSmtp.Count -gt 0 -or $externalRecipient.Count -gt 0) {
            $action = 'WouldDisable'
            $detail = "DeliverToMailboxAndForward=$([bool] (Get-PropertyValue $mailbox 'DeliverToMailboxAndForward'))"
            if ($Remediate) {
                try {
                    if ($externalSmtp.Count -gt 0) {
                        Set-Mailbox -Identity $mailboxKey -ForwardingSmtpAddress $null -Confirm:$false
                    }
                    if ($externalRecipient.Count -gt 0) {
                        Set-Mailbox -Identity $mailboxKey -ForwardingAddress $null -Confirm:$false
                    }
                    $action = 'Disabled'
                    $counts.Remediated++
                }
                catch {
                    $action = 'Failed'
                    $detail = Get-ExceptionText -ErrorRecord $_
                    $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Set-Mailbox'; Error = $detail })
                }
            }
            foreach ($target in $externalSmtp) {
                $counts.ForwardingSmtpAddress++
                Write-Record -Format $OutputFormat -Record (New-Finding -Mailbox $mailbox -Kind 'ForwardingSmtpAddress' `
                        -Target $target -Enabled $true -Action $action -Detail $detail)
            }
            foreach ($target in $externalRecipient) {
                $counts.ForwardingAddress++
                Write-Record -Format $OutputFormat -Record (New-Finding -Mailbox $mailbox -Kind 'ForwardingAddress' `
                        -Target $target -Enabled $true -Action $action -Detail "$detail; recipient=$forwardingRecipient")
            }
        }

        # 3. Inbox rules, hidden ones included (rules hidden from Outlook are a known way to exfiltrate mail).
        if (-not $IncludeInboxRules) { continue }
        try {
            $rules = @(Get-InboxRule -Mailbox $mailboxKey -IncludeHidden)
        }
        catch {
            $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Get-InboxRule'; Error = (Get-ExceptionText -ErrorRecord $_) })
            continue
        }
        foreach ($rule in $rules) {
            $targets = @(foreach ($propertyName in 'ForwardTo', 'ForwardAsAttachmentTo', 'RedirectTo') {
                foreach ($recipientText in @(Get-PropertyValue $rule $propertyName)) {
                    if ($recipientText) { Get-SmtpAddress -Value ([string] $recipientText) }
                }
            })
            $externalTargets = @($targets | Where-Object {
                    Test-ExternalAddress -Address $_ -InternalDomains $internalDomains -AllowedDomains $allowedDomains
                } | Sort-Object -Unique)
            if ($externalTargets.Count -eq 0) { continue }

            $ruleEnabled = [bool] (Get-PropertyValue $rule 'Enabled')
            $ruleIdentity = [string] $rule.Identity
            # RuleIdentity (a number) plus -Mailbox is unambiguous; Identity alone is 'alias\RuleIdentity'.
            $ruleNumber = [string] (Get-PropertyValue $rule 'RuleIdentity')
            $action = if ($ruleEnabled) { 'WouldDisable' } else { 'AlreadyDisabled' }
            $detail = ''
            if ($Remediate -and $ruleEnabled) {
                try {
                    # -Force: a scheduled job cannot answer the client-side-rules confirmation prompt.
                    if ($ruleNumber) {
                        Disable-InboxRule -Identity $ruleNumber -Mailbox $mailboxKey -Force -Confirm:$false
                    }
                    else {
                        Disable-InboxRule -Identity $ruleIdentity -Force -Confirm:$false
                    }
                    $action = 'Disabled'
                    $counts.Remediated++
                }
                catch {
                    $action = 'Failed'
                    $detail = Get-ExceptionText -ErrorRecord $_
                    $failures.Add([pscustomobject]@{ Mailbox = $address; Step = 'Disable-InboxRule'; Error = $detail })
                }
            }
            foreach ($target in $externalTargets) {
                $counts.InboxRule++
                Write-Record -Format $OutputFormat -Record (New-Finding -Mailbox $mailbox -Kind 'InboxRule' -Target $target `
                        -RuleName ([string] $rule.Name) -RuleIdentity $ruleIdentity -Enabled $ruleEnabled -Action $action -Detail $detail)
            }
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
    mode             = if ($Remediate) { 'Remediate' } else { 'ReportOnly' }
    startedAtUtc     = $startedAt.ToString('o')
    finishedAtUtc    = [DateTime]::UtcNow.ToString('o')
    mailboxesScanned = $mailboxesScanned
    inboxRulesRead   = [bool] $IncludeInboxRules
    findings         = $counts
    tenantControls   = $tenantControls
    failureCount     = $failures.Count
    failures         = @($failures | Select-Object -First 50)
    status           = if ($failures.Count -eq 0) { 'Succeeded' } else { 'CompletedWithErrors' }
}
Write-Output ($summary | ConvertTo-Json -Compress -Depth 6)

if ($failures.Count -gt 0) {
    throw "$RunbookName hit $($failures.Count) error(s) reading or changing mailboxes; see 'failures' in the summary above."
}
