#Requires -Version 5.1
<#
    exo-automation's Exchange Online helpers, kept once: connecting (managed identity or certificate), retrying transient
    Exchange errors, a tenant-sized read that survives one late error, the soft deadline, typed flags, records, partitions.

    Two ways in, one text:
      - Windows hosts import it next to the scripts in scripts/windows (Import-Module .\ExoCommon.psm1);
      - Azure Automation gets it inside each runbook: the program publishes every runbook as its param() block, then this
        file, then the runbook's body, hashed as one text (exo/runbook_assembly.py). So no module package is imported.
    Either way the functions see only their parameters and this file's own $script: variables (a module cannot read its
    caller's variables), and there is no Export-ModuleMember (a runbook is a script, where that cmdlet fails).
#>

Set-StrictMode -Version Latest

# Errors worth another attempt. The module has already retried when one reaches the script (FACTS: the REST module retries
# itself). Documented or reported by Microsoft: HTTP 429 (Too Many Requests) and 503 (Server Busy / Service Unavailable)
# from the REST endpoint; "HttpStatusCode=500 ... Microsoft.Exchange.Data.Directory.ADTransientException" (Active Directory
# not reachable behind Exchange, office-docs-powershell issue #10972); Exchange's own throttling wording ("Micro delay
# applied", Microsoft KB 2881759; budget exceeded; "try again later"). Anything else is thrown at once.
$script:ExoTransientPattern = '(?i)\b429\b|Too ?Many ?Requests|\b503\b|Server ?Busy|Service ?Unavailable|ADTransientException|' +
'throttl|Micro ?delay|budget.{0,20}exceed|try again later'
# Back-off 5, 10, 20, 40, 80, 160, 300 s (plus jitter): eight attempts reach the 300 s cap, about 10 minutes of waiting in all.
$script:ExoMaxAttempts = 8
$script:ExoFirstDelaySeconds = 5
$script:ExoMaxDelaySeconds = 300
# A run of consecutive failed mailbox reads this long is a systemic problem (a missing role, a revoked grant): stop early.
$script:ExoMaxConsecutiveReadFailures = 25
# The soft deadline (Set-ExoDeadline) and whether the run must stop (deadline passed, systemic failures): a resumable read
# never restarts after either.
$script:ExoDeadlineUtc = [datetime]::MaxValue
$script:ExoStopReason = $null

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

function Test-TransientExchangeError {
    param([System.Management.Automation.ErrorRecord] $ErrorRecord)
    return ((Get-ExceptionText -ErrorRecord $ErrorRecord) -match $script:ExoTransientPattern)
}

function Get-ExchangeRetryDelay {
    # Seconds to wait before attempt $Attempt + 1: doubling from ExoFirstDelaySeconds up to the cap, plus up to a second of jitter;
    # a Retry-After hint in the error wins when it is longer (never beyond the cap).
    param([int] $Attempt, [string] $ErrorText = '')
    $delay = [math]::Min($script:ExoMaxDelaySeconds, $script:ExoFirstDelaySeconds * [math]::Pow(2, $Attempt - 1))
    if ($ErrorText -match '(?i)retry.?after\D{0,10}(\d+)') {
        $delay = [math]::Min($script:ExoMaxDelaySeconds, [math]::Max($delay, [int] $Matches[1]))
    }
    return [int] [math]::Ceiling($delay + (Get-Random -Minimum 0 -Maximum 1000) / 1000)
}

function Set-ExoDeadline {
    # The soft deadline: long loops call Assert-WithinDeadline, and no back-off sleeps past it. Minutes 0: none (hybrid workers
    # have no fair-share limit).
    param([datetime] $StartedAtUtc, [int] $Minutes)
    $script:ExoStopReason = $null
    if ($Minutes -le 0) { $script:ExoDeadlineUtc = [datetime]::MaxValue }
    else { $script:ExoDeadlineUtc = $StartedAtUtc.AddMinutes($Minutes) }
}

function Stop-ExoRun {
    # Marks the run as ending (deadline, systemic failures) and throws: a resumable read rethrows instead of restarting.
    param([string] $Reason)
    $script:ExoStopReason = $Reason
    throw $Reason
}

function Get-ExoStopReason {
    return $script:ExoStopReason
}

function Assert-WithinDeadline {
    # Called once per item of every long loop: past the soft deadline the run stops, so that it still writes its summary and
    # fails, instead of being Stopped by the sandbox at three hours with no summary.
    param([string] $Where)
    if ([datetime]::UtcNow -ge $script:ExoDeadlineUtc) {
        Stop-ExoRun -Reason ("soft deadline $($script:ExoDeadlineUtc.ToString('o')) reached during $Where; the job stopped before the " +
            "sandbox's 3-hour fair-share limit would. Raise partitions to the summary's recommendedPartitionCount.")
    }
}

