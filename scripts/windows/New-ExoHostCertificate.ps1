#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Makes an exo-automation host certificate on the machine that will use it: the private key never leaves this host.

.DESCRIPTION
    Creates a self-signed client-authentication certificate in Cert:\LocalMachine\My whose RSA key
      - is generated here, in the CSP 'Microsoft Enhanced RSA and AES Cryptographic Provider': Exchange Online app-only
        authentication does not support keys in a CNG key storage provider, and this CSP signs with SHA-256;
      - is not exportable: not by this script, not by an administrator through the certificate store;
      - can be read by the task account (and, as always, SYSTEM and Administrators), nobody else;
    checks all of that and a test signature, then writes the PUBLIC certificate only, as PEM text, to a .crt file.

    That file goes into the repository in a pull request and its path into the identity's
    certificate.hostCertificates list; `pulumi up` uploads it as the app's key credential, with the certificate's own
    start and end dates. The stack then holds no private key (docs/identities.md, "Identity modes").

    Rotation: run the script again before the warning window (the program warns warnBeforeDays ahead), add the new
    file next to the old one, `pulumi up`, switch the tasks with Switch-ExoTaskCertificate.ps1, then remove the old
    path from config and `pulumi up` again. See docs/certificate-handover.md, "Host certificates".

.PARAMETER Identity
    The identity's name in config (identities[].name). Used in the subject and the file name.

.PARAMETER TaskAccount
    The account the scheduled task or the Hybrid Runbook Worker jobs run as: DOMAIN\user, a group managed service
    account (DOMAIN\name$) or NT AUTHORITY\SYSTEM. It gets read access to the private key.

.PARAMETER OutputDirectory
    Where the .crt file is written (default: the current directory). The file holds no secret.

.PARAMETER ValidityDays
    Lifetime in days, 30 to 730 (default 365). The policy pack's certificate-validity rule allows 365 days unless its
    maxValidityDays is raised; 365 days rather than 12 months, because a year with 29 February has 366.

.PARAMETER KeyLength
    RSA key size: 2048 (default), 3072 or 4096.

.EXAMPLE
    .\New-ExoHostCertificate.ps1 -Identity exo -TaskAccount 'CONTOSO\gmsa-exo$' -OutputDirectory C:\Temp

.NOTES
    Needs Windows Server 2016 / Windows 10 or later: the PKI module of Windows Server 2012 R2 has New-SelfSignedCertificate
    without -Provider, -KeyExportPolicy, -NotAfter or -Type.
    Exit codes: 0 created (writes an object with Thumbprint, NotBefore, NotAfter, File); 1 failed (the message says why,
    and a certificate that failed a check is removed with its key).
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$')]
    [string] $Identity,

    [Parameter(Mandatory = $true)]
    [string] $TaskAccount,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Container })]
    [string] $OutputDirectory = (Get-Location).Path,

    [ValidateRange(30, 730)]
    [int] $ValidityDays = 365,

    [ValidateSet(2048, 3072, 4096)]
    [int] $KeyLength = 2048
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# PROV_RSA_AES: the CSP that signs with SHA-256, which Entra client assertions need; the same one certtool names.
$CspName = 'Microsoft Enhanced RSA and AES Cryptographic Provider'
$ProvRsaAes = 24
$StoreLocation = 'Cert:\LocalMachine\My'
$ClientAuthentication = '1.3.6.1.5.5.7.3.2'

Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1') -Force

# Resolve the account first: a typo should fail before a key exists.
$taskSid = Resolve-ExoAccountSid -Account $TaskAccount

# Ten minutes back, so a host or Entra whose clock is a little behind accepts the certificate at once.
$notBefore = (Get-Date).AddMinutes(-10)
$notAfter = $notBefore.AddDays($ValidityDays)
$computer = $env:COMPUTERNAME.ToLowerInvariant()
$subject = "CN=exo-automation $Identity $computer"
$fileName = '{0}-{1}-{2}.crt' -f $Identity, $computer, $notBefore.ToUniversalTime().ToString('yyyyMMdd')
$outFile = Join-Path -Path $OutputDirectory -ChildPath $fileName
if (Test-Path -LiteralPath $outFile) {
    throw "$outFile exists already; move it away or choose another -OutputDirectory."
}

