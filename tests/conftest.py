"""Fixtures shared by every test folder."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from tests.exchange_reference import load_exchange_reference

# The collector as Python set it up, before any test ran the program (which tunes it for its one evaluation).
PYTHON_GC_THRESHOLD = gc.get_threshold()


@pytest.fixture(autouse=True)
def collector_as_python_sets_it() -> Iterator[None]:
    """Undo the program's collector tuning (exo/evaluation_gc.py) after every test.

    The tuning suits one evaluation in its own process; a test process evaluates the program hundreds of times, and objects frozen
    or thresholds raised for one test would keep the next tests' garbage uncollected.
    """
    yield
    gc.unfreeze()
    gc.set_threshold(*PYTHON_GC_THRESHOLD)
    gc.enable()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        default=None,
        help="move the process clock for the whole run: +Nd (N days ahead) or an ISO 8601 moment, e.g. 2028-02-29T12:00:00Z",
    )


def pytest_configure(config: pytest.Config) -> None:
    option = config.getoption("--clock")
    if option:
        from tests.shifted_clock import start

        config.stash[_TRAVELLER] = start(option)


def pytest_report_header(config: pytest.Config) -> str | None:
    option = config.getoption("--clock")
    return f"clock moved: --clock={option}" if option else None


_TRAVELLER = pytest.StashKey[Any]()


@pytest.fixture(scope="session")
def exchange_reference() -> dict[str, dict[str, Any]]:
    """Microsoft's Exchange cmdlet reference as data (which cmdlets and parameters exist in Exchange Online)."""
    return load_exchange_reference()
