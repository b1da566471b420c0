# exo-automation:roles {"anyOf": [["Exchange Administrator"], ["Global Administrator"], ["Exchange Recipient Administrator", "Global Reader"]], "reason": "Get-InboxRule does not work for Global Reader (office-docs-powershell Get-InboxRule.md), so a Global Reader audit would read no inbox rules; Set-Mailbox and Disable-InboxRule (-Remediate) need a recipient-management role; transport rules, remote domains and outbound spam policies are organization configuration, read by Exchange Administrator or by Global Reader next to Exchange Recipient Administrator."}
<#
.SYNOPSIS
    Finds mail that leaves the organization through forwarding, and (only when asked) turns mailbox forwarding off.

.DESCRIPTION
    Connects to Exchange Online with the Automation account's managed identity and reports every path that sends copies
    of mail outside the organization:

    Tenant-wide (read once, in partition 0):
      - transport rules that redirect, BCC, add To/Cc recipients or send incident reports to external addresses, or
        route mail through an outbound connector;
      - remote domains, the Default one ('*') and every other one, with AutoForwardEnabled;
      - outbound spam filter policies (AutoForwardingMode) and their rules: who each policy applies to;
      - InternalRelay accepted domains: their addresses can leave Exchange Online, so they count as external here.
    Per mailbox (user and shared mailboxes, streamed, split into partitions):
      - ForwardingSmtpAddress to an external address;
      - ForwardingAddress pointing at a mail user or mail contact whose ExternalEmailAddress is external. The mailbox
        shows the target by name only, so the target is confirmed by its distinguished name (an OPATH filter on
        ForwardingAddress), never matched by display name alone;
      - inbox rules (hidden ones included) that forward, forward as attachment or redirect to external SMTP addresses,
        or to mail users/contacts (EX: addresses) with an external ExternalEmailAddress.

    "External": the domain is not an Authoritative accepted domain (sub-domains count where the accepted domain says
    MatchSubDomains) and not in -AllowedExternalDomains.

    By default the runbook only reports (Action = WouldDisable). With -Remediate $true it clears the mailbox forwarding
    (Set-Mailbox) and disables, never deletes, the offending inbox rules (Disable-InboxRule), then reads them back: only a
    change confirmed by that read is counted as Disabled. Transport rules, remote domains and spam policies are
    reported, never changed.

    Records stream out as they are found (one object, or one JSON line with -OutputFormat JsonLines), with a Progress
    record every 500 mailboxes and a JSON summary at the end, so a job stopped by the sandbox still leaves its findings.

    Entra role: see the exo-automation:roles line at the top. Global Reader alone is NOT enough: Get-InboxRule does not
    work for it.

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
    $true (default) reads every mailbox's inbox rules, one call per mailbox (Exchange has no tenant-wide inbox rule
    query); $false checks mailbox forwarding only.

.PARAMETER Identity
    Optional mailboxes (addresses or UPNs) to audit instead of every user and shared mailbox (no partitioning).

.PARAMETER OutputFormat
    Object (one PowerShell object per record) or JsonLines (one compressed JSON document per record).

.PARAMETER PartitionCount
    Split one logical run into this many jobs (1-64, default 1). Each mailbox belongs to exactly one partition, by a
    SHA-256 of its ExternalDirectoryObjectId, the same on PowerShell 5.1 and 7. The program sets it from partitions.

.PARAMETER PartitionIndex
    Which partition this job reads, 0 to PartitionCount-1 (default 0). Partition 0 also reads the tenant-wide settings.

.PARAMETER MaxReadFailurePercent
    The job fails when more than this percentage of the mailboxes in its partition could not be read (default 0: any
    mailbox that could not be read fails the job, after the others were read). A failed tenant-wide read and a change
    that could not be confirmed always fail the job.

.NOTES
    Runtime: PowerShell 7.4 with ExchangeOnlineManagement 3.5.0-3.9.x, or Windows PowerShell 5.1 with any 3.x.
    Every Exchange call passes -ErrorAction Stop itself: the module's REST functions (Get-InboxRule, Set-Mailbox,
    Disable-InboxRule, ...) do not see this script's $ErrorActionPreference (PowerShell/PowerShell #4568). Throttled
    calls are retried with back-off.
    Disable-InboxRule runs with -Force because a job cannot answer its confirmation prompt. Exchange warns there that
    client-only Outlook rules of that mailbox are removed when server rules are changed: that is the cost of
    remediating from a schedule, and why -Remediate is off by default.
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