function Invoke-ExchangeCall {
    # Runs one Exchange call (the script block passes -ErrorAction Stop itself) and retries transient errors with back-off.
    # Any other error is thrown at once, and so is a transient one whose wait would end past the soft deadline.
    param([Parameter(Mandatory)] [scriptblock] $Call, [Parameter(Mandatory)] [string] $Step)
    for ($attempt = 1; ; $attempt++) {
        try {
            # @(): the caller gets an array, even of one or no result.
            return , @(& $Call)
        }
        catch {
            if ($attempt -ge $script:ExoMaxAttempts -or -not (Test-TransientExchangeError -ErrorRecord $_)) { throw }
            $delay = Get-ExchangeRetryDelay -Attempt $attempt -ErrorText (Get-ExceptionText -ErrorRecord $_)
            if ([datetime]::UtcNow.AddSeconds($delay) -ge $script:ExoDeadlineUtc) { throw }
            Write-Warning "$Step failed transiently (attempt $attempt of $($script:ExoMaxAttempts)); waiting $delay s."
            Start-Sleep -Seconds $delay
        }
    }
}

function Invoke-ResumableRead {
    # A tenant-sized streamed read (its pipeline runs inside $Read) that survives one late error: it runs $Read again with
    # $Pass = 1, and $Read resumes where its documented order allows, or re-reads and skips what was already written. The run's
    # own stops (deadline, systemic failures) and a second error end it.
    param([Parameter(Mandatory)] [string] $Step, [Parameter(Mandatory)] [scriptblock] $Read)
    for ($pass = 0; ; $pass++) {
        try {
            & $Read $pass
            return
        }
        catch {
            if ($null -ne $script:ExoStopReason -or $pass -ge 1) { throw }
            $delay = Get-ExchangeRetryDelay -Attempt 3 -ErrorText (Get-ExceptionText -ErrorRecord $_)
            if ([datetime]::UtcNow.AddSeconds($delay) -ge $script:ExoDeadlineUtc) { throw }
            Write-Warning "$Step stopped part-way ($(Get-ExceptionText -ErrorRecord $_)); resuming once after $delay s."
            Start-Sleep -Seconds $delay
        }
    }
}

function ConvertTo-Flag {
    # A permission flag (IsInherited, Deny) as a real [bool]: the REST module may return $true/$false or the strings 'True'/'False',
    # and the string 'False' is truthy. Anything else is an error, never a guess.
    param($Value, [string] $Name)
    if ($Value -is [bool]) { return $Value }
    if ($null -eq $Value) { return $false }
    $text = ([string] $Value).Trim()
    if ($text -eq 'True') { return $true }
    if ($text -eq 'False' -or $text -eq '') { return $false }
    throw "$Name has the unexpected value '$text' (expected True or False)"
}

function Get-ConnectionFailureMessage {
    # Turns the module's errors into the fix an administrator needs to make, for the identity that signed in.
    param(
        [System.Management.Automation.ErrorRecord] $ErrorRecord,
        [string] $Organization,
        [string] $RequiredRoleHint,
        [string] $Step = 'Connect-ExchangeOnline',
        [ValidateSet('ManagedIdentity', 'Certificate')] [string] $IdentityKind = 'ManagedIdentity'
    )
    $text = Get-ExceptionText -ErrorRecord $ErrorRecord
    $identity = if ($IdentityKind -eq 'Certificate') { "the app registration's service principal (-AppId)" } else { "the managed identity's service principal" }
    if ($text -match "(isn.t|is not) supported in this scenario") {
        return ("Exchange Online refused the identity's role: '$text'. The identity holds Exchange.ManageAsApp but no Entra role " +
            "that Exchange Online accepts for app-only access. Assign $RequiredRoleHint to $identity, wait for the assignment " +
            "to replicate (it can take up to an hour), and run the job again.")
    }
    if ($text -match 'cannot be a Guid') {
        return "-Organization must be the initial *.onmicrosoft.com domain, not the tenant id ('$Organization'): $text"
    }
    if ($text -match 'Unauthori[sz]ed|\b(401|403)\b|Forbidden|AADSTS|AccessDenied|access denied') {
        return ("Exchange Online refused '$Step' for organization '$Organization': '$text'. Check that $identity holds the " +
            "Exchange.ManageAsApp app role on the 'Office 365 Exchange Online' service principal of this tenant, that " +
            "-Organization is the tenant's initial onmicrosoft domain, and that it holds $RequiredRoleHint.")
    }
    if ($IdentityKind -eq 'ManagedIdentity' -and $text -match 'managed identity|ManagedIdentity|IDENTITY_ENDPOINT|\bMSI\b') {
        return ("No managed identity token could be obtained: '$text'. Enable the system-assigned identity on the " +
            "Automation account (or pass -ManagedIdentityClientId of a user-assigned identity attached to it). On a hybrid " +
            "worker outside Azure there is no managed identity: give the runbook -CertificateThumbprint and -AppId.")
    }
    return "$Step failed for organization '$Organization': $text"
}

