"""Hand the stack's Exchange app-only certificate over to Windows hosts.

`python -m certtool export` writes a PFX whose private key Windows imports into a CSP (not CNG) key
provider; `python -m certtool verify` reports on a PFX or PEM and compares it with the stack's current
credential. See docs/certificate-handover.md.
"""