$RunbookName = 'Invoke-ForwardingAudit'
$RequiredRoleHint = 'Exchange Administrator (or Exchange Recipient Administrator together with Global Reader; Global Reader alone cannot read inbox rules)'
# Calls per mailbox in scope (Get-InboxRule); see docs/runbooks.md, "Scale".
$CallsPerMailbox = 1
# Transport rule actions that send a message, or a copy or report of it, to the recipients they name.
$TransportRuleRecipientActions = @('RedirectMessageTo', 'BlindCopyTo', 'AddToRecipients', 'CopyTo', 'GenerateIncidentReport')

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

function Get-SmtpAddress {
    # Inbox rule recipients read like '"Ann" [SMTP:ann@example.com]' or '"Bob" [EX:/o=...]' (no SMTP part); mailbox
    # forwarding and ExternalEmailAddress read 'smtp:ann@example.com'. Writes the SMTP addresses found to the pipeline.
    param([string] $Value)
    $found = New-Object System.Collections.Generic.List[string]
    foreach ($match in [regex]::Matches($Value, '(?i)\[SMTP:([^\]\s]+@[^\]\s]+)\]')) {
        $found.Add($match.Groups[1].Value)
    }
    if ($found.Count -eq 0 -and $Value -match '^(?i)(smtp:)?([^\s@\[\]"<>]+@[^\s@\[\]"<>]+)$') {
        $found.Add($Matches[2])
    }
    foreach ($address in $found) { $address }
}

function Get-LegacyDn {
    # '"Bob" [EX:/o=ExchangeLabs/ou=.../cn=Recipients/cn=...]': a directory recipient, resolved later by its legacy DN.
    param([string] $Value)
    foreach ($match in [regex]::Matches($Value, '(?i)\[EX:([^\]]+)\]')) { $match.Groups[1].Value }
}

function Test-ExternalAddress {
    param([string] $Address)
    $domain = ($Address -split '@')[-1].ToLowerInvariant()
    foreach ($accepted in $internalDomains) {
        if ($domain -eq $accepted.Name) { return $false }
        if ($accepted.MatchSubDomains -and $domain.EndsWith('.' + $accepted.Name)) { return $false }
    }
    foreach ($allowed in $allowedDomains) {
        if ($domain -eq $allowed -or $domain.EndsWith('.' + $allowed)) { return $false }
    }
    return $true
}

function New-Finding {
    param([string] $Scope, $Info, [string] $Kind, [string] $Target, [string] $RuleName, [string] $RuleIdentity, [bool] $Enabled,
        [string] $Action, [string] $Detail)
    $mailbox = $null
    $mailboxType = $null
    if ($null -ne $Info) {
        $mailbox = $Info.Address
        $mailboxType = $Info.Type
    }
    [pscustomobject]@{
        RecordType     = 'Finding'
        Scope          = $Scope
        Mailbox        = $mailbox
        MailboxType    = $mailboxType
        Kind           = $Kind
        ExternalTarget = $Target
        TargetDomain   = if ($Target -match '@') { ($Target -split '@')[-1].ToLowerInvariant() } else { $null }
        RuleName       = $RuleName
        RuleIdentity   = $RuleIdentity
        Enabled        = $Enabled
        Action         = $Action
        Detail         = $Detail
    }
}

function Add-ChangeFailure {
    param($State, [string] $Mailbox, [string] $Step, [string] $Text)
    $State.changeFailures++
    $failure = [pscustomobject]@{ RecordType = 'Failure'; Mailbox = $Mailbox; Step = $Step; Error = $Text }
    if ($State.failures.Count -lt 50) { $State.failures.Add($failure) }
    Write-Record -Format $OutputFormat -Record $failure
}

function Add-TenantReadFailure {
    param($State, [string] $Step, [System.Management.Automation.ErrorRecord] $ErrorRecord)
    $State.tenantReadFailures++
    $failure = [pscustomobject]@{ RecordType = 'Failure'; Mailbox = $null; Step = $Step; Error = (Get-ExceptionText -ErrorRecord $ErrorRecord) }
    if ($State.failures.Count -lt 50) { $State.failures.Add($failure) }
    Write-Record -Format $OutputFormat -Record $failure
}

