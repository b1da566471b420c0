#Requires -Version 5.1
<#
.SYNOPSIS
    Fetches an identity's certificate from Azure Key Vault with this machine's managed identity, builds it in memory, and
    connects to Exchange Online with it. Nothing is written to disk.

.DESCRIPTION
    For Hybrid Runbook Workers and scheduled tasks on Azure VMs and Azure Arc-enabled servers. exo-automation's Key Vault
    option stores each identity's certificate as one secret: the certificate PEM followed by the PKCS#8 private key PEM
    (content type application/x-pem-file), readable only by the managed identities listed in keyVault.readers.

    1. A token for Key Vault comes from the machine's managed identity over plain REST, without the Az modules:
       - Azure Arc-enabled server: the agent sets IDENTITY_ENDPOINT and IMDS_ENDPOINT (http://localhost:40342). The first
         request is answered 401 with the path of a key file that only Administrators and the "Hybrid agent extension
         applications" group can read; the second request sends its content (MicrosoftDocs/azure-docs,
         articles/azure-arc/servers/managed-identity-authentication.md).
       - Azure VM: the Instance Metadata Service at http://169.254.169.254 with the Metadata header.
       Az.Accounts (Connect-AzAccount -Identity) would work on both too, but it loads its own MSAL and Azure.Identity
       assemblies into the session that ExchangeOnlineManagement needs for its own, a known source of assembly conflicts.
       Token requests are retried with exponential back-off on 404, 410, 429 and 5xx and on connection failures, as
       Microsoft's managed identity retry guidance asks (the agent or IMDS may still be starting after a reboot).
    2. The secret is read from the Key Vault REST API (GET {vault}/secrets/{name}?api-version=7.4), retried on 429 and
       5xx. A 403 is told apart by Key Vault's inner error code: SecretDisabled (the secret's current version is
       disabled), ForbiddenByFirewall (network rules), anything else a missing "Key Vault Secrets User" grant.
    3. The certificate is built in memory: PowerShell 7 uses X509Certificate2.CreateFromPem; Windows PowerShell 5.1
       (.NET Framework, which has no PEM support) decodes the PKCS#8 key itself, imports it into an ephemeral RSACng key and
       attaches it with CopyWithPrivateKey (.NET Framework 4.7.2 or later). Either way the key is an in-memory CNG key: see
       docs/certificate-handover.md, "Key Vault", for why -Certificate accepts that although Exchange's documentation asks
       for CSP keys in the certificate store.
    4. Before connecting, the script checks the validity period and makes a test RS256 signature, as Entra's client
       assertion needs.
    5. It connects with Connect-ExchangeOnline -Certificate -AppId -Organization (through ExoCommon.psm1's Connect-ExoSession,
       as the other host scripts and the runbooks do: transient errors retried, a refusal explained) and stays connected for the
       caller, returning the connection's ConnectionId; with -CertificateOnly it returns the certificate instead (for
       Connect-IPPSSession -Certificate, for example).

    The account needs nothing on disk; the machine's managed identity needs "Key Vault Secrets User" on the secret, which the
    stack grants to every object id in keyVault.readers. On an Arc-enabled server the account must be able to read the
    agent's token key file: SYSTEM (the Hybrid Worker default) and Administrators can.

.PARAMETER VaultUri
    keyVault.vaultUri from the stack outputs, for example https://kv-exo-contoso.vault.azure.net/.

.PARAMETER SecretName
    keyVault.secretNames.<identity> from the stack outputs, for example exo-certificate-pem.

.PARAMETER AppId
    identities.<name>.clientId from the stack outputs.

.PARAMETER Organization
    identities.<name>.organization: the initial *.onmicrosoft.com domain.

.PARAMETER ExchangeEnvironmentName
    identities.<name>.exchangeEnvironmentName; O365Default unless the tenant is in a sovereign cloud.

.PARAMETER ManagedIdentityClientId
    Client id of a user-assigned managed identity on an Azure VM. Arc-enabled servers have only their system-assigned one.

.PARAMETER CertificateOnly
    Return the X509Certificate2 (with its in-memory key) instead of connecting.

.PARAMETER WarnDays
    Warn when the certificate expires within this many days.

