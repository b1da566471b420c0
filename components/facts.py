"""PLACEHOLDER on branch `gitops` only: the lead's `components/facts.py` replaces this file on merge.

It carries just the names the policy pack and the bootstrap read, so their tests run before the main program
lands. Keep it stdlib-only: the policy pack loads this file by path inside its own virtualenv, where the
provider SDKs are not installed. Sources: /work/shared/FACTS.md (MicrosoftDocs/office-docs-powershell
`app-only-auth-powershell-v2.md`; Learn "Microsoft Entra built-in roles"; Learn "Verify first-party Microsoft
applications in sign-in reports").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DirectoryRoleFact:
    """An Entra built-in role that Exchange app-only authentication accepts."""

    template_id: str
    exchange_online: bool
    security_compliance: bool


EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
MANAGE_AS_APP_ROLE_ID = "dc50a0fb-09a3-484d-be87-e023b12c6440"
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

GLOBAL_ADMINISTRATOR = "Global Administrator"

ROLES: Mapping[str, DirectoryRoleFact] = {
    "Exchange Administrator": DirectoryRoleFact(
        "29232cdf-9323-42fd-ade2-1d097af3e4de", True, False
    ),
    "Exchange Recipient Administrator": DirectoryRoleFact(
        "31392ffb-586c-42d1-9346-e59415a2cc4e", True, False
    ),
    "Global Reader": DirectoryRoleFact(
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451", True, True
    ),
    "Compliance Administrator": DirectoryRoleFact(
        "17315797-102d-40b4-93e0-432062caca18", True, True
    ),
    "Security Reader": DirectoryRoleFact(
        "5d6b6bb7-de71-4623-b4af-96380a352509", True, True
    ),
    "Security Administrator": DirectoryRoleFact(
        "194ae4cb-b126-40b2-bd5b-6091b380977d", True, True
    ),
    "Helpdesk Administrator": DirectoryRoleFact(
        "729827e3-9c14-49f7-bb1b-9608f156bbb8", True, False
    ),
    GLOBAL_ADMINISTRATOR: DirectoryRoleFact(
        "62e90394-69f5-4237-9190-012177145e10", True, True
    ),
}

# Microsoft's own multi-tenant apps: their service principals exist in every tenant and must be looked up,
# never managed (destroying a managed one deletes it; pulumi/pulumi-azuread #2045).
MICROSOFT_FIRST_PARTY_APP_IDS: Mapping[str, str] = {
    EXCHANGE_ONLINE_APP_ID: "Office 365 Exchange Online",
    MICROSOFT_GRAPH_APP_ID: "Microsoft Graph",
    "00000003-0000-0ff1-ce00-000000000000": "Office 365 SharePoint Online",
    "00000007-0000-0ff1-ce00-000000000000": "Security & Compliance (GCC High / DoD resource app)",
    "00000002-0000-0000-c000-000000000000": "Windows Azure Active Directory",
    "797f4846-ba00-4fd7-ba43-dac1f8f63013": "Windows Azure Service Management API",
}