function Clear-MailboxForwarding {
    # Clears one forwarding property, then reads the mailbox back: only a confirmed change counts. Returns the outcome
    # (Action, Error) and writes nothing else, so the caller can both keep the outcome and report a failure.
    param($Info, [ValidateSet('ForwardingSmtpAddress', 'ForwardingAddress')] [string] $Property, $State)
    $mailboxGuid = $Info.Guid
    $objectId = $Info.ObjectId
    try {
        if ($Property -eq 'ForwardingSmtpAddress') {
            $null = Invoke-ExchangeCall -Step 'Set-Mailbox' -Call {
                Set-Mailbox -Identity $mailboxGuid -ForwardingSmtpAddress $null -Confirm:$false -ErrorAction Stop
            }
        }
        else {
            $null = Invoke-ExchangeCall -Step 'Set-Mailbox' -Call {
                Set-Mailbox -Identity $mailboxGuid -ForwardingAddress $null -Confirm:$false -ErrorAction Stop
            }
        }
        $after = Invoke-ExchangeCall -Step 'Get-EXOMailbox' -Call {
            Get-EXOMailbox -ExternalDirectoryObjectId $objectId -Properties 'ForwardingSmtpAddress', 'ForwardingAddress' -ErrorAction Stop
        }
    }
    catch {
        return [pscustomobject]@{ Action = 'Failed'; Error = (Get-ExceptionText -ErrorRecord $_) }
    }
    if ($after.Count -eq 1 -and -not [string] (Get-PropertyValue $after[0] $Property)) {
        $State.counts.Remediated++
        return [pscustomobject]@{ Action = 'Disabled'; Error = $null }
    }
    return [pscustomobject]@{ Action = 'NotConfirmed'; Error = "Set-Mailbox returned, but $Property is still set when read back." }
}

function Disable-ExternalInboxRule {
    # Disables one rule, then reads it back: only a confirmed change counts. Returns the outcome (Action, Error) only.
    param($Info, [string] $RuleNumber, $State)
    $mailboxGuid = $Info.Guid
    try {
        # -Force: a scheduled job cannot answer the client-side-rules confirmation prompt.
        $null = Invoke-ExchangeCall -Step 'Disable-InboxRule' -Call {
            Disable-InboxRule -Identity $RuleNumber -Mailbox $mailboxGuid -Force -Confirm:$false -ErrorAction Stop
        }
        $after = Invoke-ExchangeCall -Step 'Get-InboxRule' -Call {
            Get-InboxRule -Identity $RuleNumber -Mailbox $mailboxGuid -ErrorAction Stop
        }
    }
    catch {
        return [pscustomobject]@{ Action = 'Failed'; Error = (Get-ExceptionText -ErrorRecord $_) }
    }
    if ($after.Count -eq 1 -and -not [bool] (Get-PropertyValue $after[0] 'Enabled')) {
        $State.counts.Remediated++
        return [pscustomobject]@{ Action = 'Disabled'; Error = $null }
    }
    return [pscustomobject]@{ Action = 'NotConfirmed'; Error = "Rule $RuleNumber is still enabled when read back." }
}

function Write-RemediationFailure {
    # Reports a failed or unconfirmed change (a Failure record, counted); nothing when the outcome has no error.
    param($Outcome, $Info, [string] $Step, $State)
    if ($Outcome.Error) {
        Add-ChangeFailure -State $State -Mailbox $Info.Address -Step $Step -Text $Outcome.Error
    }
}

function Write-InboxRuleFinding {
    param($Rule, [string[]] $Targets, $State)
    $action = if ($Rule.Enabled) { 'WouldDisable' } else { 'AlreadyDisabled' }
    if ($Rule.Action) {
        # Another of the rule's recipients already decided it (a rule is disabled, and counted, once).
        $action = $Rule.Action
    }
    elseif ($Remediate -and $Rule.Enabled) {
        # The outcome is kept apart from the records written, so a Failure record never ends up inside $action.
        $outcome = Disable-ExternalInboxRule -Info $Rule.Info -RuleNumber $Rule.Number -State $State
        Write-RemediationFailure -Outcome $outcome -Info $Rule.Info -Step 'Disable-InboxRule' -State $State
        $action = $outcome.Action
        $Rule.Action = $action
    }
    foreach ($target in $Targets) {
        $State.counts.InboxRule++
        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Mailbox' -Info $Rule.Info -Kind 'InboxRule' -Target $target `
                -RuleName $Rule.Name -RuleIdentity $Rule.Identity -Enabled $Rule.Enabled -Action $action -Detail $Rule.Detail)
    }
}

