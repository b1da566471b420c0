# pyright: strict
"""Errors the tool reports to its user: one message each, saying what is wrong and what to do."""

from __future__ import annotations


class CertToolError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = 1


class MissingOutputError(CertToolError):
    """The stack outputs lack a value the command needs."""


class BadInputError(CertToolError):
    """A file or stream is unreadable or is not what it should be."""


class WrongPasswordError(CertToolError):
    """The PFX password is wrong (its integrity check failed)."""


class KeyMismatchError(CertToolError):
    """The private key does not belong to the certificate."""


class ExpiredCertificateError(CertToolError):
    """The certificate is outside its validity period."""

    exit_code = 4


class PasswordSourceError(CertToolError):
    """No acceptable password source, or an unacceptable password."""


class PulumiCliError(CertToolError):
    """Running `pulumi stack output` failed."""