function Find-ExoCertificate {
    # The certificate and the store it was found in, user store first: Cert:\CurrentUser\My, then Cert:\LocalMachine\My (where
    # Install-ExoCertificate.ps1 and New-ExoHostCertificate.ps1 put it). $null when in neither.
    param([Parameter(Mandatory)] [string] $Thumbprint)
    foreach ($location in 'CurrentUser', 'LocalMachine') {
        $path = "Cert:\$location\My\$Thumbprint"
        if (Test-Path -LiteralPath $path) {
            return [pscustomobject]@{ Certificate = Get-Item -LiteralPath $path; Location = $location }
        }
    }
    return $null
}

function Get-ExoConnectionId {
    # The ConnectionId of every Exchange connection this process holds (Get-ConnectionInformation, module 3.0.0+); none when
    # it cannot be read, so that nothing is ever disconnected on a guess.
    try {
        $connections = @(Get-ConnectionInformation -ErrorAction Stop)
    }
    catch {
        return
    }
    foreach ($connection in $connections) {
        $id = [string] (Get-PropertyValue $connection 'ConnectionId')
        if ($id) { $id }
    }
}

function Import-ExoManagementModule {
    # Windows hosts: the module must be installed for the account the script runs as. (Automation loads it for runbooks.)
    try {
        Import-Module -Name ExchangeOnlineManagement -MinimumVersion 3.0.0 -ErrorAction Stop
    }
    catch {
        throw ("ExchangeOnlineManagement 3.0.0 or later is not available to this account: $($_.Exception.Message). Install it with " +
            'Install-Module ExchangeOnlineManagement -Scope AllUsers.')
    }
}

