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

.PARAMETER CertificateThumbprint
    Thumbprint(s) of the app registration's certificate, comma-separated (the program passes the current one first and the
    previous one during a rotation); the first found in Cert:\CurrentUser\My or Cert:\LocalMachine\My of the hybrid worker's job
    account is used (installed by scripts/windows/Install-ExoCertificate.ps1 or New-ExoHostCertificate.ps1). Empty: the managed identity.

.PARAMETER AppId
    Client id of that app registration; required with -CertificateThumbprint.

.PARAMETER SoftDeadlineMinutes
    Minutes after the start when the job stops, writes its summary (with recommendedPartitionCount) and fails (default 165; 0: none).

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

    # Hybrid workers outside Azure have no managed identity: the certificate of an app registration instead (set by the program
    # for a runbook with hybridWorker: true; docs/runbooks.md, "Hybrid workers").
    [ValidatePattern('^([0-9A-Fa-f]{40}(,[0-9A-Fa-f]{40})*)?$')]
    [string] $CertificateThumbprint = '',

    [ValidatePattern('^([0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})?$')]
    [string] $AppId = '',

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
    [double] $MaxReadFailurePercent = 0,

    # Minutes after the start when the job stops reading, writes its summary and fails: before the sandbox's 3-hour fair-share
    # limit stops it without one. 0: no deadline (hybrid workers have no fair-share limit).
    [ValidateRange(0, 10080)]
    [int] $SoftDeadlineMinutes = 165
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RunbookName = 'Invoke-ForwardingAudit'
$RequiredRoleHint = 'Exchange Administrator (or Exchange Recipient Administrator together with Global Reader; Global Reader alone cannot read inbox rules)'
# Calls per mailbox in scope (Get-InboxRule); see docs/runbooks.md, "Scale".
$CallsPerMailbox = 1
# Transport rule actions that send a message, or a copy or report of it, to the recipients they name.
$TransportRuleRecipientActions = @('RedirectMessageTo', 'BlindCopyTo', 'AddToRecipients', 'CopyTo', 'GenerateIncidentReport')