.EXAMPLE
    # In a Hybrid Worker runbook: connect, work, disconnect this connection only.
    $session = & C:\ExoAutomation\Get-ExoCertificateFromKeyVault.ps1 -VaultUri 'https://kv-exo-contoso.vault.azure.net/' `
        -SecretName 'exo-certificate-pem' -AppId '11111111-2222-3333-4444-555555555555' -Organization 'contoso.onmicrosoft.com'
    Get-EXOMailbox -ResultSize 10 -ErrorAction Stop
    Disconnect-ExchangeOnline -ConnectionId $session.ConnectionId -Confirm:$false -ErrorAction Stop
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^https://[a-zA-Z0-9-]{3,24}\.vault\.[a-z0-9.-]+/?$')]
    [string] $VaultUri,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-zA-Z-]{1,127}$')]
    [string] $SecretName,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('\.(onmicrosoft\.com|onmicrosoft\.us|partner\.onmschina\.cn)$')]
    [string] $Organization,

    [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
    [string] $ExchangeEnvironmentName = 'O365Default',

    [ValidatePattern('^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')]
    [string] $ManagedIdentityClientId,

    [switch] $CertificateOnly,

    [ValidateRange(0, 365)]
    [int] $WarnDays = 30
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$KeyVaultApiVersion = '7.4'
# Managed identity endpoints: retry 404 (identity not there yet), 410 (IMDS updating), 429 and 5xx with exponential back-off
# (MicrosoftDocs/azure-docs, managed-identities-azure-resources/how-to-use-vm-token.md, "Retry guidance": 5 retries, up to 60 s).
$IdentityRetryStatus = @(404, 410, 429, 500, 502, 503, 504)
# Key Vault: 429 (throttled) and 5xx only; its 404 means the secret does not exist.
$KeyVaultRetryStatus = @(429, 500, 502, 503, 504)
$MaxRetries = 5
$MaxBackoffSeconds = 60
$PemContentType = 'application/x-pem-file'
$ArcTokenDirectory = Join-Path -Path $env:ProgramData -ChildPath 'AzureConnectedMachineAgent\Tokens'

if ($PSVersionTable.PSEdition -ne 'Core') {
    Add-Type -AssemblyName System.Net.Http
    # Key Vault accepts TLS 1.2 and later; older .NET Framework defaults may not offer it.
    [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.ServicePointManager]::SecurityProtocol -bor [System.Net.SecurityProtocolType]::Tls12
}

function New-HttpClient {
    <# An HttpClient; the identity endpoints are local and must not go through a proxy. #>
    param([bool] $NoProxy)
    $handler = New-Object -TypeName System.Net.Http.HttpClientHandler
    if ($NoProxy) {
        $handler.UseProxy = $false
    }
    $client = New-Object -TypeName System.Net.Http.HttpClient -ArgumentList $handler
    $client.Timeout = [TimeSpan]::FromSeconds(30)
    return $client
}

function Invoke-HttpGet {
    <# GET with headers; returns status code, the WWW-Authenticate header and the body. Never throws on an HTTP status. #>
    param([System.Net.Http.HttpClient] $Client, [string] $Uri, [hashtable] $Headers)
    $request = New-Object -TypeName System.Net.Http.HttpRequestMessage -ArgumentList ([System.Net.Http.HttpMethod]::Get), $Uri
    foreach ($name in $Headers.Keys) {
        $null = $request.Headers.TryAddWithoutValidation($name, [string] $Headers[$name])
    }
    $response = $Client.SendAsync($request).GetAwaiter().GetResult()
    try {
        $challenge = $null
        $values = $null
        if ($response.Headers.TryGetValues('WWW-Authenticate', [ref] $values)) {
            $challenge = @($values)[0]
        }
        $retryAfter = 0
        if ($null -ne $response.Headers.RetryAfter -and $null -ne $response.Headers.RetryAfter.Delta) {
            $retryAfter = [int] [math]::Ceiling($response.Headers.RetryAfter.Delta.TotalSeconds)
        }
        return [pscustomobject]@{
            StatusCode = [int] $response.StatusCode
            Challenge  = $challenge
            RetryAfter = $retryAfter
            Body       = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
        }
    }
    finally {
        $response.Dispose()
        $request.Dispose()
    }
}

function Invoke-HttpGetWithRetry {
    <# Invoke-HttpGet, retried with exponential back-off (2, 4, 8, 16, 32 s, at most 60; a Retry-After in seconds wins) on the
       given status codes and on connection failures. Returns the last reply. #>
    param([System.Net.Http.HttpClient] $Client, [string] $Uri, [hashtable] $Headers, [int[]] $RetryStatus, [string] $What)
    for ($attempt = 0; ; $attempt++) {
        $reply = $null
        $failure = $null
        try {
            $reply = Invoke-HttpGet -Client $Client -Uri $Uri -Headers $Headers
        }
        catch {
            # Connection refused, timeout (the agent or IMDS starting up): as retryable as a 503.
            $failure = $_
        }
        $retryable = ($null -ne $failure) -or ($RetryStatus -contains $reply.StatusCode)
        if (-not $retryable) { return $reply }
        if ($attempt -ge $MaxRetries) {
            if ($null -ne $failure) { throw "$What failed after $($attempt + 1) attempts: $($failure.Exception.Message)" }
            return $reply
        }
        $delay = [math]::Min($MaxBackoffSeconds, [math]::Pow(2, $attempt + 1))
        if ($null -ne $reply -and $reply.RetryAfter -gt 0) { $delay = [math]::Min($MaxBackoffSeconds, $reply.RetryAfter) }
        $reason = if ($null -ne $failure) { $failure.Exception.Message } else { "HTTP $($reply.StatusCode)" }
        Write-Verbose "$What`: $reason; retry $($attempt + 1) of $MaxRetries in $delay s."
        Start-Sleep -Seconds ([int] $delay)
    }
}