function Read-TenantForwarding {
    # Organization-wide paths, read once (partition 0). A failed read is recorded and fails the job at the end.
    param($State)
    try {
        $remoteDomains = Invoke-ExchangeCall -Step 'Get-RemoteDomain' -Call { Get-RemoteDomain -ResultSize Unlimited -ErrorAction Stop }
        foreach ($remote in $remoteDomains) {
            $domainName = [string] (Get-PropertyValue $remote 'DomainName')
            $autoForward = [bool] (Get-PropertyValue $remote 'AutoForwardEnabled')
            Write-Record -Format $OutputFormat -Record ([pscustomobject]@{
                    RecordType = 'TenantControl'; Kind = 'RemoteDomain'; Name = [string] $remote.Name; DomainName = $domainName
                    AutoForwardEnabled = $autoForward; IsDefault = ($domainName -eq '*')
                })
            if ($autoForward -and $domainName -ne '*' -and (Test-ExternalAddress -Address "x@$($domainName.TrimStart('*.'))")) {
                $State.counts.TenantWide++
                Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind 'RemoteDomainAutoForward' -Target $domainName `
                        -RuleName ([string] $remote.Name) -Enabled $true -Action 'Review' -Detail 'Automatic forwarding to this remote domain is allowed.')
            }
        }
    }
    catch { Add-TenantReadFailure -State $State -Step 'Get-RemoteDomain' -ErrorRecord $_ }

    try {
        $policies = Invoke-ExchangeCall -Step 'Get-HostedOutboundSpamFilterPolicy' -Call { Get-HostedOutboundSpamFilterPolicy -ErrorAction Stop }
        $rules = Invoke-ExchangeCall -Step 'Get-HostedOutboundSpamFilterRule' -Call { Get-HostedOutboundSpamFilterRule -ErrorAction Stop }
        foreach ($policy in $policies) {
            $isDefault = [bool] (Get-PropertyValue $policy 'IsDefault')
            $mode = [string] (Get-PropertyValue $policy 'AutoForwardingMode')
            # Who the policy applies to: its rules' conditions; the default policy covers everyone no rule matches.
            $appliesTo = @(foreach ($rule in $rules) {
                    if ([string] (Get-PropertyValue $rule 'HostedOutboundSpamFilterPolicy') -ne [string] $policy.Name) { continue }
                    [ordered]@{
                        rule                   = [string] $rule.Name
                        state                  = [string] (Get-PropertyValue $rule 'State')
                        priority               = Get-PropertyValue $rule 'Priority'
                        from                   = @(Get-PropertyValue $rule 'From')
                        fromMemberOf           = @(Get-PropertyValue $rule 'FromMemberOf')
                        senderDomainIs         = @(Get-PropertyValue $rule 'SenderDomainIs')
                        exceptIfFrom           = @(Get-PropertyValue $rule 'ExceptIfFrom')
                        exceptIfFromMemberOf   = @(Get-PropertyValue $rule 'ExceptIfFromMemberOf')
                        exceptIfSenderDomainIs = @(Get-PropertyValue $rule 'ExceptIfSenderDomainIs')
                    }
                })
            Write-Record -Format $OutputFormat -Record ([pscustomobject]@{
                    RecordType = 'TenantControl'; Kind = 'OutboundSpamFilterPolicy'; Name = [string] $policy.Name; IsDefault = $isDefault
                    AutoForwardingMode = $mode; AppliesTo = if ($isDefault) { 'everyone no other policy rule matches' } else { $appliesTo }
                })
            if ($mode -eq 'On') {
                $State.counts.TenantWide++
                Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind 'OutboundSpamPolicyAllowsForwarding' `
                        -Target ([string] $policy.Name) -RuleName ([string] $policy.Name) -Enabled $true -Action 'Review' `
                        -Detail "AutoForwardingMode On lets the senders this policy applies to forward automatically to any external address.")
            }
        }
    }
    catch { Add-TenantReadFailure -State $State -Step 'Get-HostedOutboundSpamFilterPolicy/Rule' -ErrorRecord $_ }

    try {
        $transportRules = Invoke-ExchangeCall -Step 'Get-TransportRule' -Call { Get-TransportRule -ResultSize Unlimited -ErrorAction Stop }
        foreach ($rule in $transportRules) {
            $enabled = ([string] (Get-PropertyValue $rule 'State')) -eq 'Enabled'
            foreach ($actionName in $TransportRuleRecipientActions) {
                foreach ($recipientText in @(Get-PropertyValue $rule $actionName)) {
                    if (-not $recipientText) { continue }
                    $addresses = @(Get-SmtpAddress -Value ([string] $recipientText))
                    if ($addresses.Count -eq 0) {
                        # A recipient named without an address (a contact or mail user): check it by hand.
                        $State.counts.TenantWide++
                        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind "TransportRule.$actionName" `
                                -Target ([string] $recipientText) -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) `
                                -Enabled $enabled -Action 'Review' -Detail 'Recipient is not an SMTP address; check whether it is external.')
                        continue
                    }
                    foreach ($address in $addresses) {
                        if (-not (Test-ExternalAddress -Address $address)) { continue }
                        $State.counts.TenantWide++
                        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind "TransportRule.$actionName" -Target $address `
                                -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) -Enabled $enabled -Action 'Review' -Detail '')
                    }
                }
            }
            $connector = [string] (Get-PropertyValue $rule 'RouteMessageOutboundConnector')
            if ($connector) {
                $State.counts.TenantWide++
                Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind 'TransportRule.RouteMessageOutboundConnector' `
                        -Target $connector -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) -Enabled $enabled -Action 'Review' `
                        -Detail 'Matching mail is routed through this outbound connector.')
            }
        }
    }
    catch { Add-TenantReadFailure -State $State -Step 'Get-TransportRule' -ErrorRecord $_ }
}