if (-not $PSCmdlet.ShouldProcess($StoreLocation, "Create '$subject' with a non-exportable $KeyLength-bit RSA key in '$CspName'")) {
    return
}

# -Type Custom: no server-authentication defaults; the only extended key usage is client authentication, and no
# basic constraints extension, so the certificate is an end entity (the program refuses CA certificates).
$certificate = New-SelfSignedCertificate -Type Custom -Subject $subject -FriendlyName "exo-automation $Identity" `
    -CertStoreLocation $StoreLocation -Provider $CspName -KeyAlgorithm RSA -KeyLength $KeyLength -KeySpec KeyExchange `
    -KeyExportPolicy NonExportable -KeyUsage DigitalSignature -HashAlgorithm SHA256 -NotBefore $notBefore -NotAfter $notAfter `
    -TextExtension @("2.5.29.37={text}$ClientAuthentication") -ErrorAction Stop
$thumbprint = $certificate.Thumbprint

try {
    $installed = Get-Item -LiteralPath (Join-Path -Path $StoreLocation -ChildPath $thumbprint)
    $key = Get-ExoKeyProvider -Certificate $installed
    if (-not $key) {
        throw 'The certificate was created without a private key association.'
    }
    if ($key.IsCng) {
        throw "The key landed in the CNG provider '$($key.ProviderName)', which Exchange Online does not support."
    }
    if ($key.ProviderType -ne $ProvRsaAes) {
        throw "The key is in '$($key.ProviderName)' (provider type $($key.ProviderType)), not '$CspName'."
    }
    if (-not $key.MachineKeySet -or -not $key.KeyFile) {
        throw 'The key is not in the machine key set, so the task account could not be given access.'
    }
    if ($key.Exportable -ne $false) {
        throw 'The key is exportable (or its export policy could not be read); a host key must never leave the host.'
    }
    $signing = Test-ExoKeySigning -Certificate $installed
    if ($signing) {
        throw "The key cannot make the RS256 signature Entra checks: $signing"
    }
    Grant-ExoKeyReadAccess -KeyFile $key.KeyFile -Sid $taskSid -WhatIf:$false
}
catch {
    Remove-ExoStoreCertificate -Store $StoreLocation -Thumbprint $thumbprint
    throw "New certificate $thumbprint removed again: $($_.Exception.Message)"
}

# The public certificate only: base64 of its DER in 64-character lines between PEM armour, ASCII with LF line ends, as
# `openssl x509` writes it. RawData is the certificate alone; no key is reachable from it.
$base64 = [Convert]::ToBase64String($installed.RawData)
$lines = New-Object -TypeName System.Collections.Generic.List[string]
$lines.Add('-----BEGIN CERTIFICATE-----')
for ($offset = 0; $offset -lt $base64.Length; $offset += 64) {
    $lines.Add($base64.Substring($offset, [Math]::Min(64, $base64.Length - $offset)))
}
$lines.Add('-----END CERTIFICATE-----')
$pem = ($lines -join "`n") + "`n"
[System.IO.File]::WriteAllText($outFile, $pem, (New-Object -TypeName System.Text.ASCIIEncoding))

Write-Verbose "Created $thumbprint in $StoreLocation; key in '$($key.ProviderName)', not exportable, readable by $TaskAccount."
Write-Information -MessageData (
    "Next: commit $fileName (public, no key) to the repository, for example certificates/<stack>/$fileName, add that path " +
    "to certificate.hostCertificates of identity '$Identity', and open a pull request. After 'pulumi up', point the tasks " +
    "at thumbprint $thumbprint (Switch-ExoTaskCertificate.ps1)."
) -InformationAction Continue
[pscustomobject]@{
    Thumbprint = $thumbprint
    Subject    = $installed.Subject
    NotBefore  = $installed.NotBefore
    NotAfter   = $installed.NotAfter
    File       = $outFile
}
