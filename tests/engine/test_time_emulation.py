"""The emulated `time` plugin's Static, in process (no CLI needed): unknown in a preview, the cloud's clock at creation, kept until
its triggers change (pulumiverse/time `time_static`: `triggers` force a new resource)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2

from tests.engine import emulated_cloud
from tests.engine.emulated_provider import UNKNOWN, EmulatedProvider, raw, to_struct
from tests.shifted_clock import OFFSET_VARIABLE

URN = "urn:pulumi:dev::exo-automation::exo-automation:index:RunbookSchedules$time:index/static:Static::schedule-anchor"


class Context:
    def abort(self, _code: Any, details: str) -> None:
        raise AssertionError(details)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        cloud = Path(folder) / "cloud.pickle"
        emulated_cloud.create(cloud, seed=1)
        monkeypatch.setenv(OFFSET_VARIABLE, str(3 * 86400))
        yield EmulatedProvider("time", "0.1.0", cloud)


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return to_struct(value)


def test_static_is_unknown_in_preview_then_the_clock_at_creation_and_replaced_by_new_triggers(provider: EmulatedProvider) -> None:
    inputs = {"triggers": {"schedules": "Day-1"}}
    planned = provider.Create(provider_pb2.CreateRequest(urn=URN, properties=struct(inputs), preview=True), Context())
    assert raw(planned.properties)["rfc3339"] == UNKNOWN
    made = provider.Create(provider_pb2.CreateRequest(urn=URN, properties=struct(inputs), preview=False), Context())
    stamp = dt.datetime.fromisoformat(raw(made.properties)["rfc3339"].replace("Z", "+00:00"))
    moved = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(os.environ[OFFSET_VARIABLE]))
    assert abs((moved - stamp).total_seconds()) < 60, "created at the cloud's (moved) clock"
    olds = made.properties
    same = provider.Diff(
        provider_pb2.DiffRequest(urn=URN, id=made.id, olds=olds, old_inputs=struct(inputs), news=struct(inputs)), Context()
    )
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    news = struct({"triggers": {"schedules": "Day-1,Week-2"}})
    changed = provider.Diff(provider_pb2.DiffRequest(urn=URN, id=made.id, olds=olds, old_inputs=struct(inputs), news=news), Context())
    assert list(changed.replaces) == ["triggers"]