function Invoke-MailboxAudit {
    # One mailbox: forwarding properties (already read with it) and its inbox rules (one call).
    param($Mailbox, $State)
    $State.mailboxesInPartition++
    $info = [pscustomobject]@{
        Address  = [string] $Mailbox.PrimarySmtpAddress
        Type     = [string] $Mailbox.RecipientTypeDetails
        ObjectId = [string] $Mailbox.ExternalDirectoryObjectId
        # The Exchange object GUID: an Identity every Exchange cmdlet documents (Set-Mailbox, Get-/Disable-InboxRule -Mailbox).
        Guid     = [string] $Mailbox.Guid
    }
    Write-Verbose "Auditing forwarding of $($info.Address)"
    $deliverAndForward = "DeliverToMailboxAndForward=$([bool] (Get-PropertyValue $Mailbox 'DeliverToMailboxAndForward'))"

    # 1. ForwardingSmtpAddress: a plain SMTP address.
    $externalSmtp = @(Get-SmtpAddress -Value ([string] (Get-PropertyValue $Mailbox 'ForwardingSmtpAddress')) |
            Where-Object { Test-ExternalAddress -Address $_ })
    if ($externalSmtp.Count -gt 0) {
        $action = 'WouldDisable'
        if ($Remediate) {
            $outcome = Clear-MailboxForwarding -Info $info -Property 'ForwardingSmtpAddress' -State $State
            Write-RemediationFailure -Outcome $outcome -Info $info -Step 'Set-Mailbox -ForwardingSmtpAddress' -State $State
            $action = $outcome.Action
        }
        foreach ($target in $externalSmtp) {
            $State.counts.ForwardingSmtpAddress++
            Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Mailbox' -Info $info -Kind 'ForwardingSmtpAddress' -Target $target `
                    -Enabled $true -Action $action -Detail $deliverAndForward)
        }
    }

    # 2. ForwardingAddress: a directory recipient named by its name; resolved after the mailboxes, by distinguished name.
    $forwardingName = [string] (Get-PropertyValue $Mailbox 'ForwardingAddress')
    if ($forwardingName) {
        $State.forwarders[$info.ObjectId] = [pscustomobject]@{ Info = $info; Value = $forwardingName; Detail = $deliverAndForward }
        $State.forwarderNames[$forwardingName.ToLowerInvariant()] = $true
    }

    # 3. Inbox rules, hidden ones included (rules hidden from Outlook are a known way to exfiltrate mail).
    if ($IncludeInboxRules) {
        $mailboxGuid = $info.Guid
        try {
            $rules = Invoke-ExchangeCall -Step 'Get-InboxRule' -Call { Get-InboxRule -Mailbox $mailboxGuid -IncludeHidden -ErrorAction Stop }
        }
        catch {
            Add-ReadFailure -State $State -Mailbox $info.Address -Step 'Get-InboxRule' -ErrorRecord $_ -Format $OutputFormat
            return
        }
        foreach ($rule in $rules) {
            $recipients = @(foreach ($propertyName in 'ForwardTo', 'ForwardAsAttachmentTo', 'RedirectTo') {
                    foreach ($recipientText in @(Get-PropertyValue $rule $propertyName)) { if ($recipientText) { [string] $recipientText } }
                })
            if ($recipients.Count -eq 0) { continue }
            $ruleRecord = [pscustomobject]@{
                Info     = $info
                Name     = [string] $rule.Name
                Identity = [string] $rule.Identity
                # RuleIdentity (a number) plus -Mailbox is unambiguous; Identity alone is 'alias\RuleIdentity'.
                Number   = [string] (Get-PropertyValue $rule 'RuleIdentity')
                Enabled  = [bool] (Get-PropertyValue $rule 'Enabled')
                Detail   = ''
                Action   = $null
            }
            $externalTargets = @($recipients | ForEach-Object { Get-SmtpAddress -Value $_ } |
                    Where-Object { Test-ExternalAddress -Address $_ } | Sort-Object -Unique)
            if ($externalTargets.Count -gt 0) {
                Write-InboxRuleFinding -Rule $ruleRecord -Targets $externalTargets -State $State
            }
            elseif ($ruleRecord.Number) {
                # Only EX: recipients: external when a mail user or contact with an external address; resolved after the mailboxes.
                foreach ($legacyDn in @($recipients | ForEach-Object { Get-LegacyDn -Value $_ })) {
                    $key = $legacyDn.ToLowerInvariant()
                    if (-not $State.legacyDnRules.ContainsKey($key)) { $State.legacyDnRules[$key] = New-Object System.Collections.Generic.List[object] }
                    $State.legacyDnRules[$key].Add($ruleRecord)
                }
            }
        }
    }
    $State.consecutiveReadFailures = 0
    if ($State.mailboxesInPartition % 500 -eq 0) {
        Write-Record -Format $OutputFormat -Record ([pscustomobject]@{
                RecordType = 'Progress'; MailboxesSeen = $State.mailboxesSeen; MailboxesInPartition = $State.mailboxesInPartition
                ReadFailures = $State.readFailures; ElapsedSeconds = [int] ([DateTime]::UtcNow - $State.startedAt).TotalSeconds
            })
    }
}

