#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Installs the exo-automation certificate for scheduled tasks and Hybrid Runbook Workers.

.DESCRIPTION
    Imports a PFX written by `python -m certtool export` (or any PFX) into Cert:\LocalMachine\My so that:
      - the private key lives in a CSP key provider, not a CNG key storage provider: Exchange Online app-only
        authentication does not support CNG keys;
      - the private key is not exportable;
      - the account the task runs as can read the private key (and nobody else gains access);
    then removes expired certificates with the same subject and prints the thumbprint.

    Import methods:
      DotNet   (default) X509Certificate2 with MachineKeySet and PersistKeySet. .NET does not ask Windows to prefer
               CNG for persisted keys, so Windows uses the provider named in the PFX key bag ("Microsoft CSP Name"
               attribute, which certtool writes) or, without one, the default RSA CSP.
      CertUtil certutil -importPFX -csp forces the CSP provider whatever the PFX says: use it for PFX files from
               other tools. certutil takes the password on its command line, where process-creation auditing
               (event 4688 with command lines) can record it.
    Either way the script then checks that the key is in a CSP and not exportable, and undoes the import if not.

    Re-running the script with the same PFX is safe: an installed certificate with a CSP key is kept and only the
    key permissions are (re)applied.

.PARAMETER PfxPath
    The PFX file to import.

.PARAMETER TaskAccount
    The account that runs the scheduled task or the Hybrid Runbook Worker jobs: DOMAIN\user, a group managed service
    account (DOMAIN\name$) or NT AUTHORITY\SYSTEM. It gets read access to the private key.

.PARAMETER Password
    The PFX password. Prompted for when omitted. Never pass it as plain text.

.PARAMETER ExpectedThumbprint
    The thumbprint from the stack outputs (identities.<name>.thumbprint). The import is refused when the PFX holds a
    different certificate.

.PARAMETER ImportMethod
    DotNet (default) or CertUtil, see the description.

.EXAMPLE
    .\Install-ExoCertificate.ps1 -PfxPath C:\Temp\exo.pfx -TaskAccount 'CONTOSO\gmsa-exo$' -ExpectedThumbprint 0123...

.NOTES
    Exit codes: 0 installed; 1 failed (the message says why). Writes the thumbprint to the pipeline.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string] $PfxPath,

    [Parameter(Mandatory = $true)]
    [string] $TaskAccount,

    [securestring] $Password,

    [ValidatePattern('^[0-9A-Fa-f]{40}$')]
    [string] $ExpectedThumbprint,

    [ValidateSet('DotNet', 'CertUtil')]
    [string] $ImportMethod = 'DotNet'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# PROV_RSA_AES: the CSP that signs with SHA-256, which Entra client assertions need.
$CspName = 'Microsoft Enhanced RSA and AES Cryptographic Provider'
$ProvRsaAes = 24
$StoreLocation = 'Cert:\LocalMachine\My'

Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1') -Force

function Get-PfxThumbprint {
    <# The thumbprint of the PFX's certificate, read without persisting its key. #>
    param([string] $Path, [securestring] $Secret)
    # EphemeralKeySet (.NET Framework 4.7.2+, PowerShell 7) keeps the key off disk; older .NET gets a temporary
    # container that Reset() deletes.
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet
    if ([Enum]::GetNames([System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]) -contains 'EphemeralKeySet') {
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'EphemeralKeySet'
    }
    try {
        $probe = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList $Path, $Secret, $flags
    }
    catch {
        $hint = ''
        if ([Environment]::OSVersion.Version.Build -lt 16299) {
            $hint = ' This Windows version cannot read AES-256 (PBES2) PFX files: export again with `python -m certtool export --encryption tripledes-sha1`.'
        }
        throw "Cannot open $Path (wrong password, or not a PFX): $($_.Exception.Message)$hint"
    }
    try {
        return $probe.Thumbprint
    }
    finally {
        $probe.Reset()
    }
}

if (-not $Password) {
    $Password = Read-Host -Prompt "Password for $PfxPath" -AsSecureString
}

# Resolve the account first: a typo should fail before anything is imported.
$taskSid = Resolve-ExoAccountSid -Account $TaskAccount

$thumbprint = Get-PfxThumbprint -Path $PfxPath -Secret $Password
if ($ExpectedThumbprint -and $thumbprint -ne $ExpectedThumbprint.ToUpperInvariant()) {
    throw "The PFX holds certificate $thumbprint, not the stack's $($ExpectedThumbprint.ToUpperInvariant()). Export it again from the current stack outputs."
}

