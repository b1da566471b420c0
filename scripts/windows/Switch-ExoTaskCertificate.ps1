#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Rotation step 2 on a host: point scheduled tasks at the new certificate after testing it.

.DESCRIPTION
    The stack adds the new certificate credential to the app before it removes the old one, so a host rotates in
    this order (docs/certificate-handover.md):
      1. install the new certificate next to the old one (Install-ExoCertificate.ps1);
      2. switch the tasks to the new thumbprint (this script), which first proves the new certificate connects;
      3. the next `pulumi up` removes the old credential from the app; after that remove the old certificate
         (-RemoveOldCertificate, or Install-ExoCertificate.ps1 removes it once it has expired).

    The script rewrites the -CertificateThumbprint argument of every action of the given scheduled tasks that
    runs Invoke-ExoScheduledTask.ps1. Tasks that store a password need -TaskCredential to be saved again;
    tasks running as a gMSA, SYSTEM or S4U do not.

.PARAMETER TaskName
    Scheduled tasks to switch.

.PARAMETER TaskPath
    Their folder in Task Scheduler (default: the root, '\').

.PARAMETER NewThumbprint
    The new certificate, already installed in Cert:\LocalMachine\My.

.PARAMETER AppId
    identities.<name>.clientId, for the test connection.

.PARAMETER Organization
    identities.<name>.organization, for the test connection.

.PARAMETER ExchangeEnvironmentName
    identities.<name>.exchangeEnvironmentName (default O365Default).

.PARAMETER SkipConnectionTest
    Switch without connecting first (for hosts that cannot reach Exchange Online at this moment).

.PARAMETER RemoveOldCertificate
    Also remove the previous certificates (and keys) the tasks used. Only after `pulumi up` has removed the old
    credential from the app, otherwise a rollback has nothing to go back to.

.EXAMPLE
    .\Switch-ExoTaskCertificate.ps1 -TaskName 'EXO quotas','EXO reports' -NewThumbprint 89AB... `
        -AppId 11111111-2222-3333-4444-555555555555 -Organization contoso.onmicrosoft.com
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [string[]] $TaskName,

    [string] $TaskPath = '\',

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9A-Fa-f]{40}$')]
    [string] $NewThumbprint,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,

    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',

    [pscredential] $TaskCredential,

    [switch] $SkipConnectionTest,

    [switch] $RemoveOldCertificate
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$NewThumbprint = $NewThumbprint.ToUpperInvariant()
$thumbprintArgument = '(-CertificateThumbprint\s+)([''"]?)([0-9A-Fa-f]{40})([''"]?)'
$newPath = "Cert:\LocalMachine\My\$NewThumbprint"

if (-not (Test-Path -LiteralPath $newPath)) {
    throw "Certificate $NewThumbprint is not in Cert:\LocalMachine\My; install it first with Install-ExoCertificate.ps1."
}
$newCertificate = Get-Item -LiteralPath $newPath
if ($newCertificate.NotAfter -lt (Get-Date)) {
    throw "Certificate $NewThumbprint has expired ($($newCertificate.NotAfter.ToString('u')))."
}

if (-not $SkipConnectionTest) {
    # Proves the app accepts the new credential before any task depends on it, with the connection the tasks make
    # (ExoCommon.psm1: transient errors retried, a refusal explained); only this test's connection is closed afterwards, never
    # the administrator's other sessions.
    try {
        Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCommon.psm1') -Force -ErrorAction Stop
    }
    catch {
        throw "ExoCommon.psm1 must sit next to this script: $($_.Exception.Message)"
    }
    Import-ExoManagementModule
    $connectionId = ''
    try {
        $connectionId = Connect-ExoSession -Certificate $newCertificate -AppId $AppId -Organization $Organization `
            -ExchangeEnvironmentName $ExchangeEnvironmentName -RequiredRoleHint "the Exchange role the app's identity was given"
        $states = @(Get-ConnectionInformation -ErrorAction Stop | Where-Object { $connectionId -and $_.ConnectionId -eq $connectionId } |
                ForEach-Object { $_.State })
        if ($states -notcontains 'Connected') {
            throw 'the connection this test made is not in a Connected state'
        }
        Write-Verbose "Test connection as app $AppId to $Organization succeeded."
    }
    catch {
        throw "The new certificate $NewThumbprint does not connect yet ($($_.Exception.Message)). Has pulumi up registered it on the app? Nothing was switched."
    }
    finally {
        Disconnect-ExoSession -ConnectionId $connectionId
    }
}

$previous = New-Object -TypeName System.Collections.Generic.HashSet[string]
foreach ($name in $TaskName) {
    $task = Get-ScheduledTask -TaskName $name -TaskPath $TaskPath
    $changed = $false
    foreach ($action in $task.Actions) {
        if (-not $action.Arguments -or $action.Arguments -notmatch 'Invoke-ExoScheduledTask\.ps1') {
            continue
        }
        $match = [regex]::Match($action.Arguments, $thumbprintArgument)
        if (-not $match.Success) {
            Write-Warning "Task '$name' runs Invoke-ExoScheduledTask.ps1 without -CertificateThumbprint; left unchanged."
            continue
        }
        $old = $match.Groups[3].Value.ToUpperInvariant()
        if ($old -eq $NewThumbprint) {
            continue
        }
        [void] $previous.Add($old)
        $action.Arguments = [regex]::Replace($action.Arguments, $thumbprintArgument, ('${1}${2}' + $NewThumbprint + '${4}'))
        $changed = $true
    }
    if (-not $changed) {
        Write-Verbose "Task '$name' already uses $NewThumbprint or has no Invoke-ExoScheduledTask.ps1 action."
        continue
    }
    if ($PSCmdlet.ShouldProcess("$TaskPath$name", "Use certificate $NewThumbprint")) {
        if ($TaskCredential) {
            $plain = $TaskCredential.GetNetworkCredential().Password
            try {
                $null = Set-ScheduledTask -InputObject $task -User $TaskCredential.UserName -Password $plain
            }
            finally {
                $plain = $null
            }
        }
        else {
            $null = Set-ScheduledTask -InputObject $task
        }
        Write-Output "Task '$TaskPath$name' now uses $NewThumbprint."
    }
}

foreach ($old in $previous) {
    if ($RemoveOldCertificate) {
        $oldPath = "Cert:\LocalMachine\My\$old"
        if ((Test-Path -LiteralPath $oldPath) -and $PSCmdlet.ShouldProcess($oldPath, 'Remove the previous certificate and its key')) {
            Remove-Item -LiteralPath $oldPath -DeleteKey
            Write-Output "Removed the previous certificate $old."
        }
    }
    else {
        Write-Output "Previous certificate $old stays installed for rollback. After the next pulumi up has removed it from the app, run again with -RemoveOldCertificate or remove Cert:\LocalMachine\My\$old with -DeleteKey."
    }
}