function Resolve-ExternalRecipient {
    # One mail user or mail contact: when its ExternalEmailAddress is external, it decides pending ForwardingAddress
    # values and EX: inbox rule recipients that point at it.
    param($Recipient, $State)
    $external = @(Get-SmtpAddress -Value ([string] (Get-PropertyValue $Recipient 'ExternalEmailAddress')) |
            Where-Object { Test-ExternalAddress -Address $_ })
    if ($external.Count -eq 0) { return }
    $target = $external[0]

    $legacyDn = [string] (Get-PropertyValue $Recipient 'LegacyExchangeDN')
    if ($legacyDn -and $State.legacyDnRules.ContainsKey($legacyDn.ToLowerInvariant())) {
        foreach ($ruleRecord in $State.legacyDnRules[$legacyDn.ToLowerInvariant()]) {
            $ruleRecord.Detail = "recipient=$([string] $Recipient.Name) ($([string] $Recipient.RecipientTypeDetails))"
            Write-InboxRuleFinding -Rule $ruleRecord -Targets @($target) -State $State
        }
        $State.legacyDnRules.Remove($legacyDn.ToLowerInvariant())
    }

    # The mailbox names its forwarding target only by name: a recipient whose name matches is a candidate, and an OPATH
    # filter on its distinguished name says which mailboxes really forward to it (never a guess by display name).
    $names = @('Name', 'DisplayName', 'Alias', 'Identity') | ForEach-Object { [string] (Get-PropertyValue $Recipient $_) } | Where-Object { $_ }
    $candidate = @($names | Where-Object { $State.forwarderNames.ContainsKey($_.ToLowerInvariant()) }).Count -gt 0
    if (-not $candidate) { return }
    $distinguishedName = [string] $Recipient.DistinguishedName
    $filter = "ForwardingAddress -eq '$($distinguishedName -replace "'", "''")'"
    try {
        $forwarding = Invoke-ExchangeCall -Step 'Get-Mailbox -Filter ForwardingAddress' -Call {
            Get-Mailbox -Filter $filter -ResultSize Unlimited -ErrorAction Stop
        }
    }
    catch {
        Add-TenantReadFailure -State $State -Step "Get-Mailbox -Filter ForwardingAddress ($([string] $Recipient.Name))" -ErrorRecord $_
        return
    }
    foreach ($mailbox in $forwarding) {
        $pending = $State.forwarders[[string] $mailbox.ExternalDirectoryObjectId]
        if ($null -eq $pending) { continue }  # another partition's mailbox
        $State.forwarders.Remove([string] $mailbox.ExternalDirectoryObjectId)
        $action = 'WouldDisable'
        if ($Remediate) {
            $outcome = Clear-MailboxForwarding -Info $pending.Info -Property 'ForwardingAddress' -State $State
            Write-RemediationFailure -Outcome $outcome -Info $pending.Info -Step 'Set-Mailbox -ForwardingAddress' -State $State
            $action = $outcome.Action
        }
        $State.counts.ForwardingAddress++
        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Mailbox' -Info $pending.Info -Kind 'ForwardingAddress' -Target $target `
                -Enabled $true -Action $action -Detail "$($pending.Detail); recipient=$distinguishedName")
    }
}