$installedPath = Join-Path -Path $StoreLocation -ChildPath $thumbprint
$alreadyInstalled = $false
if (Test-Path -LiteralPath $installedPath) {
    $existing = Get-Item -LiteralPath $installedPath
    $existingKey = Get-ExoKeyProvider -Certificate $existing
    if ($existingKey -and -not $existingKey.IsCng -and $existingKey.MachineKeySet -and $existingKey.KeyFile) {
        $alreadyInstalled = $true
        Write-Verbose "Certificate $thumbprint is already installed with a CSP key; keeping it."
    }
    elseif ($PSCmdlet.ShouldProcess($installedPath, 'Replace the certificate that has no usable CSP key')) {
        Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    }
}

if (-not $alreadyInstalled -and $PSCmdlet.ShouldProcess($StoreLocation, "Import $PfxPath with $ImportMethod")) {
    if ($ImportMethod -eq 'CertUtil') {
        $plain = (New-Object -TypeName System.Net.NetworkCredential -ArgumentList '', $Password).Password
        try {
            # certutil's default store is the local machine's; NoExport makes the key non-exportable.
            $output = & certutil.exe -f -p $plain -csp $CspName -importPFX My $PfxPath 'NoExport,AT_KEYEXCHANGE' 2>&1
            if ($LASTEXITCODE -ne 0) {
                throw "certutil -importPFX failed with exit code ${LASTEXITCODE}: $($output -join ' ')"
            }
        }
        finally {
            $plain = $null
        }
    }
    else {
        # No Exportable flag: the key is imported non-exportable. This constructor keeps the PFX's CSP-name
        # attribute; .NET 9's X509CertificateLoader.LoadPkcs12 would drop it by default.
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'MachineKeySet, PersistKeySet'
        $certificate = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList $PfxPath, $Password, $flags
        $store = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'LocalMachine'
        $store.Open('ReadWrite')
        try {
            $store.Add($certificate)
        }
        finally {
            $store.Close()
        }
    }
}

if (-not (Test-Path -LiteralPath $installedPath)) {
    if ($WhatIfPreference) {
        Write-Output $thumbprint
        return
    }
    throw "Certificate $thumbprint is not in $StoreLocation after the import."
}
$installed = Get-Item -LiteralPath $installedPath
$key = Get-ExoKeyProvider -Certificate $installed
if (-not $key) {
    Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    throw 'The certificate was imported without its private key; the import was undone. Is the PFX complete?'
}
if ($key.IsCng) {
    Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    throw "The private key was imported into the CNG key storage provider '$($key.ProviderName)', which Exchange Online does not support. The import was undone; run again with -ImportMethod CertUtil to force the CSP '$CspName'."
}
if (-not $key.MachineKeySet -or -not $key.KeyFile) {
    Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    throw 'The private key is not in the machine key set, so a task account could not be given access; the import was undone.'
}
if ($key.Exportable) {
    Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    throw 'The private key was imported as exportable; the import was undone. Run again with -ImportMethod CertUtil.'
}
if ($key.ProviderType -ne $ProvRsaAes) {
    Write-Warning "The key is in '$($key.ProviderName)' (provider type $($key.ProviderType)), which may not sign with SHA-256. Re-import with -ImportMethod CertUtil to use '$CspName'."
}

# Read access for the task account on the key file; Full Control stays with SYSTEM and Administrators.
# -WhatIf is passed on by hand: preference variables do not reach into a script module (PowerShell/PowerShell#4568).
Grant-ExoKeyReadAccess -KeyFile $key.KeyFile -Sid $taskSid -WhatIf:$WhatIfPreference

# Expired certificates of the same subject are leftovers of earlier rotations. Valid older ones stay: during a
# rotation the previous credential is still registered on the app until the next `pulumi up` removes it.
$now = Get-Date
$expired = @(Get-ChildItem -Path $StoreLocation | Where-Object {
        $_.Subject -eq $installed.Subject -and $_.Thumbprint -ne $thumbprint -and $_.NotAfter -lt $now
    })
foreach ($old in $expired) {
    if ($PSCmdlet.ShouldProcess($old.Thumbprint, 'Remove expired certificate and its key')) {
        Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $old.Thumbprint
        Write-Verbose "Removed expired certificate $($old.Thumbprint) (expired $($old.NotAfter.ToString('u')))."
    }
}

Write-Verbose "Installed $thumbprint in $StoreLocation; key in '$($key.ProviderName)', readable by $TaskAccount; expires $($installed.NotAfter.ToString('u'))."
Write-Output $thumbprint
