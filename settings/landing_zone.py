"""The landing-zone switch (`exo-automation:landingZone`): where the stack deploys under Azure Landing Zones, parsed before any resource.

`archetype: corp` turns public network access off on the Automation account and the certificate vault (ALZ Deny-Public-Endpoints
denies it in Corp), optionally with private endpoints in a subnet of the landing zone's network; `archetype: online` changes no
resource. Either makes the preview warn about what ALZ would still refuse (docs/landing-zone.md). Every problem is one ConfigError
naming the full key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from exo.specs import PrivateEndpointSpec
from settings.values import ConfigError, expect, optional, parse_location, reject_unknown_keys

CONFIG_KEY = "landingZone"
"""Bare config key (namespace exo-automation)."""
ARCHETYPES = ("corp", "online")
_FIELDS = ("archetype", "privateEndpoints")
_ENDPOINT_FIELDS = ("subnetId", "location")

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A subnet's ARM id; names as the network naming rules allow them (1-80 characters, no '/').
SUBNET_ID = re.compile(
    rf"/subscriptions/{_GUID}/resourceGroups/[-\w\._\(\)]{{1,90}}/providers/Microsoft\.Network/virtualNetworks/[^/]{{1,80}}/subnets/[^/]{{1,80}}",
    re.IGNORECASE,
)
_ANY_RESOURCE_ID = re.compile(rf"/subscriptions/{_GUID}/resourceGroups/[^/]+/providers/([^/]+/[^/]+)/[^/]+(/.*)?", re.IGNORECASE)


@dataclass(frozen=True)
class LandingZoneSpec:
    archetype: str
    """corp or online: the ALZ management group the subscription sits under."""
    private_endpoints: PrivateEndpointSpec | None = None
    """Corp only; None: the network team brings the private endpoints (the existing-network option, docs/landing-zone.md)."""

    @property
    def private(self) -> bool:
        """Public network access off on the Automation account and the vault."""
        return self.archetype == "corp"


def parse_subnet_id(key: str, value: Any) -> str:
    text = expect(key, value, str, "a subnet resource id")
    if SUBNET_ID.fullmatch(text):
        return text
    other = _ANY_RESOURCE_ID.fullmatch(text)
    if other is not None and other.group(1).lower() == "microsoft.network/virtualnetworks" and not other.group(2):
        raise ConfigError(key, f"{text!r} is a virtual network, not a subnet: append /subnets/<subnet name>")
    if other is not None:
        raise ConfigError(key, f"{text!r} is a {other.group(1)} resource, not a subnet (Microsoft.Network/virtualNetworks/subnets)")
    raise ConfigError(
        key,
        f"{text!r} is not a subnet resource id: "
        "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<network>/subnets/<subnet>",
    )


def parse_landing_zone(key: str, raw: Any) -> LandingZoneSpec | None:
    """The switch, or None when the key is absent or {} (Pulumi.yaml's default): no landing-zone behaviour, no warnings."""
    if raw is None:
        return None
    mapping = expect(key, raw, dict, f"an object such as {{archetype: corp}} (archetype: {' or '.join(ARCHETYPES)})")
    if not mapping:
        return None
    reject_unknown_keys(key, mapping, _FIELDS)
    archetype = expect(f"{key}.archetype", mapping.get("archetype"), str, f"{' or '.join(ARCHETYPES)}").lower()
    if archetype not in ARCHETYPES:
        raise ConfigError(f"{key}.archetype", f"{mapping['archetype']!r} is not one of {', '.join(ARCHETYPES)}")
    raw_endpoints = mapping.get("privateEndpoints")
    if raw_endpoints is None:
        return LandingZoneSpec(archetype)
    endpoints_key = f"{key}.privateEndpoints"
    if archetype != "corp":
        raise ConfigError(
            endpoints_key, "only with archetype corp: Online landing zones allow public endpoints, and the account keeps them"
        )
    endpoints = expect(endpoints_key, raw_endpoints, dict, "an object with subnetId (and location)")
    reject_unknown_keys(endpoints_key, endpoints, _ENDPOINT_FIELDS)
    if endpoints.get("subnetId") is None:
        raise ConfigError(f"{endpoints_key}.subnetId", "is required: the subnet the private endpoints get their addresses from")
    return LandingZoneSpec(
        archetype,
        PrivateEndpointSpec(
            subnet_id=parse_subnet_id(f"{endpoints_key}.subnetId", endpoints["subnetId"]),
            location=optional(endpoints, "location", None, lambda v: parse_location(f"{endpoints_key}.location", v)),
        ),
    )