if ($PartitionIndex -ge $PartitionCount) {
    throw "-PartitionIndex $PartitionIndex must be less than -PartitionCount $PartitionCount."
}

$state = @{
    startedAt               = [DateTime]::UtcNow
    counts                  = [ordered]@{ ForwardingSmtpAddress = 0; ForwardingAddress = 0; InboxRule = 0; TenantWide = 0; Remediated = 0 }
    failures                = New-Object System.Collections.Generic.List[object]
    readFailures            = 0
    consecutiveReadFailures = 0
    tenantReadFailures      = 0
    changeFailures          = 0
    mailboxesSeen           = 0
    mailboxesInPartition    = 0
    # Pending look-ups, by ExternalDirectoryObjectId / lower-case name / lower-case legacy DN: a few entries per forwarding
    # mailbox or EX: rule, never one per mailbox.
    forwarders              = @{}
    forwarderNames          = @{}
    legacyDnRules           = @{}
}
$connected = $false
$fatal = $null
$allowedDomains = @(Split-ListParameter -Value $AllowedExternalDomains | ForEach-Object { $_.ToLowerInvariant() })
$internalDomains = @()
$relayDomains = @()

try {
    Connect-ExchangeWithManagedIdentity -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
        -ManagedIdentityClientId $ManagedIdentityClientId -RequiredRoleHint $RequiredRoleHint
    $connected = $true

    try {
        $acceptedDomains = Invoke-ExchangeCall -Step 'Get-AcceptedDomain' -Call { Get-AcceptedDomain -ResultSize Unlimited -ErrorAction Stop }
    }
    catch {
        # The first cmdlet after connecting is where a missing Exchange role shows up as well.
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization -RequiredRoleHint $RequiredRoleHint -Step 'Get-AcceptedDomain')
    }
    # Only Authoritative domains are internal: InternalRelay domains have recipients outside Exchange Online, and mail to
    # them leaves the tenant.
    $internalDomains = @($acceptedDomains | Where-Object { [string] (Get-PropertyValue $_ 'DomainType') -eq 'Authoritative' } | ForEach-Object {
            [pscustomobject]@{ Name = ([string] $_.DomainName).ToLowerInvariant(); MatchSubDomains = [bool] (Get-PropertyValue $_ 'MatchSubDomains') }
        })
    $relayDomains = @($acceptedDomains | Where-Object { [string] (Get-PropertyValue $_ 'DomainType') -ne 'Authoritative' } |
            ForEach-Object { ([string] $_.DomainName).ToLowerInvariant() })
    if ($internalDomains.Count -eq 0) {
        throw "Get-AcceptedDomain returned no Authoritative domain for '$Organization'; refusing to classify addresses as external."
    }

    if ($PartitionIndex -eq 0) { Read-TenantForwarding -State $state }

    # Beyond the Minimum property set (which already has PrimarySmtpAddress, RecipientTypeDetails, ExternalDirectoryObjectId).
    $mailboxProperties = @('ForwardingSmtpAddress', 'ForwardingAddress', 'DeliverToMailboxAndForward')
    $identities = @(Split-ListParameter -Value $Identity)
    if ($identities.Count -gt 0) {
        foreach ($mailboxIdentity in $identities) {
            $state.mailboxesSeen++
            try {
                $found = Invoke-ExchangeCall -Step 'Get-EXOMailbox' -Call {
                    Get-EXOMailbox -Identity $mailboxIdentity -Properties $mailboxProperties -ErrorAction Stop
                }
            }
            catch {
                $state.mailboxesInPartition++
                Add-ReadFailure -State $state -Mailbox $mailboxIdentity -Step 'Get-EXOMailbox' -ErrorRecord $_ -Format $OutputFormat
                continue
            }
            foreach ($mailbox in $found) { Invoke-MailboxAudit -Mailbox $mailbox -State $state }
        }
    }
    else {
        # Streamed: each mailbox is processed as the module pages it in, and only this partition's share costs a call.
        Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails 'UserMailbox', 'SharedMailbox' -Properties $mailboxProperties -ErrorAction Stop |
            Where-Object {
                $state.mailboxesSeen++
                Test-MailboxInPartition -Mailbox $_ -PartitionCount $PartitionCount -PartitionIndex $PartitionIndex
            } |
            ForEach-Object { Invoke-MailboxAudit -Mailbox $_ -State $state }
    }

    # Targets named only by directory name or legacy DN: stream the mail users and mail contacts once (their
    # ExternalEmailAddress is in no Get-EXORecipient property set) and settle every pending look-up.
    if ($state.forwarders.Count -gt 0 -or $state.legacyDnRules.Count -gt 0) {
        try {
            Get-MailUser -ResultSize Unlimited -ErrorAction Stop | ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $state }
            Get-MailContact -ResultSize Unlimited -ErrorAction Stop | ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $state }
        }
        catch {
            Add-TenantReadFailure -State $state -Step 'Get-MailUser/Get-MailContact' -ErrorRecord $_
        }
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
if ($null -ne $fatal -or $state.tenantReadFailures -gt 0 -or $state.changeFailures -gt 0) { $status = 'Failed' }
elseif ($state.readFailures -gt 0) {
    $status = 'CompletedWithUnreadMailboxes'
    if (100.0 * $state.readFailures / [math]::Max(1, $state.mailboxesInPartition) -gt $MaxReadFailurePercent) { $status = 'Failed' }
}
$summary = [ordered]@{
    recordType                = 'Summary'
    runbook                   = $RunbookName
    organization              = $Organization
    mode                      = if ($Remediate) { 'Remediate' } else { 'ReportOnly' }
    partition                 = "$PartitionIndex/$PartitionCount"
    tenantWideRead            = ($PartitionIndex -eq 0)
    startedAtUtc              = $state.startedAt.ToString('o')
    finishedAtUtc             = [DateTime]::UtcNow.ToString('o')
    mailboxesSeen             = $state.mailboxesSeen
    mailboxesInPartition      = $state.mailboxesInPartition
    inboxRulesRead            = [bool] $IncludeInboxRules
    relayDomainsTreatedAsExternal = $relayDomains
    findings                  = $state.counts
    forwardingToInternalRecipients = $state.forwarders.Count
    readFailures              = $state.readFailures
    tenantReadFailures        = $state.tenantReadFailures
    changeFailures            = $state.changeFailures
    maxReadFailurePercent     = $MaxReadFailurePercent
    failures                  = @($state.failures)
    error                     = if ($null -ne $fatal) { Get-ExceptionText -ErrorRecord $fatal } else { $null }
    secondsPerMailbox         = if ($state.mailboxesInPartition -gt 0) { [math]::Round($elapsed / $state.mailboxesInPartition, 3) } else { $null }
    # Jobs that would each stay under two of the sandbox's three hours at this run's measured pace.
    recommendedPartitionCount = if ($state.mailboxesInPartition -gt 0) { [math]::Max(1, [int] [math]::Ceiling($elapsed / $state.mailboxesInPartition * $state.mailboxesSeen / 7200)) } else { $null }
    status                    = $status
}
Write-Output ($summary | ConvertTo-Json -Compress -Depth 6)

if ($null -ne $fatal) {
    throw "$RunbookName failed: $(Get-ExceptionText -ErrorRecord $fatal)"
}
if ($state.tenantReadFailures -gt 0 -or $state.changeFailures -gt 0) {
    throw ("$RunbookName could not read $($state.tenantReadFailures) tenant-wide setting(s) and could not confirm $($state.changeFailures) " +
        "change(s); see the Failure records above.")
}
Assert-ReadFailureThreshold -State $state -ThresholdPercent $MaxReadFailurePercent
