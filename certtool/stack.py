# pyright: strict
"""The stack outputs the tool needs: `identities` (not secret) and `privateKeys` (secret).

Read from `pulumi stack output --show-secrets --json`, or from a file or stdin holding that JSON, so the tool
can be tested and used without the Pulumi CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from certtool.errors import BadInputError, MissingOutputError, PulumiCliError

# What `pulumi stack output --json` prints for a secret when --show-secrets is missing.
_SECRET_PLACEHOLDER = "[secret]"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Identity:
    """One entry of the `identities` output: the app a certificate belongs to."""

    name: str
    client_id: str
    organization: str
    thumbprint: str
    certificate_pem: str
    certificate_not_after: str | None
    exchange_environment_name: str | None
    certificate_source: str | None = None
    """"generated" (the key is in the stack) or "host" (made on the host; the stack has only the public certificate)."""
    accepted_thumbprints: tuple[str, ...] = ()
    """Every certificate the app accepts (`credentials`), the current one included; empty from older stacks."""


@dataclass(frozen=True)
class StackOutputs:
    """The parsed outputs; `source` names where they came from, for error messages."""

    values: Mapping[str, Any]
    source: str

    def identity_names(self) -> list[str]:
        return sorted(self._identities())

    def identity(self, name: str | None) -> Identity:
        """The named identity, or the only one when `name` is None."""
        identities = self._identities()
        if name is None:
            if len(identities) != 1:
                raise MissingOutputError(
                    f"{self.source}: the stack has {len(identities)} identities ({', '.join(sorted(identities)) or 'none'}); "
                    "choose one with --identity NAME."
                )
            name = next(iter(identities))
        if name not in identities:
            raise MissingOutputError(
                f"{self.source}: no identity '{name}' in output 'identities' (have: {', '.join(sorted(identities)) or 'none'})."
            )
        entry = identities[name]
        if not isinstance(entry, Mapping):
            raise BadInputError(f"{self.source}: output 'identities.{name}' is not an object.")
        entry = cast(Mapping[str, Any], entry)
        return Identity(
            name=name,
            client_id=_required_text(entry, name, "clientId", self.source),
            organization=_required_text(entry, name, "organization", self.source),
            thumbprint=_required_text(entry, name, "thumbprint", self.source).upper(),
            certificate_pem=_required_text(entry, name, "certificatePem", self.source),
            certificate_not_after=_optional_text(entry, "certificateNotAfter"),
            exchange_environment_name=_optional_text(entry, "exchangeEnvironmentName"),
            certificate_source=_optional_text(entry, "certificateSource"),
            accepted_thumbprints=_credential_thumbprints(entry),
        )

    def private_key_pem(self, name: str) -> str:
        """The secret `privateKeys.<name>` PEM."""
        keys = self.values.get("privateKeys")
        if keys is None:
            raise MissingOutputError(f"{self.source}: the stack has no output 'privateKeys'.")
        if keys == _SECRET_PLACEHOLDER:
            raise MissingOutputError(
                f"{self.source}: output 'privateKeys' is masked as [secret]; read the outputs with "
                "`pulumi stack output --show-secrets --json`."
            )
        if not isinstance(keys, Mapping):
            raise BadInputError(f"{self.source}: output 'privateKeys' is not an object.")
        keys = cast(Mapping[str, Any], keys)
        value = keys.get(name)
        if value is None:
            raise MissingOutputError(f"{self.source}: no private key 'privateKeys.{name}' in the stack outputs.")
        if value == _SECRET_PLACEHOLDER:
            raise MissingOutputError(f"{self.source}: 'privateKeys.{name}' is masked as [secret]; use --show-secrets.")
        if not isinstance(value, str) or not value.strip():
            raise BadInputError(f"{self.source}: 'privateKeys.{name}' is not a PEM string.")
        return value

    def _identities(self) -> Mapping[str, Any]:
        identities = self.values.get("identities")
        if identities is None:
            raise MissingOutputError(
                f"{self.source}: the stack has no output 'identities'; is this the exo-automation stack, after `pulumi up`?"
            )
        if not isinstance(identities, Mapping):
            raise BadInputError(f"{self.source}: output 'identities' is not an object.")
        return cast(Mapping[str, Any], identities)


def parse_stack_outputs(text: str, source: str) -> StackOutputs:
    """Parse the JSON printed by `pulumi stack output --json`."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInputError(f"{source}: not JSON stack outputs ({error}).") from error
    if not isinstance(values, dict):
        raise BadInputError(f"{source}: stack outputs must be a JSON object, got {type(values).__name__}.")
    return StackOutputs(cast(dict[str, Any], values), source)


def run_pulumi_stack_output(stack: str | None, cwd: str | None, runner: Runner | None = None) -> StackOutputs:
    """Run `pulumi stack output --show-secrets --json` and parse its output."""
    command = [
        "pulumi",
        "stack",
        "output",
        "--show-secrets",
        "--json",
        "--non-interactive",
    ]
    if stack:
        command += ["--stack", stack]
    if cwd:
        command += ["--cwd", cwd]
    if runner is None:
        if shutil.which("pulumi") is None:
            raise PulumiCliError(
                "the Pulumi CLI is not on PATH; install it, or pass the outputs with --stack-outputs FILE "
                "(from `pulumi stack output --show-secrets --json > FILE`) or --pem files."
            )
        runner = _run
    completed = runner(command)
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip() or f"exit code {completed.returncode}"
        raise PulumiCliError(f"`{' '.join(command)}` failed: {detail}")
    return parse_stack_outputs(completed.stdout, "pulumi stack output")


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


def _required_text(entry: Mapping[str, Any], name: str, key: str, source: str) -> str:
    value = entry.get(key)
    if value is None:
        raise MissingOutputError(f"{source}: output 'identities.{name}.{key}' is missing.")
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f"{source}: output 'identities.{name}.{key}' must be a non-empty string.")
    return value.strip()


def _optional_text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None


def _credential_thumbprints(entry: Mapping[str, Any]) -> tuple[str, ...]:
    credentials = entry.get("credentials")
    if not isinstance(credentials, list):
        return ()
    items = cast(list[Any], credentials)
    return tuple(
        str(cast(Mapping[str, Any], item)["thumbprint"]).upper()
        for item in items
        if isinstance(item, Mapping) and isinstance(cast(Mapping[str, Any], item).get("thumbprint"), str)
    )
