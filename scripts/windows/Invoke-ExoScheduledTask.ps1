#Requires -Version 5.1
<#
.SYNOPSIS
    Runs an Exchange Online script unattended: connect with the app's certificate, run, disconnect, log.

.DESCRIPTION
    For scheduled tasks and Hybrid Runbook Worker jobs. The values come from the stack outputs of exo-automation:
    identities.<name>.thumbprint, .clientId, .organization and .exchangeEnvironmentName.

    The certificate is looked up in Cert:\CurrentUser\My and then Cert:\LocalMachine\My (where
    Install-ExoCertificate.ps1 puts it). From the user store the script connects with -CertificateThumbprint. Microsoft
    documents that form for the user store only, so a machine-store certificate is passed as the same certificate
    object with -Certificate instead.

    Before connecting, the script checks that the certificate is there, unexpired, has a private key, and that this
    account can read it: the usual reasons an unattended job fails.

    Exit codes: 0 success; 1 the task script failed; 2 connecting failed; 3 certificate problem; 4 setup problem
    (module missing, bad arguments, a log folder that cannot be locked down). The script ends with an explicit exit and
    keeps everything else off the pipeline, so nothing Disconnect-ExchangeOnline or the task script writes can become
    the exit code.

    The log folder holds mailbox data (the transcript records what the task script prints). Before writing to it the
    script turns inheritance off and leaves only SYSTEM, Administrators and the task's own account on it (files in it
    inherit that); when that fails it exits 4 rather than log where local users might read.

.PARAMETER ScriptPath
    The script to run once connected. It runs in this session and can use the Exchange Online cmdlets.

.PARAMETER ScriptParametersJson
    Parameters for that script as one JSON object, for example '{"Identity":"ann@contoso.com","WhatIf":true}'. A
    scheduled task's powershell.exe -File passes every argument as a literal string, so this (or -ScriptParametersFile)
    is how a task action passes parameters.

.PARAMETER ScriptParametersFile
    Parameters for that script in a .psd1 data file (one hashtable), read with Import-PowerShellDataFile.

.PARAMETER ScriptParameters
    Parameters as a hashtable, for callers in the same session (a Hybrid Worker runbook using &). Not usable from a
    task action: -File cannot pass a hashtable.

.PARAMETER CertificateThumbprint
    identities.<name>.thumbprint from the stack outputs.

.PARAMETER AppId
    identities.<name>.clientId from the stack outputs.

.PARAMETER Organization
    identities.<name>.organization: the initial *.onmicrosoft.com domain (not a GUID, not a vanity domain).

.PARAMETER ExchangeEnvironmentName
    identities.<name>.exchangeEnvironmentName; O365Default unless the tenant is in a sovereign cloud.

.PARAMETER LogDirectory
    Where the run log goes. One file per run; files older than LogRetentionDays are deleted.

