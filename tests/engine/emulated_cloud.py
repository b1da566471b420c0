"""The emulated cloud behind the engine tests' provider plugins: the SDK tests' MockTenant (one model of Azure and Entra, the same
rules), kept in a file because every CLI command starts new provider processes.

Each provider request locks the file, loads the tenant, applies the tenant's rules and saves it. The clock is the real clock plus
the offset the test moves (EXO_TESTS_CLOCK_OFFSET_SECONDS, as tests/shifted_clock uses it), so the program and these emulated
providers agree on "now". A test acts as a person in the portal through `portal()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from tests.mock_tenant import MockTenant
from tests.shifted_clock import OFFSET_VARIABLE


def _process_clock() -> dt.datetime:
    # The offset the test set, added here rather than by time-machine (tests/shifted_clock/site): a gRPC server under time-machine's
    # moved time.time() never finishes starting (its completion-queue deadlines are read from the moved clock).
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(os.environ.get(OFFSET_VARIABLE) or 0))


def _save(tenant: MockTenant, path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    state = dict(vars(tenant))
    # What a file cannot hold: the clock (each process reads its own, moved by the test) and the tls keys (kept as PEM).
    state.pop("clock", None)
    state["_keys"] = {
        pem: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        for pem, key in tenant._keys.items()  # pyright: ignore[reportPrivateUsage]
    }
    state["registrations"], state["calls"], state["registered_outputs"] = [], [], {}
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(pickle.dumps(state))
    temporary.replace(path)


def _load(path: Path) -> MockTenant:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    state: dict[str, Any] = pickle.loads(path.read_bytes())  # noqa: S301 - the tests' own file
    tenant = MockTenant.__new__(MockTenant)
    vars(tenant).update(state)
    tenant.clock = _process_clock
    tenant._keys = {  # pyright: ignore[reportPrivateUsage]
        pem: cast("rsa.RSAPrivateKey", serialization.load_pem_private_key(der, password=None)) for pem, der in state["_keys"].items()
    }
    return tenant


def create(path: Path, **tenant_options: Any) -> MockTenant:
    """A new tenant and subscription, saved to `path`."""
    tenant = MockTenant(**tenant_options)
    _save(tenant, path)
    return tenant


@contextlib.contextmanager
def locked(path: Path) -> Iterator[MockTenant]:
    """The tenant, exclusively, for one request; saved when the block ends without an error."""
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            tenant = _load(path)
            yield tenant
            _save(tenant, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read(path: Path) -> MockTenant:
    """A snapshot of the tenant, for a test's assertions."""
    with locked(path) as tenant:
        return tenant


portal = locked
"""A person in the portal: `with portal(path) as tenant: tenant.delete_outside_pulumi(...)`; saved afterwards."""
