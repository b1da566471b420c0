# pyright: strict
"""Command line: `python -m certtool export|verify ...`."""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certtool import material, pfx
from certtool.errors import BadInputError, CertToolError, PasswordSourceError
from certtool.stack import (
    Identity,
    StackOutputs,
    parse_stack_outputs,
    run_pulumi_stack_output,
)

MIN_PASSWORD_LENGTH = 12
EXIT_MISMATCH = 3
EXIT_EXPIRED = 4
EXIT_TOO_FEW_DAYS = 5
WARN_DAYS = 30


@dataclass
class Environment:
    """What the commands take from the outside world; tests replace parts of it."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdin: Any = None  # binary stream; default sys.stdin.buffer
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    prompt: Callable[[str], str] = getpass.getpass
    terminal_available: Callable[[], bool] = lambda: _terminal_available()
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    run_pulumi: Callable[[str | None, str | None], StackOutputs] = lambda stack, cwd: run_pulumi_stack_output(stack, cwd)

    def read_stdin(self) -> bytes:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        return stream.read()


class _RefusePasswordArgument(argparse.Action):
    """A password given as an argument lands in shell history and process listings: refuse it by name."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        parser.error(
            f"{option_string} is refused: a password on the command line is visible in shell history and to other "
            "processes. Use --password-env VAR (an environment variable) or answer the prompt."
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m certtool",
        description="Hand the stack's Exchange app-only certificate over to Windows hosts (PFX for a CSP key provider).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser(
        "export",
        help="write a password-protected PFX of an identity's certificate and key",
        description="Write a PFX whose key bag names the 'Microsoft Enhanced RSA and AES Cryptographic Provider', so "
        "Windows imports the key into a CSP (Exchange rejects CNG keys).",
    )
    _add_stack_source(export)
    export.add_argument(
        "--pem",
        action="append",
        metavar="PATH",
        help="read the certificate and private key from PEM file(s) instead of the stack ('-' = stdin); repeatable",
    )
    export.add_argument("--out", required=True, metavar="PATH", help="PFX file to write (mode 0600)")
    export.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    export.add_argument(
        "--encryption",
        choices=[choice.value for choice in pfx.PfxEncryption],
        default=pfx.PfxEncryption.TRIPLEDES_SHA1.value,
        help="tripledes-sha1 (default) imports on every supported Windows including Server 2016; aes256-sha256 needs "
        "Windows 10 1709 / Server 2019 or later",
    )
    export.add_argument(
        "--friendly-name",
        metavar="TEXT",
        help="name Windows shows for the certificate (default: identity and expiry)",
    )
    _add_password_options(export)

    verify = commands.add_parser(
        "verify",
        help="report on a PFX or PEM and compare it with the stack's current credential",
        description="Report thumbprint, expiry and days left, and whether the certificate is the one the stack "
        "registered on the app. Exit codes: 0 ok, 3 not the current credential, 4 expired or not yet valid, "
        "5 fewer than --min-days days left, 1 other errors, 2 usage.",
    )
    material_source = verify.add_mutually_exclusive_group(required=True)
    material_source.add_argument("--pfx", metavar="PATH", help="PFX file to check ('-' = stdin)")
    material_source.add_argument(
        "--pem",
        action="append",
        metavar="PATH",
        help="PEM file(s) with the certificate and optionally its key ('-' = stdin)",
    )
    _add_stack_source(verify)
    verify.add_argument("--no-stack", action="store_true", help="do not compare with the stack outputs")
    verify.add_argument(
        "--min-days",
        type=int,
        default=0,
        metavar="N",
        help="exit 5 when fewer than N days are left",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_password_options(verify)
    return parser


def _add_stack_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stack outputs (default: run `pulumi stack output --show-secrets --json`)")
    group.add_argument(
        "--stack-outputs",
        metavar="FILE",
        help="read the JSON of `pulumi stack output --show-secrets --json` from FILE ('-' = stdin)",
    )
    group.add_argument("--stack", metavar="NAME", help="stack to read with the Pulumi CLI")
    group.add_argument("--cwd", metavar="DIR", help="Pulumi project directory for the Pulumi CLI")
    group.add_argument(
        "--identity",
        metavar="NAME",
        help="identity in the 'identities' output (default: the only one)",
    )


def _add_password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="take the PFX password from environment variable VAR (default: prompt)",
    )
    for refused in ("--password", "--pass", "--passout", "--passin"):
        parser.add_argument(refused, action=_RefusePasswordArgument, nargs="?", help=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            return run_export(args, env)
        return run_verify(args, env)
    except CertToolError as error:
        print(f"error: {error}", file=env.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=env.stderr)
        return 130


@dataclass(frozen=True)
class _Material:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | None
    source: str


def run_export(args: argparse.Namespace, env: Environment) -> int:
    identity: Identity | None = None
    if args.stack_outputs == "-" and "-" in (args.pem or []):
        raise BadInputError("stdin ('-') can feed only one input.")
    if args.pem:
        if args.stack_outputs or args.stack or args.identity:
            raise BadInputError("--pem replaces the stack outputs; do not combine it with --stack-outputs, --stack or --identity.")
        loaded = _load_pem_material(args.pem, env)
        if loaded.private_key is None:
            raise BadInputError(f"{loaded.source}: no private key found; give the key PEM too (--pem key.pem).")
        certificate, private_key, what = (
            loaded.certificate,
            loaded.private_key,
            loaded.source,
        )
    else:
        outputs = _load_stack(args, env)
        identity = outputs.identity(args.identity)
        what = f"identity '{identity.name}' ({outputs.source})"
        if identity.certificate_source == "host":
            raise BadInputError(
                f"{what} uses host certificates: the private key was made on the host and never left it, so there is nothing to "
                "export. Make a certificate on each host with scripts/windows/New-ExoHostCertificate.ps1 instead "
                "(docs/certificate-handover.md, 'Host certificates')."
            )
        certificate = material.load_certificate_pem(identity.certificate_pem, f"identities.{identity.name}.certificatePem")
        private_key = material.load_private_key_pem(outputs.private_key_pem(identity.name), f"privateKeys.{identity.name}")
        if material.thumbprint(certificate) != identity.thumbprint:
            raise BadInputError(
                f"{what}: output thumbprint {identity.thumbprint} is not the SHA-1 of certificatePem "
                f"({material.thumbprint(certificate)}); the outputs are inconsistent, run `pulumi up` and retry."
            )
    material.ensure_key_matches(private_key, certificate, what)
    state = material.ensure_currently_valid(certificate, env.now(), what)

    if os.path.exists(args.out) and not args.force:
        raise BadInputError(f"{args.out} exists; pass --force to overwrite it.")
    encryption = pfx.PfxEncryption(args.encryption)
    password = _read_password(args.password_env, env, confirm=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordSourceError(
            f"the PFX password must have at least {MIN_PASSWORD_LENGTH} characters; "
            "it guards a key that can run Exchange as an administrator."
        )
    friendly_name = args.friendly_name or _default_friendly_name(identity, state.not_after)
    data = pfx.build_pfx(
        private_key,
        certificate,
        password,
        encryption=encryption,
        friendly_name=friendly_name,
    )

    # Read the PFX back as an importer would before writing it out.
    written = pfx.read_pfx(data, password, args.out)
    if (
        material.thumbprint(written.certificate) != material.thumbprint(certificate)
        or not material.key_matches_certificate(written.private_key, written.certificate)
        or written.csp_name != pfx.CSP_NAME
    ):
        raise CertToolError("internal check failed: the written PFX does not read back as the same key, certificate and CSP name")
    _write_private_file(args.out, data)

    out = env.stdout
    print(f"Wrote {args.out}", file=out)
    print(f"  thumbprint:  {material.thumbprint(certificate)}", file=out)
    print(f"  subject:     {certificate.subject.rfc4514_string()}", file=out)
    print(
        f"  not after:   {state.not_after.isoformat()} ({state.days_left} days left)",
        file=out,
    )
    print(f"  key bag CSP: {written.csp_name}", file=out)
    print(
        f"  encryption:  {encryption.value}: imports on {encryption.windows_support}",
        file=out,
    )
    if identity is not None:
        print(f"  app:         {identity.client_id} in {identity.organization}", file=out)
    if state.days_left < WARN_DAYS:
        print(
            f"warning: only {state.days_left} days left; rotate soon (see docs/certificate-handover.md).",
            file=env.stderr,
        )
    print(
        "Next: copy it to the host and run scripts/windows/Install-ExoCertificate.ps1 -PfxPath <file> -TaskAccount <account>.",
        file=out,
    )
    return 0


def run_verify(args: argparse.Namespace, env: Environment) -> int:
    if args.no_stack and (args.stack_outputs or args.stack or args.identity):
        raise BadInputError("--no-stack conflicts with --stack-outputs, --stack and --identity.")
    if args.stack_outputs == "-" and (args.pfx == "-" or "-" in (args.pem or [])):
        raise BadInputError("stdin ('-') can feed only one input; give the stack outputs or the certificate as a file.")
    report: dict[str, Any] = {}
    if args.pfx:
        source = "stdin" if args.pfx == "-" else args.pfx
        data = env.read_stdin() if args.pfx == "-" else _read_file(args.pfx)
        password = _read_password(args.password_env, env, confirm=False)
        contents = pfx.read_pfx(data, password, source)
        loaded = _Material(contents.certificate, contents.private_key, source)
        report["pfx"] = {
            "cspName": contents.csp_name,
            "friendlyName": contents.friendly_name,
            "keyEncryption": contents.key_encryption,
            "certificateEncryption": contents.certificate_encryption,
            "macDigest": contents.mac_digest,
            "macIterations": contents.mac_iterations,
            "windowsSupport": contents.encryption.windows_support if contents.encryption else "unknown encryption profile",
            "importsIntoCsp": contents.csp_name is not None and "Key Storage Provider" not in contents.csp_name,
        }
    else:
        if args.password_env:
            raise BadInputError("--password-env applies to --pfx only; PEM input is not password-protected here.")
        loaded = _load_pem_material(args.pem, env)

    certificate = loaded.certificate
    if loaded.private_key is not None:
        material.ensure_key_matches(loaded.private_key, certificate, loaded.source)
    state = material.validity(certificate, env.now())
    report.update(
        {
            "source": loaded.source,
            "subject": certificate.subject.rfc4514_string(),
            "thumbprint": material.thumbprint(certificate),
            "notBefore": state.not_before.isoformat(),
            "notAfter": state.not_after.isoformat(),
            "daysLeft": state.days_left,
            "expired": state.expired,
            "notYetValid": state.not_yet_valid,
            "privateKey": "absent" if loaded.private_key is None else "matches the certificate",
        }
    )

    matches: bool | None = None
    if not args.no_stack:
        outputs = _load_stack(args, env)
        identity = outputs.identity(args.identity)
        matches = identity.thumbprint == report["thumbprint"]
        report["stack"] = {
            "identity": identity.name,
            "clientId": identity.client_id,
            "organization": identity.organization,
            "currentThumbprint": identity.thumbprint,
            "certificateNotAfter": identity.certificate_not_after,
            "matchesCurrentCredential": matches,
        }
        if identity.certificate_source is not None:
            report["stack"]["certificateSource"] = identity.certificate_source
        if identity.accepted_thumbprints:
            # Still accepted (an overlap in progress) even when not current: exit 3 says switch, this says it still works.
            report["stack"]["acceptedByApp"] = report["thumbprint"] in identity.accepted_thumbprints

    exit_code = 0
    if matches is False:
        exit_code = EXIT_MISMATCH
    if state.expired or state.not_yet_valid:
        exit_code = EXIT_EXPIRED
    elif exit_code == 0 and state.days_left < args.min_days:
        exit_code = EXIT_TOO_FEW_DAYS
    report["exitCode"] = exit_code

    if args.json:
        print(json.dumps(report, indent=2), file=env.stdout)
    else:
        _print_report(report, env.stdout)
    if not state.expired and state.days_left < WARN_DAYS:
        print(
            f"warning: only {state.days_left} days left; rotate soon (see docs/certificate-handover.md).",
            file=env.stderr,
        )
    return exit_code


def _print_report(report: Mapping[str, Any], out: TextIO) -> None:
    lines = [
        ("Source", report["source"]),
        ("Subject", report["subject"]),
        ("Thumbprint", report["thumbprint"]),
        ("Not before", report["notBefore"]),
        ("Not after", report["notAfter"]),
        (
            "Days left",
            "expired" if report["expired"] else ("not yet valid" if report["notYetValid"] else str(report["daysLeft"])),
        ),
        ("Private key", report["privateKey"]),
    ]
    pfx_report = report.get("pfx")
    if isinstance(pfx_report, Mapping):
        lines += [
            (
                "Key bag CSP",
                pfx_report["cspName"] or "none (Windows picks the provider; .NET/Import-PfxCertificate may choose CNG)",
            ),
            ("Key encryption", pfx_report["keyEncryption"]),
            ("Cert encryption", pfx_report["certificateEncryption"]),
            (
                "Integrity MAC",
                f"{pfx_report['macDigest']} x {pfx_report['macIterations']}" if pfx_report["macDigest"] else "none",
            ),
            ("Imports on", pfx_report["windowsSupport"]),
        ]
    stack_report = report.get("stack")
    if isinstance(stack_report, Mapping):
        verdict = (
            "yes"
            if stack_report["matchesCurrentCredential"]
            else f"NO (the stack's current thumbprint is {stack_report['currentThumbprint']})"
        )
        lines += [
            (
                "Identity",
                f"{stack_report['identity']} (app {stack_report['clientId']}, {stack_report['organization']})",
            ),
            ("Current credential", verdict),
        ]
        if "acceptedByApp" in stack_report:
            lines.append(("Accepted by app", "yes" if stack_report["acceptedByApp"] else "no"))
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label + ':':<{width + 1}} {value}", file=out)


def _load_stack(args: argparse.Namespace, env: Environment) -> StackOutputs:
    if args.stack_outputs:
        if args.stack or args.cwd:
            raise BadInputError("--stack-outputs replaces the Pulumi CLI; do not combine it with --stack or --cwd.")
        if args.stack_outputs == "-":
            return parse_stack_outputs(env.read_stdin().decode("utf-8", errors="replace"), "stdin")
        return parse_stack_outputs(
            _read_file(args.stack_outputs).decode("utf-8", errors="replace"),
            args.stack_outputs,
        )
    return env.run_pulumi(args.stack, args.cwd)


def _load_pem_material(paths: Sequence[str], env: Environment) -> _Material:
    if list(paths).count("-") > 1:
        raise BadInputError("stdin ('-') can be given only once.")
    certificates: list[x509.Certificate] = []
    keys: list[rsa.RSAPrivateKey] = []
    for path in paths:
        source = "stdin" if path == "-" else path
        data = env.read_stdin() if path == "-" else _read_file(path)
        bundle = material.load_pem_bundle(data, source)
        certificates.extend(bundle.certificates)
        if bundle.private_key is not None:
            keys.append(bundle.private_key)
    what = ", ".join("stdin" if path == "-" else path for path in paths)
    if len(certificates) != 1:
        raise BadInputError(f"{what}: expected exactly one certificate, found {len(certificates)}.")
    if len(keys) > 1:
        raise BadInputError(f"{what}: expected at most one private key, found {len(keys)}.")
    return _Material(certificates[0], keys[0] if keys else None, what)


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise BadInputError(f"{path}: cannot read ({error.strerror or error}).") from error


def _read_password(variable: str | None, env: Environment, *, confirm: bool) -> str:
    if variable:
        value = env.environ.get(variable)
        if value is None:
            raise PasswordSourceError(f"environment variable {variable} (from --password-env) is not set.")
        if not value:
            raise PasswordSourceError(f"environment variable {variable} (from --password-env) is empty.")
        return value
    if not env.terminal_available():
        raise PasswordSourceError("no terminal to prompt for the PFX password; pass --password-env VAR.")
    first = env.prompt("PFX password: ")
    if confirm and env.prompt("PFX password (again): ") != first:
        raise PasswordSourceError("the two passwords differ.")
    if not first:
        raise PasswordSourceError("the PFX password is empty.")
    return first


def _default_friendly_name(identity: Identity | None, not_after: datetime.datetime) -> str:
    who = f"exo-automation {identity.name}" if identity else "exo-automation"
    return f"{who} until {not_after.date().isoformat()}"


def _write_private_file(path: str, data: bytes) -> None:
    """Write atomically with owner-only permissions: the PFX is only as safe as its password."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise BadInputError(f"{path}: cannot write ({error.strerror or error}).") from error


def _terminal_available() -> bool:
    if sys.stdin.isatty():
        return True
    try:
        with open("/dev/tty"):
            return True
    except OSError:
        return False