.EXAMPLE
    powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File C:\ExoAutomation\Invoke-ExoScheduledTask.ps1 `
        -ScriptPath C:\ExoAutomation\Tasks\Set-MailboxQuotas.ps1 -CertificateThumbprint 0123... `
        -AppId 11111111-2222-3333-4444-555555555555 -Organization contoso.onmicrosoft.com `
        -ScriptParametersFile C:\ExoAutomation\Tasks\Set-MailboxQuotas.psd1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $ScriptPath,

    [string] $ScriptParametersJson = '',

    [string] $ScriptParametersFile = '',

    [hashtable] $ScriptParameters = @{},

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9A-Fa-f]{40}$')]
    [string] $CertificateThumbprint,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,

    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',

    [string] $LogDirectory = (Join-Path -Path $env:ProgramData -ChildPath 'ExoAutomation\Logs'),

    [ValidateRange(1, 3650)]
    [int] $LogRetentionDays = 30,

    [ValidateRange(0, 365)]
    [int] $WarnDays = 30
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ExitSuccess = 0
$ExitTaskFailed = 1
$ExitConnectFailed = 2
$ExitCertificateProblem = 3
$ExitSetupProblem = 4

$taskName = [System.IO.Path]::GetFileNameWithoutExtension($ScriptPath)
$script:LogFile = $null
$script:ExitCode = $ExitSetupProblem
# Well-known SIDs, the same in every language of Windows: LocalSystem and BUILTIN\Administrators.
$LocalSystemSid = 'S-1-5-18'
$AdministratorsSid = 'S-1-5-32-544'

function Write-Log {
    <# A timestamped line in the run log and on the host (Task Scheduler and job output). #>
    param([string] $Message, [ValidateSet('INFO', 'WARN', 'ERROR')] [string] $Level = 'INFO')
    $line = '{0} {1,-5} {2}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'), $Level, $Message
    if ($script:LogFile) {
        Add-Content -LiteralPath $script:LogFile -Value $line -Encoding UTF8
    }
    Write-Host $line
}

function Resolve-TaskParameters {
    <# The task script's parameters as a hashtable, from at most one of -ScriptParametersJson, -ScriptParametersFile, -ScriptParameters. #>
    $given = @(@($ScriptParametersJson, $ScriptParametersFile) | Where-Object { $_ }).Count + [int] ($ScriptParameters.Count -gt 0)
    if ($given -gt 1) {
        throw 'Give the task script parameters one way only: -ScriptParametersJson, -ScriptParametersFile or -ScriptParameters.'
    }
    if ($ScriptParametersFile) {
        if ([System.IO.Path]::GetExtension($ScriptParametersFile) -ne '.psd1' -or -not (Test-Path -LiteralPath $ScriptParametersFile -PathType Leaf)) {
            throw "-ScriptParametersFile must be an existing .psd1 file: $ScriptParametersFile"
        }
        # A data file: only literals, no code runs (Import-PowerShellDataFile).
        return Import-PowerShellDataFile -LiteralPath $ScriptParametersFile
    }
    if ($ScriptParametersJson) {
        $parsed = ConvertFrom-Json -InputObject $ScriptParametersJson
        if ($parsed -isnot [System.Management.Automation.PSCustomObject]) {
            throw '-ScriptParametersJson must be one JSON object, for example {"Identity":"ann@contoso.com"}.'
        }
        # Windows PowerShell 5.1 has no ConvertFrom-Json -AsHashtable: copy the top-level properties.
        $table = @{}
        foreach ($property in $parsed.PSObject.Properties) {
            $table[$property.Name] = $property.Value
        }
        return $table
    }
    return $ScriptParameters
}

function Protect-LogDirectory {
    <# Inheritance off; full control for SYSTEM, Administrators and the account running the task; nobody else. #>
    param([string] $Path)
    $inherit = [System.Security.AccessControl.InheritanceFlags] 'ContainerInherit, ObjectInherit'
    $propagation = [System.Security.AccessControl.PropagationFlags]::None
    $allow = [System.Security.AccessControl.AccessControlType]::Allow
    $full = [System.Security.AccessControl.FileSystemRights]::FullControl
    $acl = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    # Protected, and the inherited entries (Users: read under %ProgramData%) are not copied in.
    $acl.SetAccessRuleProtection($true, $false)
    $taskAccount = [Security.Principal.WindowsIdentity]::GetCurrent().User
    foreach ($sid in @((New-Object -TypeName Security.Principal.SecurityIdentifier -ArgumentList $LocalSystemSid),
            (New-Object -TypeName Security.Principal.SecurityIdentifier -ArgumentList $AdministratorsSid), $taskAccount)) {
        $acl.AddAccessRule((New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $sid, $full, $inherit, $propagation, $allow))
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
}

function Invoke-Task {
    <# Checks, connects, runs the task script, disconnects; returns the exit code. Output goes to the host. #>
    try {
        $taskParameters = Resolve-TaskParameters
    }
    catch {
        Write-Log -Level ERROR -Message "Task script parameters: $($_.Exception.Message)"
        return $ExitSetupProblem
    }
    if (-not (Test-Path -LiteralPath $ScriptPath -PathType Leaf)) {
        Write-Log -Level ERROR -Message "Task script $ScriptPath does not exist."
        return $ExitSetupProblem
    }
    try {
        Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1') -Force -ErrorAction Stop
        # The certificate look-up, module import and connection the runbooks use on hybrid workers too (one copy: ExoCommon.psm1).
        Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCommon.psm1') -Force -ErrorAction Stop
    }
    catch {
        Write-Log -Level ERROR -Message "ExoCertificate.psm1 and ExoCommon.psm1 must sit next to this script: $($_.Exception.Message)"
        return $ExitSetupProblem
    }

    $found = Find-ExoCertificate -Thumbprint $CertificateThumbprint
    if (-not $found) {
        Write-Log -Level ERROR -Message "Certificate $CertificateThumbprint is in neither Cert:\CurrentUser\My nor Cert:\LocalMachine\My. Install it with Install-ExoCertificate.ps1."
        return $ExitCertificateProblem
    }
    $certificate = $found.Certificate
    $now = Get-Date
    $daysLeft = [math]::Floor(($certificate.NotAfter - $now).TotalDays)
    if ($certificate.NotAfter -lt $now -or $certificate.NotBefore -gt $now) {
        Write-Log -Level ERROR -Message "Certificate $CertificateThumbprint is outside its validity ($($certificate.NotBefore.ToString('u')) to $($certificate.NotAfter.ToString('u'))). Rotate it: see docs/certificate-handover.md."
        return $ExitCertificateProblem
    }
    $where = "Certificate $CertificateThumbprint ($($found.Location)\My)"
    $key = Get-ExoKeyProvider -Certificate $certificate
    if (-not $key) {
        Write-Log -Level ERROR -Message "$where has no private key. Install it from the PFX with Install-ExoCertificate.ps1."
        return $ExitCertificateProblem
    }
    if ($key.IsCng) {
        Write-Log -Level ERROR -Message "$where has its key in the CNG provider '$($key.ProviderName)'; Exchange Online needs a CSP key. Re-install it with Install-ExoCertificate.ps1."
        return $ExitCertificateProblem
    }
    $signingProblem = Test-ExoKeySigning -Certificate $certificate
    if ($signingProblem) {
        $account = [Security.Principal.WindowsIdentity]::GetCurrent().Name
        Write-Log -Level ERROR -Message "$where`: $account cannot sign with the private key ($signingProblem). Run Install-ExoCertificate.ps1 -TaskAccount '$account' to grant it read access."
        return $ExitCertificateProblem
    }
    if ($daysLeft -lt $WarnDays) {
        Write-Log -Level WARN -Message "Certificate $CertificateThumbprint expires in $daysLeft days ($($certificate.NotAfter.ToString('u'))); rotate it soon."
    }

    try {
        Import-ExoManagementModule
    }
    catch {
        Write-Log -Level ERROR -Message $_.Exception.Message
        return $ExitSetupProblem
    }

    # The connection the runbooks make on hybrid workers too (ExoCommon.psm1): the same store look-up, transient errors retried,
    # refusals turned into the fix to make; the whole module with its format data, since the task script's cmdlets are unknown.
    try {
        $connectionId = Connect-ExoSession -CertificateThumbprint $CertificateThumbprint -AppId $AppId -Organization $Organization `
            -ExchangeEnvironmentName $ExchangeEnvironmentName -RequiredRoleHint "the Exchange role the app's identity was given"
    }
    catch {
        Write-Log -Level ERROR -Message "Connect-ExchangeOnline failed: $($_.Exception.Message)"
        return $ExitConnectFailed
    }
    Write-Log "Connected with certificate $CertificateThumbprint from $($found.Location)\My (expires in $daysLeft days)."

    try {
        $global:LASTEXITCODE = 0
        & $ScriptPath @taskParameters | Out-Host
        if ($LASTEXITCODE) {
            throw "the script exited with code $LASTEXITCODE"
        }
        Write-Log "Task script $ScriptPath finished."
        return $ExitSuccess
    }
    catch {
        Write-Log -Level ERROR -Message "Task script $ScriptPath failed: $($_.Exception.Message)"
        if ($_.InvocationInfo) {
            Write-Log -Level ERROR -Message $_.InvocationInfo.PositionMessage
        }
        return $ExitTaskFailed
    }
    finally {
        # Only this task's connection; a failure to disconnect is a warning and never changes the exit code.
        if ($connectionId) {
            Disconnect-ExoSession -ConnectionId $connectionId
            Write-Log "Disconnected $connectionId."
        }
        else {
            Write-Log -Level WARN -Message "This task's Exchange connection could not be told apart from others; it ends with the process."
        }
    }
}

$transcribing = $false
try {
    New-Item -ItemType Directory -Path $LogDirectory -Force | Out-Null
    Protect-LogDirectory -Path $LogDirectory
}
catch {
    Write-Log -Level ERROR -Message "Cannot lock down the log folder $LogDirectory to SYSTEM, Administrators and this account ($($_.Exception.Message)); not running, so mailbox data is not logged where others can read it."
    exit $ExitSetupProblem
}
try {
    $script:LogFile = Join-Path -Path $LogDirectory -ChildPath ('{0}-{1}.log' -f $taskName, (Get-Date).ToUniversalTime().ToString('yyyyMMdd-HHmmss'))
    Get-ChildItem -LiteralPath $LogDirectory -Filter '*.log*' |
        Where-Object { $_.LastWriteTime -lt (Get-Date).AddDays(-$LogRetentionDays) } |
        Remove-Item -Force
    # The transcript also records what the task script itself prints.
    Start-Transcript -LiteralPath ($script:LogFile + '.transcript') -Append | Out-Null
    $transcribing = $true
}
catch {
    Write-Log -Level WARN -Message "Logging to $LogDirectory is not available: $($_.Exception.Message)"
}

try {
    Write-Log "Task $taskName as $([Security.Principal.WindowsIdentity]::GetCurrent().Name) on $env:COMPUTERNAME; app $AppId in $Organization ($ExchangeEnvironmentName)."
    # Only integers from Invoke-Task count; anything else a command let slip into its output is ignored, and the first
    # code it returned wins over later output (a finally block runs after the return statement).
    $codes = @(Invoke-Task | Where-Object { $_ -is [int] })
    $script:ExitCode = if ($codes.Count -gt 0) { [int] $codes[0] } else { $ExitSetupProblem }
}
catch {
    Write-Log -Level ERROR -Message "Unexpected failure: $($_.Exception.Message)"
    $script:ExitCode = $ExitSetupProblem
}
finally {
    Write-Log "Exit code $($script:ExitCode)."
    if ($transcribing) {
        Stop-Transcript | Out-Null
    }
}
exit $script:ExitCode
