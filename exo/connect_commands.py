"""Ready-to-paste PowerShell command lines for connecting to Exchange Online and Security & Compliance PowerShell."""

from __future__ import annotations

from exo import facts


def _quote(value: str) -> str:
    # Single quotes: PowerShell expands nothing inside them; a quote is escaped by doubling it.
    return "'" + value.replace("'", "''") + "'"


def exchange_certificate_command(thumbprint: str, client_id: str, organization: str, cloud: facts.CloudEnvironment) -> str:
    """Connect-ExchangeOnline with a certificate from the Windows store (app-only)."""
    parts = [
        "Connect-ExchangeOnline",
        f"-CertificateThumbprint {_quote(thumbprint)}",
        f"-AppId {_quote(client_id)}",
        f"-Organization {_quote(organization)}",
    ]
    if cloud.exchange_environment_name != "O365Default":
        parts.append(f"-ExchangeEnvironmentName {cloud.exchange_environment_name}")
    return " ".join([*parts, "-ShowBanner:$false"])


def exchange_managed_identity_command(organization: str, cloud: facts.CloudEnvironment) -> str:
    """Connect-ExchangeOnline with the system-assigned managed identity of an Azure resource (module 3.0.0+)."""
    parts = ["Connect-ExchangeOnline", "-ManagedIdentity", f"-Organization {_quote(organization)}"]
    if cloud.exchange_environment_name != "O365Default":
        parts.append(f"-ExchangeEnvironmentName {cloud.exchange_environment_name}")
    return " ".join([*parts, "-ShowBanner:$false"])


def compliance_certificate_command(thumbprint: str, client_id: str, organization: str, cloud: facts.CloudEnvironment) -> str:
    """Connect-IPPSSession with a certificate (Security & Compliance has no managed-identity sign-in)."""
    parts = [
        "Connect-IPPSSession",
        f"-CertificateThumbprint {_quote(thumbprint)}",
        f"-AppId {_quote(client_id)}",
        f"-Organization {_quote(organization)}",
    ]
    if cloud.ipps_connection_uri:
        parts.append(f"-ConnectionUri {_quote(cloud.ipps_connection_uri)}")
    if cloud.ipps_authorization_endpoint:
        parts.append(f"-AzureADAuthorizationEndpointUri {_quote(cloud.ipps_authorization_endpoint)}")
    return " ".join([*parts, "-ShowBanner:$false"])
