#Requires -Version 5.1
<#
    Shared by Install-ExoCertificate.ps1, New-ExoHostCertificate.ps1 and Invoke-ExoScheduledTask.ps1: where a
    certificate's private key lives, whether this account can sign with it the way Exchange Online sign-in does, who
    may read it, and removing a certificate together with its key.

    Why not $certificate.PrivateKey: in Windows PowerShell it cannot open CNG keys at all, and in PowerShell 7 it
    opens CSP keys through CNG and returns an RSACng, so its type says nothing about the provider. The provider
    recorded with the certificate (CERT_KEY_PROV_INFO) does: provider type 0 means a CNG key storage provider.
#>

Set-StrictMode -Version Latest

if (-not ('ExoAutomation.KeyProviderInfo' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace ExoAutomation
{
    public sealed class KeyProviderInfo
    {
        public string ProviderName;
        public string ContainerName;
        public int ProviderType;
        public int KeySpec;
        public bool MachineKeySet;

        [StructLayout(LayoutKind.Sequential)]
        private struct CRYPT_KEY_PROV_INFO
        {
            public IntPtr pwszContainerName;
            public IntPtr pwszProvName;
            public int dwProvType;
            public int dwFlags;
            public int cProvParam;
            public IntPtr rgProvParam;
            public int dwKeySpec;
        }

        private const int CERT_KEY_PROV_INFO_PROP_ID = 2;
        private const int CRYPT_MACHINE_KEYSET = 0x20;

        [DllImport("crypt32.dll", SetLastError = true)]
        private static extern bool CertGetCertificateContextProperty(IntPtr certContext, int propertyId, IntPtr data, ref int size);

        // Null when the certificate has no private key association in its store.
        public static KeyProviderInfo Read(X509Certificate2 certificate)
        {
            int size = 0;
            if (!CertGetCertificateContextProperty(certificate.Handle, CERT_KEY_PROV_INFO_PROP_ID, IntPtr.Zero, ref size))
            {
                return null;
            }
            IntPtr buffer = Marshal.AllocHGlobal(size);
            try
            {
                if (!CertGetCertificateContextProperty(certificate.Handle, CERT_KEY_PROV_INFO_PROP_ID, buffer, ref size))
                {
                    return null;
                }
                CRYPT_KEY_PROV_INFO info = (CRYPT_KEY_PROV_INFO)Marshal.PtrToStructure(buffer, typeof(CRYPT_KEY_PROV_INFO));
                KeyProviderInfo result = new KeyProviderInfo();
                result.ProviderName = Marshal.PtrToStringUni(info.pwszProvName);
                result.ContainerName = Marshal.PtrToStringUni(info.pwszContainerName);
                result.ProviderType = info.dwProvType;
                result.KeySpec = info.dwKeySpec;
                result.MachineKeySet = (info.dwFlags & CRYPT_MACHINE_KEYSET) != 0;
                return result;
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }
    }
}
'@
}

function Get-ExoKeyProvider {
    <#
    .SYNOPSIS
        Where the certificate's private key lives: provider name and type, container, and for CSP keys whether the
        key is exportable and which file in MachineKeys holds it. $null when the certificate has no private key.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate)

    $info = [ExoAutomation.KeyProviderInfo]::Read($Certificate)
    if ($null -eq $info) {
        return $null
    }
    $result = [ordered]@{
        ProviderName  = $info.ProviderName
        ProviderType  = $info.ProviderType
        IsCng         = ($info.ProviderType -eq 0)
        ContainerName = $info.ContainerName
        MachineKeySet = $info.MachineKeySet
        Exportable    = $null
        KeyFile       = $null
    }
    if (-not $result.IsCng) {
        $flags = [System.Security.Cryptography.CspProviderFlags]::UseExistingKey
        if ($info.MachineKeySet) {
            $flags = $flags -bor [System.Security.Cryptography.CspProviderFlags]::UseMachineKeyStore
        }
        $parameters = New-Object -TypeName System.Security.Cryptography.CspParameters -ArgumentList $info.ProviderType, $info.ProviderName, $info.ContainerName
        $parameters.Flags = $flags
        try {
            $container = New-Object -TypeName System.Security.Cryptography.CspKeyContainerInfo -ArgumentList $parameters
            $result.Exportable = $container.Exportable
            if ($info.MachineKeySet) {
                $result.KeyFile = Join-Path -Path $env:ProgramData -ChildPath ('Microsoft\Crypto\RSA\MachineKeys\' + $container.UniqueKeyContainerName)
            }
        }
        catch {
            Write-Verbose "Cannot open CSP container $($info.ContainerName): $($_.Exception.Message)"
        }
    }
    return [pscustomobject]$result
}

function Test-ExoKeySigning {
    <#
    .SYNOPSIS
        $null when this account can make an RS256 signature with the certificate's key (what an Entra client
        assertion needs), otherwise the reason it cannot.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate)

    try {
        $rsa = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Certificate)
        if ($null -eq $rsa) {
            return 'the certificate has no RSA private key'
        }
        $data = [System.Text.Encoding]::UTF8.GetBytes('exo-automation key check')
        $null = $rsa.SignData($data, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        return $null
    }
    catch {
        return $_.Exception.Message
    }
}

function Resolve-ExoAccountSid {
    <#
    .SYNOPSIS
        The SID of the account a task runs as (DOMAIN\user, DOMAIN\gmsa$, NT AUTHORITY\SYSTEM); throws when it does not
        resolve, so a typo fails before anything is created or imported.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [string] $Account)

    try {
        return (New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $Account).Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        throw "Account '$Account' does not exist or cannot be resolved: $($_.Exception.Message)"
    }
}

function Grant-ExoKeyReadAccess {
    <#
    .SYNOPSIS
        Read access for one account on a machine key file in MachineKeys; Full Control stays with SYSTEM and
        Administrators, nobody else gains anything.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)] [string] $KeyFile,
        [Parameter(Mandatory = $true)] [System.Security.Principal.SecurityIdentifier] $Sid
    )

    if (-not (Test-Path -LiteralPath $KeyFile)) {
        throw "The private key file $KeyFile was not found; cannot grant access to it."
    }
    if ($PSCmdlet.ShouldProcess($KeyFile, "Grant Read to $Sid")) {
        $acl = Get-Acl -LiteralPath $KeyFile
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $Sid, 'Read', 'Allow'
        $acl.AddAccessRule($rule)
        Set-Acl -LiteralPath $KeyFile -AclObject $acl
    }
}

function Remove-ExoStoreCertificate {
    <# Removes a certificate and its private key from a store (Cert:\LocalMachine\My by default). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [string] $Thumbprint,
        [string] $Store = 'Cert:\LocalMachine\My'
    )

    $path = Join-Path -Path $Store -ChildPath $Thumbprint
    if (Test-Path -LiteralPath $path) {
        Remove-Item -LiteralPath $path -DeleteKey
    }
}

Export-ModuleMember -Function 'Get-ExoKeyProvider', 'Test-ExoKeySigning', 'Resolve-ExoAccountSid', 'Grant-ExoKeyReadAccess', 'Remove-ExoStoreCertificate'