function Connect-ExoSession {
    # Connects once and returns the ConnectionId of the connection it made ('' when it cannot tell it apart), for
    # Disconnect-ExoSession. The identity: a certificate object (-Certificate, used as given: an in-memory key), else the
    # certificate of an app registration by thumbprint (hybrid workers, Windows hosts), else the managed identity (Automation
    # sandboxes, Azure VMs). -CommandName loads only the cmdlets the caller uses, without format data (less memory in a sandbox
    # shared with other jobs); without it a certificate connection loads the whole module with its format data, for a task
    # script or an administrator whose cmdlets the caller cannot know.
    param(
        [Parameter(Mandatory)] [string] $Organization,
        [string] $ExchangeEnvironmentName = 'O365Default',
        [string] $ManagedIdentityClientId = '',
        # One thumbprint or several, comma-separated (current first).
        [string] $CertificateThumbprint = '',
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate = $null,
        [string] $AppId = '',
        [string[]] $CommandName = @(),
        [string] $RequiredRoleHint = 'a supported Entra role'
    )
    if (-not (Get-Command -Name Connect-ExchangeOnline -ErrorAction SilentlyContinue)) {
        throw ('The ExchangeOnlineManagement module is not available to this job. Import it into the runtime environment ' +
            '(PowerShell 7.4: package) or the account (5.1/7.2: module), or install it on the hybrid worker or Windows host, and ' +
            'make sure the import finished before the job runs.')
    }
    $kind = if ($CertificateThumbprint -or $null -ne $Certificate) { 'Certificate' } else { 'ManagedIdentity' }
    $fullSession = @($CommandName).Count -eq 0
    if ($kind -eq 'ManagedIdentity' -and $fullSession) {
        throw 'A managed identity connection is for runbooks, which name the cmdlets they use: pass -CommandName.'
    }
    $found = $null
    if ($kind -eq 'Certificate') {
        if ($AppId -notmatch '^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$') {
            throw "-AppId '$AppId' is not an application (client) id; a certificate connection needs the app registration's client id."
        }
        if ($null -ne $Certificate) {
            $found = [pscustomobject]@{ Certificate = $Certificate; Location = 'Given' }
        }
        else {
            # Current certificate first, the previous one during a rotation: the first this worker holds is used.
            foreach ($thumbprint in @(Split-ListParameter -Value $CertificateThumbprint)) {
                $found = Find-ExoCertificate -Thumbprint $thumbprint
                if ($null -ne $found) {
                    $CertificateThumbprint = $thumbprint
                    break
                }
            }
        }
        if ($null -eq $found) {
            throw ("No certificate $CertificateThumbprint is in Cert:\CurrentUser\My or Cert:\LocalMachine\My of the account this " +
                'job runs as. Install it with scripts/windows/Install-ExoCertificate.ps1 or New-ExoHostCertificate.ps1 (docs/certificate-handover.md).')
        }
    }
    # Connections other jobs of this process may hold: never ours to disconnect.
    $before = @(Get-ExoConnectionId)
    try {
        $null = Invoke-ExchangeCall -Step 'Connect-ExchangeOnline' -Call {
            if ($kind -eq 'Certificate' -and $found.Location -eq 'CurrentUser') {
                # -CertificateThumbprint reads the current user's store only (Connect-ExchangeOnline.md; Windows only).
                if ($fullSession) {
                    Connect-ExchangeOnline -CertificateThumbprint $CertificateThumbprint -AppId $AppId -Organization $Organization `
                        -ExchangeEnvironmentName $ExchangeEnvironmentName -ShowBanner:$false -ErrorAction Stop
                }
                else {
                    Connect-ExchangeOnline -CertificateThumbprint $CertificateThumbprint -AppId $AppId -Organization $Organization `
                        -ExchangeEnvironmentName $ExchangeEnvironmentName -CommandName $CommandName -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
                }
            }
            elseif ($kind -eq 'Certificate') {
                # A machine-store or in-memory certificate is passed as the object itself.
                if ($fullSession) {
                    Connect-ExchangeOnline -Certificate $found.Certificate -AppId $AppId -Organization $Organization `
                        -ExchangeEnvironmentName $ExchangeEnvironmentName -ShowBanner:$false -ErrorAction Stop
                }
                else {
                    Connect-ExchangeOnline -Certificate $found.Certificate -AppId $AppId -Organization $Organization `
                        -ExchangeEnvironmentName $ExchangeEnvironmentName -CommandName $CommandName -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
                }
            }
            elseif ($ManagedIdentityClientId) {
                Connect-ExchangeOnline -ManagedIdentity -ManagedIdentityAccountId $ManagedIdentityClientId -Organization $Organization `
                    -ExchangeEnvironmentName $ExchangeEnvironmentName -CommandName $CommandName -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
            }
            else {
                Connect-ExchangeOnline -ManagedIdentity -Organization $Organization `
                    -ExchangeEnvironmentName $ExchangeEnvironmentName -CommandName $CommandName -ShowBanner:$false -SkipLoadingFormatData -ErrorAction Stop
            }
        }
    }
    catch {
        throw (Get-ConnectionFailureMessage -ErrorRecord $_ -Organization $Organization -RequiredRoleHint $RequiredRoleHint -IdentityKind $kind)
    }
    $made = @(Get-ExoConnectionId | Where-Object { $before -notcontains $_ })
    if ($made.Count -ne 1) {
        Write-Warning "Cannot tell this job's Exchange connection apart ($($made.Count) new); it is left for the process to end, not disconnected."
        return ''
    }
    return $made[0]
}

function Disconnect-ExoSession {
    # Disconnects only the connection Connect-ExoSession made: a bare Disconnect-ExchangeOnline would end every connection in
    # the process, other jobs' too ("jobs running in the same sandbox process can affect each other", automation-runbook-execution.md),
    # or an administrator's own sessions on a Windows host. A failed disconnect must never hide the error that ended the job:
    # it is a warning, and its output is discarded. -ConnectionId came in module 3.2.0-Preview2 (Disconnect-ExchangeOnline.md):
    # on an older module the parameter does not bind, which no -ErrorAction turns off, so the call sits in try/catch and the
    # connection is left to the process's end.
    param([string] $ConnectionId)
    if (-not $ConnectionId) { return }
    try {
        $null = Disconnect-ExchangeOnline -ConnectionId $ConnectionId -Confirm:$false -ErrorAction Stop
    }
    catch {
        Write-Warning "Exchange connection $ConnectionId was not disconnected: $(Get-ExceptionText -ErrorRecord $_)"
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
    # Written as it is found, so a job that ends early still leaves what it found.
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
    if ($State.consecutiveReadFailures -ge $script:ExoMaxConsecutiveReadFailures) {
        Stop-ExoRun -Reason "$($State.consecutiveReadFailures) mailbox reads in a row failed (last: $Step on $Mailbox): $($failure.Error)"
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

function Get-RecommendedPartitionCount {
    # Jobs that would each stay within $BudgetSeconds at this run's measured pace. A run that ended early has not seen every
    # mailbox, so the figure is then a lower bound (the summary says so).
    param([double] $ElapsedSeconds, [int] $MailboxesInPartition, [int] $MailboxesSeen, [int] $BudgetSeconds = 7200)
    if ($MailboxesInPartition -le 0) { return $null }
    return [math]::Max(1, [int] [math]::Ceiling($ElapsedSeconds / $MailboxesInPartition * $MailboxesSeen / $BudgetSeconds))
}