function Get-KeyVaultErrorCode {
    <# error.code and error.innererror.code of a Key Vault error body ('' when absent). #>
    param([string] $Body)
    $outer = ''
    $inner = ''
    try {
        $parsed = ConvertFrom-Json -InputObject $Body
        $errorProperty = $parsed.PSObject.Properties['error']
        if ($errorProperty) {
            $outer = [string] $errorProperty.Value.code
            $innerProperty = $errorProperty.Value.PSObject.Properties['innererror']
            if ($innerProperty -and $innerProperty.Value) { $inner = [string] $innerProperty.Value.code }
        }
    }
    catch {
        Write-Verbose "Key Vault error body is not JSON: $Body"
    }
    return [pscustomobject]@{ Code = $outer; InnerCode = $inner }
}

function Get-ManagedIdentityToken {
    <# An access token for $Resource from this machine's managed identity (Azure Arc agent or Azure VM IMDS). #>
    param([string] $Resource, [string] $ClientId)
    $client = New-HttpClient -NoProxy $true
    try {
        $query = 'resource=' + [Uri]::EscapeDataString($Resource)
        if ($env:IDENTITY_ENDPOINT -and $env:IMDS_ENDPOINT) {
            if ($ClientId) {
                throw 'Azure Arc-enabled servers have only a system-assigned managed identity; leave -ManagedIdentityClientId out.'
            }
            $uri = '{0}?api-version=2020-06-01&{1}' -f $env:IDENTITY_ENDPOINT, $query
            $first = Invoke-HttpGet -Client $client -Uri $uri -Headers @{ Metadata = 'true' }
            if ($first.StatusCode -ne 401 -or -not $first.Challenge -or $first.Challenge -notmatch '^Basic realm=(.+)$') {
                throw "The Azure Arc identity endpoint did not send its key file challenge (HTTP $($first.StatusCode))."
            }
            $keyFile = $Matches[1].Trim()
            # Read only the agent's own key files: a spoofed endpoint must not make this script read another file.
            $directory = [System.IO.Path]::GetFullPath($ArcTokenDirectory).TrimEnd('\') + '\'
            $fullPath = [System.IO.Path]::GetFullPath($keyFile)
            if (-not $fullPath.StartsWith($directory, [StringComparison]::OrdinalIgnoreCase) -or [System.IO.Path]::GetExtension($fullPath) -ne '.key') {
                throw "The Azure Arc identity endpoint pointed at $keyFile, which is not a key file in $ArcTokenDirectory."
            }
            try {
                $secret = [System.IO.File]::ReadAllText($fullPath).Trim()
            }
            catch {
                throw "Cannot read the Azure Arc token key file ($($_.Exception.Message)). Run as SYSTEM or an Administrator, or add the account to the 'Hybrid agent extension applications' group."
            }
            $reply = Invoke-HttpGetWithRetry -Client $client -Uri $uri -Headers @{ Metadata = 'true'; Authorization = "Basic $secret" } `
                -RetryStatus $IdentityRetryStatus -What 'Azure Arc identity endpoint'
            $source = 'the Azure Arc agent'
        }
        else {
            $uri = 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&' + $query
            if ($ClientId) {
                $uri += '&client_id=' + $ClientId
            }
            $reply = Invoke-HttpGetWithRetry -Client $client -Uri $uri -Headers @{ Metadata = 'true' } `
                -RetryStatus $IdentityRetryStatus -What 'Azure Instance Metadata Service'
            $source = 'the Azure Instance Metadata Service'
        }
        if ($reply.StatusCode -ne 200) {
            throw "No managed identity token from $source (HTTP $($reply.StatusCode)): $($reply.Body)"
        }
        return (ConvertFrom-Json -InputObject $reply.Body).access_token
    }
    finally {
        $client.Dispose()
    }
}

function Get-KeyVaultSecret {
    <# The current version of a secret: value, content type, version id and attributes. #>
    param([string] $Vault, [string] $Name, [string] $Token)
    $client = New-HttpClient -NoProxy $false
    try {
        $uri = '{0}/secrets/{1}?api-version={2}' -f $Vault.TrimEnd('/'), $Name, $KeyVaultApiVersion
        $reply = Invoke-HttpGetWithRetry -Client $client -Uri $uri -Headers @{ Authorization = "Bearer $Token"; Accept = 'application/json' } `
            -RetryStatus $KeyVaultRetryStatus -What "Key Vault secret $Name"
    }
    finally {
        $client.Dispose()
    }
    if ($reply.StatusCode -eq 403) {
        # Key Vault answers 403 for a disabled secret too: {"error":{"code":"Forbidden","message":"Operation get is not allowed on a
        # disabled secret.","innererror":{"code":"SecretDisabled"}}}; a missing role is innererror ForbiddenByRbac (RBAC vaults, as
        # the stack creates), a network rule ForbiddenByFirewall.
        $kvError = Get-KeyVaultErrorCode -Body $reply.Body
        if ($kvError.InnerCode -eq 'SecretDisabled' -or $reply.Body -match 'disabled secret') {
            throw "Secret $Name is disabled in $Vault (403 SecretDisabled): enable its current version, or run pulumi up so the stack writes an enabled one."
        }
        if ($kvError.InnerCode -eq 'ForbiddenByFirewall') {
            throw "Key Vault's network rules refused this machine (403 ForbiddenByFirewall): allow its network, or keep keyVault.publicNetworkAccess on."
        }
        throw "Key Vault refused to read secret $Name (403 $($kvError.Code)/$($kvError.InnerCode)): this machine's managed identity needs 'Key Vault Secrets User' on it. Add its object id to keyVault.readers and run pulumi up. $($reply.Body)"
    }
    if ($reply.StatusCode -eq 404) {
        throw "Secret $Name does not exist in $Vault (404): check keyVault.secretNames in the stack outputs."
    }
    if ($reply.StatusCode -ne 200) {
        throw "Reading secret $Name from $Vault failed (HTTP $($reply.StatusCode)): $($reply.Body)"
    }
    return ConvertFrom-Json -InputObject $reply.Body
}

function Get-PemBlock {
    <# The base64 body of the one PEM block with this label. #>
    param([string] $Pem, [string] $Label)
    $pattern = '-----BEGIN {0}-----([A-Za-z0-9+/=\s]+)-----END {0}-----' -f $Label
    $found = [regex]::Matches($Pem, $pattern)
    if ($found.Count -ne 1) {
        throw "The secret must hold exactly one '$Label' PEM block; it holds $($found.Count)."
    }
    return ($found[0].Groups[1].Value -replace '\s', '')
}

function Read-DerElement {
    <# Tag, content start and content length of the DER element at $Offset. #>
    param([byte[]] $Data, [int] $Offset)
    if ($Offset + 2 -gt $Data.Length) {
        throw 'The private key is truncated.'
    }
    $tag = [int] $Data[$Offset]
    $length = [int] $Data[$Offset + 1]
    $start = $Offset + 2
    if ($length -ge 0x80) {
        $count = $length - 0x80
        if ($count -lt 1 -or $count -gt 3) {
            throw 'The private key has an unsupported DER length.'
        }
        $length = 0
        for ($index = 0; $index -lt $count; $index++) {
            $length = ($length * 256) + [int] $Data[$start + $index]
        }
        $start += $count
    }
    if ($start + $length -gt $Data.Length) {
        throw 'The private key is truncated.'
    }
    return [pscustomobject]@{ Tag = $tag; Start = $start; Length = $length; Next = $start + $length }
}

function Get-DerUnsignedInteger {
    <# The INTEGER at $Element as unsigned big-endian bytes, left-padded with zeros to $Size when $Size is given. #>
    param([byte[]] $Data, [object] $Element, [int] $Size = 0)
    if ($Element.Tag -ne 0x02) {
        throw 'The private key is not an RSA key in PKCS#8 form.'
    }
    $first = $Element.Start
    $last = $Element.Next - 1
    while ($first -lt $last -and $Data[$first] -eq 0) {
        $first++
    }
    $length = $last - $first + 1
    if ($Size -eq 0) {
        $Size = $length
    }
    if ($length -gt $Size) {
        throw 'The private key has an RSA component longer than its modulus allows.'
    }
    $bytes = New-Object -TypeName byte[] -ArgumentList $Size
    [Array]::Copy($Data, $first, $bytes, $Size - $length, $length)
    return , $bytes
}

function ConvertFrom-Pkcs8RsaKey {
    <# RSAParameters from an unencrypted PKCS#8 RSA private key (DER), with the component sizes .NET requires. #>
    param([byte[]] $Der)
    $info = Read-DerElement -Data $Der -Offset 0
    $version = Read-DerElement -Data $Der -Offset $info.Start
    $algorithm = Read-DerElement -Data $Der -Offset $version.Next
    $oid = Read-DerElement -Data $Der -Offset $algorithm.Start
    $rsaEncryption = [byte[]] (0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01)
    $oidBytes = New-Object -TypeName byte[] -ArgumentList $oid.Length
    [Array]::Copy($Der, $oid.Start, $oidBytes, 0, $oid.Length)
    if ($info.Tag -ne 0x30 -or $algorithm.Tag -ne 0x30 -or $oid.Tag -ne 0x06 -or [Convert]::ToBase64String($oidBytes) -ne [Convert]::ToBase64String($rsaEncryption)) {
        throw 'The private key is not an RSA key in PKCS#8 form.'
    }
    $octets = Read-DerElement -Data $Der -Offset $algorithm.Next
    if ($octets.Tag -ne 0x04) {
        throw 'The private key is not an RSA key in PKCS#8 form.'
    }
    # RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient }
    $sequence = Read-DerElement -Data $Der -Offset $octets.Start
    $elements = New-Object -TypeName System.Collections.Generic.List[object]
    $offset = $sequence.Start
    while ($offset -lt $sequence.Next -and $elements.Count -lt 9) {
        $element = Read-DerElement -Data $Der -Offset $offset
        $elements.Add($element)
        $offset = $element.Next
    }
    if ($sequence.Tag -ne 0x30 -or $elements.Count -ne 9) {
        throw 'The private key is not an RSA key in PKCS#8 form.'
    }
    $modulus = Get-DerUnsignedInteger -Data $Der -Element $elements[1]
    $half = [int] [Math]::Ceiling($modulus.Length / 2)
    $parameters = New-Object -TypeName System.Security.Cryptography.RSAParameters
    $parameters.Modulus = $modulus
    $parameters.Exponent = Get-DerUnsignedInteger -Data $Der -Element $elements[2]
    $parameters.D = Get-DerUnsignedInteger -Data $Der -Element $elements[3] -Size $modulus.Length
    $parameters.P = Get-DerUnsignedInteger -Data $Der -Element $elements[4] -Size $half
    $parameters.Q = Get-DerUnsignedInteger -Data $Der -Element $elements[5] -Size $half
    $parameters.DP = Get-DerUnsignedInteger -Data $Der -Element $elements[6] -Size $half
    $parameters.DQ = Get-DerUnsignedInteger -Data $Der -Element $elements[7] -Size $half
    $parameters.InverseQ = Get-DerUnsignedInteger -Data $Der -Element $elements[8] -Size $half
    return $parameters
}

function New-CertificateFromPem {
    <# An X509Certificate2 with its private key held in memory only (an ephemeral key: no key container, no file). #>
    param([string] $Pem)
    $certificateBase64 = Get-PemBlock -Pem $Pem -Label 'CERTIFICATE'
    $keyBase64 = Get-PemBlock -Pem $Pem -Label 'PRIVATE KEY'
    $x509 = [System.Security.Cryptography.X509Certificates.X509Certificate2]
    if (@($x509.GetMethods() | Where-Object { $_.Name -eq 'CreateFromPem' }).Count -gt 0) {
        # .NET 5 and later (PowerShell 7). Both arguments may be the whole text: each takes the first block with its label.
        # PowerShell passes the strings to the ReadOnlySpan<char> parameters itself (PowerShell/PowerShell#7721). The key is
        # imported into an ephemeral CNG key.
        return $x509::CreateFromPem($Pem, $Pem)
    }
    $extensions = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]
    if (@($extensions.GetMethods() | Where-Object { $_.Name -eq 'CopyWithPrivateKey' }).Count -eq 0) {
        throw 'Windows PowerShell needs .NET Framework 4.7.2 or later to attach an in-memory key (RSACertificateExtensions.CopyWithPrivateKey).'
    }
    $keyDer = [Convert]::FromBase64String($keyBase64)
    $parameters = $null
    $rsa = $null
    try {
        $parameters = ConvertFrom-Pkcs8RsaKey -Der $keyDer
        # An RSACng without a key name is ephemeral: the key lives in this process only.
        $rsa = New-Object -TypeName System.Security.Cryptography.RSACng
        $rsa.ImportParameters($parameters)
        $certificate = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList (, [Convert]::FromBase64String($certificateBase64))
        # Throws when the key does not belong to the certificate.
        return $extensions::CopyWithPrivateKey($certificate, $rsa)
    }
    finally {
        [Array]::Clear($keyDer, 0, $keyDer.Length)
        if ($null -ne $parameters) {
            foreach ($component in $parameters.D, $parameters.P, $parameters.Q, $parameters.DP, $parameters.DQ, $parameters.InverseQ) {
                if ($null -ne $component) {
                    [Array]::Clear($component, 0, $component.Length)
                }
            }
        }
        if ($null -ne $rsa) {
            $rsa.Dispose()
        }
    }
}

try {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1') -Force -ErrorAction Stop
    # The connection the other host scripts and the runbooks make (one copy: transient errors retried, a refusal explained).
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'ExoCommon.psm1') -Force -ErrorAction Stop
}
catch {
    throw "ExoCertificate.psm1 and ExoCommon.psm1 must sit next to this script: $($_.Exception.Message)"
}

# The token audience is the vault's cloud: https://vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn.
$vaultHost = ([Uri] $VaultUri).Host
$keyVaultResource = 'https://' + $vaultHost.Substring($vaultHost.IndexOf('.') + 1)
$token = Get-ManagedIdentityToken -Resource $keyVaultResource -ClientId $ManagedIdentityClientId
$secret = Get-KeyVaultSecret -Vault $VaultUri -Name $SecretName -Token $token
$token = $null
$contentType = $secret.PSObject.Properties['contentType']
$actualType = if ($contentType) { [string] $contentType.Value } else { '' }
if ($actualType -ne $PemContentType) {
    throw "Secret $SecretName is not a PEM bundle (content type '$actualType', expected '$PemContentType')."
}
if (-not $secret.attributes.enabled) {
    throw "Secret $SecretName is disabled in Key Vault."
}
$certificate = New-CertificateFromPem -Pem $secret.value
$secretVersion = ($secret.id -split '/')[-1]
$secret = $null

$now = Get-Date
if ($certificate.NotAfter -lt $now -or $certificate.NotBefore -gt $now) {
    throw "Certificate $($certificate.Thumbprint) from $SecretName is outside its validity ($($certificate.NotBefore.ToString('u')) to $($certificate.NotAfter.ToString('u'))). Run pulumi up to renew it."
}
$signingProblem = Test-ExoKeySigning -Certificate $certificate
if ($signingProblem) {
    throw "Cannot sign with the key from $SecretName`: $signingProblem"
}
$daysLeft = [math]::Floor(($certificate.NotAfter - $now).TotalDays)
if ($daysLeft -lt $WarnDays) {
    Write-Warning "Certificate $($certificate.Thumbprint) expires in $daysLeft days; the stack renews it on the next pulumi up inside the renewal window."
}
Write-Verbose "Certificate $($certificate.Thumbprint) from $SecretName (version $secretVersion), valid until $($certificate.NotAfter.ToString('u'))."

if ($CertificateOnly) {
    return $certificate
}

Import-ExoManagementModule
# The in-memory certificate object (no store, no file); the whole module with its format data, for the caller's own work.
$connectionId = Connect-ExoSession -Certificate $certificate -AppId $AppId -Organization $Organization `
    -ExchangeEnvironmentName $ExchangeEnvironmentName -RequiredRoleHint "the Exchange role the app's identity was given"
[pscustomobject]@{
    Organization  = $Organization
    AppId         = $AppId
    Thumbprint    = $certificate.Thumbprint
    NotAfter      = $certificate.NotAfter
    SecretVersion = $secretVersion
    # For Disconnect-ExchangeOnline -ConnectionId: ends this connection only ('' when it could not be told apart).
    ConnectionId  = $connectionId
}