# The Exchange cmdlets this runbook calls: the only ones Connect-ExchangeOnline -CommandName loads (tests/runbooks check the list).
$ExchangeCommands = @(
    'Get-AcceptedDomain', 'Get-RemoteDomain', 'Get-HostedOutboundSpamFilterPolicy', 'Get-HostedOutboundSpamFilterRule',
    'Get-TransportRule', 'Get-EXOMailbox', 'Get-Mailbox', 'Get-InboxRule', 'Set-Mailbox', 'Disable-InboxRule',
    'Get-MailUser', 'Get-MailContact'
)
# A change is read back this many times, a few seconds apart, before it is reported NotConfirmed (Exchange may answer from a
# replica that has not seen the change yet; assumed, not documented).
$ReadBackAttempts = 3
# Helpers (connection, retries, deadline, records, partitions) come from scripts/windows/ExoCommon.psm1, put after param() when
# the program publishes this runbook.

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
    $mailboxName = $null
    $mailboxType = $null
    if ($null -ne $Info) {
        $mailbox = $Info.Address
        $mailboxName = $Info.Name
        $mailboxType = $Info.Type
    }
    # Every record names its mailbox the same way: Mailbox (primary SMTP address) and MailboxName (the Exchange Name); a
    # directory recipient in Detail is named by its distinguished name ("recipient=<DN>").
    [pscustomobject]@{
        RecordType     = 'Finding'
        Scope          = $Scope
        Mailbox        = $mailbox
        MailboxName    = $mailboxName
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
        for ($read = 1; $read -le $ReadBackAttempts; $read++) {
            $after = Invoke-ExchangeCall -Step 'Get-EXOMailbox' -Call {
                Get-EXOMailbox -ExternalDirectoryObjectId $objectId -Properties 'ForwardingSmtpAddress', 'ForwardingAddress' -ErrorAction Stop
            }
            if ($after.Count -eq 1 -and -not [string] (Get-PropertyValue $after[0] $Property)) {
                $State.counts.Remediated++
                return [pscustomobject]@{ Action = 'Disabled'; Error = $null }
            }
            if ($read -lt $ReadBackAttempts) { Start-Sleep -Seconds (5 * $read) }
        }
    }
    catch {
        return [pscustomobject]@{ Action = 'Failed'; Error = (Get-ExceptionText -ErrorRecord $_) }
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
        for ($read = 1; $read -le $ReadBackAttempts; $read++) {
            $after = Invoke-ExchangeCall -Step 'Get-InboxRule' -Call {
                Get-InboxRule -Identity $RuleNumber -Mailbox $mailboxGuid -ErrorAction Stop
            }
            if ($after.Count -eq 1 -and -not (ConvertTo-Flag -Value (Get-PropertyValue $after[0] 'Enabled') -Name 'Enabled')) {
                $State.counts.Remediated++
                return [pscustomobject]@{ Action = 'Disabled'; Error = $null }
            }
            if ($read -lt $ReadBackAttempts) { Start-Sleep -Seconds (5 * $read) }
        }
    }
    catch {
        return [pscustomobject]@{ Action = 'Failed'; Error = (Get-ExceptionText -ErrorRecord $_) }
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
            $autoForward = ConvertTo-Flag -Value (Get-PropertyValue $remote 'AutoForwardEnabled') -Name 'AutoForwardEnabled'
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
            $isDefault = ConvertTo-Flag -Value (Get-PropertyValue $policy 'IsDefault') -Name 'IsDefault'
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
            elseif ($mode -eq 'Automatic') {
                # "For existing organizations that were already using the value, it can remain equivalent to On"
                # (Set-HostedOutboundSpamFilterPolicy.md, -AutoForwardingMode): whether it allows forwarding here cannot be read.
                $State.counts.TenantWide++
                Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind 'OutboundSpamPolicyAutomaticForwarding' `
                        -Target ([string] $policy.Name) -RuleName ([string] $policy.Name) -Enabled $true -Action 'Review' `
                        -Detail ("AutoForwardingMode Automatic behaves as On in some organizations and as Off in others; Microsoft " +
                            "recommends setting On or Off explicitly. Set it to Off unless external forwarding is intended."))
            }
        }
    }
    catch { Add-TenantReadFailure -State $State -Step 'Get-HostedOutboundSpamFilterPolicy/Rule' -ErrorRecord $_ }

    try {
        $transportRules = Invoke-ExchangeCall -Step 'Get-TransportRule' -Call { Get-TransportRule -ResultSize Unlimited -ErrorAction Stop }
        foreach ($rule in $transportRules) {
            # Enabled and enforced: a rule in Audit or AuditAndNotify (test) mode takes no delivery action (New-TransportRule.md, -Mode);
            # a rule without Mode is taken as enforced (Enforce is the default).
            $ruleMode = [string] (Get-PropertyValue $rule 'Mode')
            $enabled = ([string] (Get-PropertyValue $rule 'State')) -eq 'Enabled' -and ($ruleMode -eq '' -or $ruleMode -eq 'Enforce')
            $modeDetail = "State=$([string] (Get-PropertyValue $rule 'State')); Mode=$ruleMode"
            foreach ($actionName in $TransportRuleRecipientActions) {
                foreach ($recipientText in @(Get-PropertyValue $rule $actionName)) {
                    if (-not $recipientText) { continue }
                    $addresses = @(Get-SmtpAddress -Value ([string] $recipientText))
                    if ($addresses.Count -eq 0) {
                        # A recipient named without an address (a contact or mail user): check it by hand.
                        $State.counts.TenantWide++
                        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind "TransportRule.$actionName" `
                                -Target ([string] $recipientText) -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) `
                                -Enabled $enabled -Action 'Review' -Detail "$modeDetail; recipient is not an SMTP address; check whether it is external.")
                        continue
                    }
                    foreach ($address in $addresses) {
                        if (-not (Test-ExternalAddress -Address $address)) { continue }
                        $State.counts.TenantWide++
                        Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind "TransportRule.$actionName" -Target $address `
                                -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) -Enabled $enabled -Action 'Review' -Detail $modeDetail)
                    }
                }
            }
            $connector = [string] (Get-PropertyValue $rule 'RouteMessageOutboundConnector')
            if ($connector) {
                $State.counts.TenantWide++
                Write-Record -Format $OutputFormat -Record (New-Finding -Scope 'Tenant' -Kind 'TransportRule.RouteMessageOutboundConnector' `
                        -Target $connector -RuleName ([string] $rule.Name) -RuleIdentity ([string] $rule.Guid) -Enabled $enabled -Action 'Review' `
                        -Detail "$modeDetail; matching mail is routed through this outbound connector.")
            }
        }
    }
    catch { Add-TenantReadFailure -State $State -Step 'Get-TransportRule' -ErrorRecord $_ }
}

function Invoke-MailboxAudit {
    # One mailbox: forwarding properties (already read with it) and its inbox rules (one call).
    param($Mailbox, $State)
    Assert-WithinDeadline -Where 'the mailbox enumeration'
    # A resumed enumeration re-reads from the start (Get-EXOMailbox documents no order): mailboxes already done are skipped.
    if (-not $State.done.Add([string] $Mailbox.ExternalDirectoryObjectId)) { return }
    $State.mailboxesInPartition++
    $info = [pscustomobject]@{
        Address  = [string] $Mailbox.PrimarySmtpAddress
        Name     = [string] (Get-PropertyValue $Mailbox 'Name')
        Type     = [string] $Mailbox.RecipientTypeDetails
        ObjectId = [string] $Mailbox.ExternalDirectoryObjectId
        # The Exchange object GUID: an Identity every Exchange cmdlet documents (Set-Mailbox, Get-/Disable-InboxRule -Mailbox).
        Guid     = [string] $Mailbox.Guid
    }
    Write-Verbose "Auditing forwarding of $($info.Address)"
    $deliverAndForward = "DeliverToMailboxAndForward=$(ConvertTo-Flag -Value (Get-PropertyValue $Mailbox 'DeliverToMailboxAndForward') -Name 'DeliverToMailboxAndForward')"

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
                Enabled  = ConvertTo-Flag -Value (Get-PropertyValue $rule 'Enabled') -Name 'Enabled'
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
    Assert-WithinDeadline -Where 'the mail user and mail contact read'
    $external = @(Get-SmtpAddress -Value ([string] (Get-PropertyValue $Recipient 'ExternalEmailAddress')) |
            Where-Object { Test-ExternalAddress -Address $_ })
    if ($external.Count -eq 0) { return }
    $target = $external[0]

    $legacyDn = [string] (Get-PropertyValue $Recipient 'LegacyExchangeDN')
    if ($legacyDn -and $State.legacyDnRules.ContainsKey($legacyDn.ToLowerInvariant())) {
        foreach ($ruleRecord in $State.legacyDnRules[$legacyDn.ToLowerInvariant()]) {
            $ruleRecord.Detail = "recipient=$([string] $Recipient.DistinguishedName)"
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

function Read-MailRecipient {
    # Streams every mail user (or mail contact) into Resolve-ExternalRecipient. Both cmdlets sort by Name in ascending order with
    # -SortBy Name (Get-MailUser.md, Get-MailContact.md), so a read that fails part-way resumes at the last name done ("Name -ge",
    # an OPATH comparison recipient-filters.md lists): that recipient is read again, which settles nothing twice.
    param([ValidateSet('MailUser', 'MailContact')] [string] $Kind, $State)
    $State.lastRecipientName = $null
    Invoke-ResumableRead -Step "Get-$Kind" -Read {
        param($Pass)
        $last = $State.lastRecipientName
        if ($Pass -gt 0) { $State.resumed.Add("Get-$Kind (resumed at Name '$last', -SortBy Name)") }
        if ($null -eq $last) {
            if ($Kind -eq 'MailUser') {
                Get-MailUser -ResultSize Unlimited -SortBy Name -ErrorAction Stop |
                    ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $State; $State.lastRecipientName = [string] $_.Name }
            }
            else {
                Get-MailContact -ResultSize Unlimited -SortBy Name -ErrorAction Stop |
                    ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $State; $State.lastRecipientName = [string] $_.Name }
            }
            return
        }
        $resumeFilter = "Name -ge '$($last -replace "'", "''")'"
        if ($Kind -eq 'MailUser') {
            Get-MailUser -ResultSize Unlimited -SortBy Name -Filter $resumeFilter -ErrorAction Stop |
                ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $State; $State.lastRecipientName = [string] $_.Name }
        }
        else {
            Get-MailContact -ResultSize Unlimited -SortBy Name -Filter $resumeFilter -ErrorAction Stop |
                ForEach-Object { Resolve-ExternalRecipient -Recipient $_ -State $State; $State.lastRecipientName = [string] $_.Name }
        }
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
    # This partition's mailboxes done (what a resumed enumeration skips: a partition's share, not the tenant), and where a
    # resumed mail user / contact read starts.
    done                    = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
    lastRecipientName       = $null
    resumed                 = New-Object System.Collections.Generic.List[string]
}
Set-ExoDeadline -StartedAtUtc $state.startedAt -Minutes $SoftDeadlineMinutes
$connectionId = ''
$fatal = $null
$allowedDomains = @(Split-ListParameter -Value $AllowedExternalDomains | ForEach-Object { $_.ToLowerInvariant() })
$internalDomains = @()
$relayDomains = @()

try {
    $connectionId = Connect-ExoSession -Organization $Organization -ExchangeEnvironmentName $ExchangeEnvironmentName `
        -ManagedIdentityClientId $ManagedIdentityClientId -CertificateThumbprint $CertificateThumbprint -AppId $AppId `
        -CommandName $ExchangeCommands -RequiredRoleHint $RequiredRoleHint

    try {
        $acceptedDomains = Invoke-ExchangeCall -Step 'Get-AcceptedDomain' -Call { Get-AcceptedDomain -ResultSize Unlimited -ErrorAction Stop }
    }
    catch {
        # The first cmdlet after connecting is where a missing Exchange role shows up as well.
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization -RequiredRoleHint $RequiredRoleHint -Step 'Get-AcceptedDomain' `
                -IdentityKind $(if ($CertificateThumbprint) { 'Certificate' } else { 'ManagedIdentity' }))
    }
    # Only Authoritative domains are internal: InternalRelay domains have recipients outside Exchange Online, and mail to
    # them leaves the tenant.
    $internalDomains = @($acceptedDomains | Where-Object { [string] (Get-PropertyValue $_ 'DomainType') -eq 'Authoritative' } | ForEach-Object {
            [pscustomobject]@{ Name = ([string] $_.DomainName).ToLowerInvariant(); MatchSubDomains = (ConvertTo-Flag -Value (Get-PropertyValue $_ 'MatchSubDomains') -Name 'MatchSubDomains') }
        })
    $relayDomains = @($acceptedDomains | Where-Object { [string] (Get-PropertyValue $_ 'DomainType') -ne 'Authoritative' } |
            ForEach-Object { ([string] $_.DomainName).ToLowerInvariant() })
    if ($internalDomains.Count -eq 0) {
        throw "Get-AcceptedDomain returned no Authoritative domain for '$Organization'; refusing to classify addresses as external."
    }

    if ($PartitionIndex -eq 0) { Read-TenantForwarding -State $state }

    # Beyond the Minimum property set (which already has Name, PrimarySmtpAddress, RecipientTypeDetails, ExternalDirectoryObjectId).
    $mailboxProperties = @('ForwardingSmtpAddress', 'ForwardingAddress', 'DeliverToMailboxAndForward')
    $identities = @(Split-ListParameter -Value $Identity)
    if ($identities.Count -gt 0) {
        foreach ($mailboxIdentity in $identities) {
            Assert-WithinDeadline -Where 'the -Identity list'
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
        Invoke-ResumableRead -Step 'Get-EXOMailbox' -Read {
            param($Pass)
            if ($Pass -gt 0) { $state.resumed.Add('Get-EXOMailbox (re-read; mailboxes already done skipped)') }
            $state.mailboxesSeen = 0
            Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails 'UserMailbox', 'SharedMailbox' -Properties $mailboxProperties -ErrorAction Stop |
                Where-Object {
                    $state.mailboxesSeen++
                    Test-MailboxInPartition -Mailbox $_ -PartitionCount $PartitionCount -PartitionIndex $PartitionIndex
                } |
                ForEach-Object { Invoke-MailboxAudit -Mailbox $_ -State $state }
        }
    }

    # Targets named only by directory name or legacy DN: stream the mail users and mail contacts once (their
    # ExternalEmailAddress is in no Get-EXORecipient property set) and settle every pending look-up.
    if ($state.forwarders.Count -gt 0 -or $state.legacyDnRules.Count -gt 0) {
        foreach ($recipientKind in 'MailUser', 'MailContact') {
            try {
                Read-MailRecipient -Kind $recipientKind -State $state
            }
            catch {
                if ($null -ne (Get-ExoStopReason)) { throw }
                Add-TenantReadFailure -State $state -Step "Get-$recipientKind" -ErrorRecord $_
            }
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
elseif ($null -ne $fatal -or $state.tenantReadFailures -gt 0 -or $state.changeFailures -gt 0) { $status = 'Failed' }
elseif ($state.readFailures -gt 0) {
    $status = 'CompletedWithUnreadMailboxes'
    if (100.0 * $state.readFailures / [math]::Max(1, $state.mailboxesInPartition) -gt $MaxReadFailurePercent) { $status = 'Failed' }
}
$summary = [ordered]@{
    recordType                = 'Summary'
    runbook                   = $RunbookName
    organization              = $Organization
    identity                  = if ($CertificateThumbprint) { "certificate (app $AppId)" } else { 'managed identity' }
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
    resumedReads              = @($state.resumed)
    failures                  = @($state.failures)
    error                     = if ($null -ne $fatal) { Get-ExceptionText -ErrorRecord $fatal } else { $null }
    secondsPerMailbox         = if ($state.mailboxesInPartition -gt 0) { [math]::Round($elapsed / $state.mailboxesInPartition, 3) } else { $null }
    # Jobs that would each stay under two of the sandbox's three hours at this run's measured pace; a lower bound when the run
    # ended early (it had not seen every mailbox).
    recommendedPartitionCount = Get-RecommendedPartitionCount -ElapsedSeconds $elapsed -MailboxesInPartition $state.mailboxesInPartition `
        -MailboxesSeen $state.mailboxesSeen
    recommendedPartitionCountIsMinimum = ($null -ne $fatal)
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
