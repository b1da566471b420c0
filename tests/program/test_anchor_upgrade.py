"""Issue 18: a stack deployed with the schedules' old dynamic-provider anchor moves to `time:index/static:Static` without its pickled
code ever running (exo/state_upgrade.py on the exported state; docs/schedules-anchor.md), and its Schedules and JobSchedules keep
their start and are neither replaced nor re-created.

The stack before the upgrade is what the program before issue 18 left: the same registrations (that program differed only in the
anchor's type and properties, tests/program/registered_urns.json), its anchor a `pulumi-python:dynamic:Resource` whose `__provider`
is a live pickle that would leave a mark on disk if anything unpickled it.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc

from exo.state_upgrade import DYNAMIC_PROVIDER_TYPE, StateUpgradeError, code_in_state, upgrade
from tests.fixtures import automation_stack
from tests.harness import PROJECT, REPO, Deployment, evaluate
from tests.mock_tenant import JOB_SCHEDULE, SCHEDULE, TIME_STATIC, MockTenant, StoredResource, comparable, is_secret, is_unknown
from tests.program.test_runbook_lifecycle import Clock

OLD_ANCHOR = "pulumi-python:dynamic:Resource"
ANCHOR = "schedule-created"
# How `pulumi stack export` writes a secret (pulumi/pulumi sdk/go/common/resource/sig: the secret signature) when shown.
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
ASSET_SIG_KEY, ASSET_SIG = "4dabf18193072939515e22adb298388d", "c44067f5952c0a294b673a41bacd8c17"


class _LeavesAMark:
    """Unpickling this creates the file `path`: the stand-in for code an attacker put in the state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.path,))


def trap(path: Path) -> str:
    """A `__provider` value as a dynamic resource stores it (base64 of a pickle) that, unpickled, creates `path`."""
    return base64.b64encode(pickle.dumps(_LeavesAMark(path))).decode()


def exported(value: Any) -> Any:
    """A state value as `pulumi stack export --show-secrets` writes it: secrets and assets as signed objects (pulumi/pulumi
    sdk/go/common/resource/sig, asset serialisation), everything else as JSON."""
    if is_secret(value):
        return {**SECRET, "plaintext": json.dumps(exported(value["value"]))}
    if isinstance(value, pulumi.FileAsset | pulumi.StringAsset):
        return {ASSET_SIG_KEY: ASSET_SIG, **comparable(value), **({"path": str(value.path)} if isinstance(value, pulumi.FileAsset) else {})}
    if isinstance(value, dict):
        return {k: exported(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exported(v) for v in value]
    return value


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[1]


def old_stack_export(tenant: MockTenant, deployed: Deployment, provider_code: str, stack: str = "dev") -> dict[str, Any]:
    """The `pulumi stack export` (version 3, secrets shown) of the stack as the program before issue 18 left it after `deployed`
    (an `up`): every registration with the state the tenant stored, the default providers, and the anchor as a dynamic resource.
    The mock tenant's own state is turned into the old one alike (its anchor stored under the dynamic type)."""
    stack_urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"
    (anchor,) = deployed.of_type(TIME_STATIC)
    old_anchor_urn = anchor.urn.replace(f"${TIME_STATIC}::", f"${OLD_ANCHOR}::")
    stored_anchor = tenant.state.pop((TIME_STATIC, anchor.name))
    created = stored_anchor.outputs["rfc3339"]
    code = {**SECRET, "value": provider_code}  # a secret, as the SDK marks `__provider`
    old_outputs = {"created": created, "triggers": stored_anchor.inputs["triggers"], "__provider": code}
    tenant.state[(OLD_ANCHOR, anchor.name)] = StoredResource(f"{created}-0a1b2c3d", {**stored_anchor.inputs}, old_outputs)

    def old(urn: str) -> str:
        return old_anchor_urn if urn == anchor.urn else urn

    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}]
    providers: dict[str, str] = {}
    for registration in deployed.registrations:
        resource: dict[str, Any] = {
            "urn": old(registration.urn),
            "custom": registration.custom,
            "type": OLD_ANCHOR if registration is anchor else registration.type,
            "parent": registration.parent or stack_urn,
            "dependencies": [old(urn) for urn in registration.dependencies],
            "propertyDependencies": {k: [old(urn) for urn in v] for k, v in registration.property_dependencies.items()},
        }
        if registration.custom:
            package = "pulumi-python" if registration is anchor else registration.type.split(":")[0]
            if package not in providers:
                provider_urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:{package}::default"
                provider_id = str(uuid.uuid4())
                resources.append({"urn": provider_urn, "custom": True, "id": provider_id, "type": f"pulumi:providers:{package}"})
                providers[package] = f"{provider_urn}::{provider_id}"
            stored = tenant.state[(resource["type"], registration.name)]
            inputs = {"triggers": stored.inputs["triggers"], "__provider": code} if registration is anchor else stored.inputs
            outputs = old_outputs if registration is anchor else stored.outputs
            resource.update(id=stored.id, inputs=exported(inputs), outputs=exported(outputs), provider=providers[package])
        resources.append(resource)
    return {"version": 3, "deployment": {"manifest": {"magic": "", "version": "v3.272.0"}, "resources": resources}}


def integrity_problems(export: dict[str, Any]) -> list[str]:
    """What `pulumi stack import` would refuse (pulumi/pulumi pkg/resource/deploy/snapshot.go, VerifyIntegrity): a parent, provider,
    dependency, property dependency or deletedWith that is not a resource listed before the one that refers to it."""
    problems: list[str] = []
    seen: set[str] = set()
    for resource in export["deployment"]["resources"]:
        referred = [resource.get("parent"), (resource.get("provider") or "").rsplit("::", 1)[0], resource.get("deletedWith")]
        referred += resource.get("dependencies") or []
        referred += [urn for urns in (resource.get("propertyDependencies") or {}).values() for urn in urns]
        problems += [f"{resource['urn']} refers to {urn}" for urn in referred if urn and urn not in seen]
        seen.add(resource["urn"])
    return problems


def import_into(tenant: MockTenant, export: dict[str, Any]) -> None:
    """`pulumi stack import`: the tenant's state holds what the export lists, nothing else."""
    listed = {(r["type"], _name(r["urn"])) for r in export["deployment"]["resources"]}
    for key in [key for key in tenant.state if key not in listed]:
        del tenant.state[key]


class UpgradeFromTheDynamicAnchor(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.clock = Clock()
        self.tenant = MockTenant(clock=self.clock)
        self.config = automation_stack()
        self.deployed = await evaluate(self.tenant, preview=False, config=self.config)
        self.directory = Path(tempfile.mkdtemp())
        self.mark = self.directory / "the-state-code-ran"
        self.export = old_stack_export(self.tenant, self.deployed, trap(self.mark))
        self.schedules = copy.deepcopy(self.tenant.schedules)
        self.job_schedules = copy.deepcopy(self.tenant.job_schedules)
        self.stored = {key: copy.deepcopy(value) for key, value in self.tenant.state.items() if key[0] in (SCHEDULE, JOB_SCHEDULE)}

    def tearDown(self) -> None:
        for path in self.directory.iterdir():
            path.unlink()
        self.directory.rmdir()

    def test_the_trap_is_live(self) -> None:
        """The stand-in code does run when unpickled, so its mark staying away below means nothing unpickled it."""
        probe = self.directory / "probe"
        pickle.loads(base64.b64decode(trap(probe)))  # noqa: S301 - the point of this test
        self.assertTrue(probe.exists())

    def test_the_old_export_is_a_valid_state_that_pulumi_state_delete_would_refuse(self) -> None:
        self.assertEqual(integrity_problems(self.export), [])
        anchor = next(r["urn"] for r in self.export["deployment"]["resources"] if r["type"] == OLD_ANCHOR)
        dependents = [r["urn"] for r in self.export["deployment"]["resources"] if anchor in r.get("dependencies", [])]
        # Every Schedule's start came from the anchor: `pulumi state delete` of the anchor alone is refused (docs/schedules-anchor.md).
        self.assertEqual({_name(urn) for urn in dependents}, {r.name for r in self.deployed.of_type(SCHEDULE)})

    async def test_schedules_keep_their_start_and_are_neither_replaced_nor_recreated(self) -> None:
        upgraded = upgrade(self.export)
        anchor_urn = next(r["urn"] for r in self.export["deployment"]["resources"] if r["type"] == OLD_ANCHOR)
        provider_urn = next(r["urn"] for r in self.export["deployment"]["resources"] if r["type"] == DYNAMIC_PROVIDER_TYPE)
        self.assertEqual(upgraded.removed, (anchor_urn, provider_urn))
        self.assertEqual(integrity_problems(upgraded.deployment), [], "pulumi stack import takes it")
        after = {r["urn"]: r for r in upgraded.deployment["deployment"]["resources"]}
        before = {r["urn"]: r for r in self.export["deployment"]["resources"] if r["urn"] not in upgraded.removed}
        self.assertEqual(after.keys(), before.keys())
        for urn, resource in after.items():
            with self.subTest(urn):
                # Only references to the removed resources went; inputs, outputs, ids and providers are as exported.
                self.assertEqual(
                    {k: v for k, v in resource.items() if "ependencies" not in k},
                    {k: v for k, v in before[urn].items() if "ependencies" not in k},
                )
        self.assertNotIn("__provider", json.dumps(upgraded.deployment))
        import_into(self.tenant, upgraded.deployment)
        self.assertEqual([key for key in self.tenant.state if key[0] == OLD_ANCHOR], [])

        # Weeks later, the first preview of this version: the new anchor is the one change, its moment unknown.
        self.clock.advance(days=40)
        preview = await evaluate(self.tenant, preview=True, config=self.config)
        changed = [r.name for r in preview.custom() if (r.type, r.name) not in self.tenant.state or self._diff(r)]
        self.assertEqual(changed, [ANCHOR])
        (anchor,) = preview.of_type(TIME_STATIC)
        self.assertEqual(anchor.outputs["rfc3339"], rpc.UNKNOWN)
        for schedule in preview.of_type(SCHEDULE):
            # The program's start is unknown with the anchor; the Schedule ignores it, so the engine keeps the stored one.
            self.assertTrue(is_unknown(schedule.inputs["startTime"]))
            self.assertEqual(schedule.ignore_changes, ["startTime"])

        # The `up`: the anchor is created now; every Schedule and JobSchedule in Azure is the one created 40 days ago.
        deployed = await evaluate(self.tenant, preview=False, config=self.config)
        self.assertEqual(self.tenant.schedules, self.schedules)
        self.assertEqual(self.tenant.job_schedules, self.job_schedules)
        for key, stored in self.stored.items():
            with self.subTest(key):
                self.assertEqual(self.tenant.state[key].id, stored.id)
                self.assertEqual(self.tenant.state[key].outputs, stored.outputs, "the stored start stays")
        (anchor,) = deployed.of_type(TIME_STATIC)
        self.assertEqual(anchor.outputs["rfc3339"], self.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertFalse(self.mark.exists(), "the old anchor's code ran")

    def _diff(self, registration: Any) -> bool:
        stored = self.tenant.state[(registration.type, registration.name)]
        ignored = set(registration.ignore_changes)
        return {k: v for k, v in comparable(stored.inputs).items() if k not in ignored} != registration.diffable()

    def test_the_command_line_writes_the_upgraded_export_and_says_what_it_removed(self) -> None:
        exported = self.directory / "old.json"
        exported.write_text(json.dumps(self.export))
        run = subprocess.run(
            [sys.executable, "-m", "exo.state_upgrade", str(exported)], capture_output=True, text=True, cwd=REPO, check=False
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout), upgrade(self.export).deployment)
        self.assertIn(f"removed urn:pulumi:dev::{PROJECT}::", run.stderr)
        self.assertIn(f"$pulumi-python:dynamic:Resource::{ANCHOR}", run.stderr)
        again = self.directory / "new.json"
        again.write_text(run.stdout)
        second = subprocess.run(
            [sys.executable, "-m", "exo.state_upgrade", str(again)], capture_output=True, text=True, cwd=REPO, check=False
        )
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(json.loads(second.stdout), json.loads(run.stdout), "a second run changes nothing")
        self.assertIn("nothing to remove", second.stderr)
        self.assertFalse(self.mark.exists())

    def test_the_check_refuses_the_old_state_and_passes_the_upgraded_one(self) -> None:
        """`--check` on standard input, as a pipeline runs it before any refresh: exit 1 naming the anchor, then 0 once upgraded."""

        def check(document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "exo.state_upgrade", "--check", "-"]
            return subprocess.run(command, input=json.dumps(document), capture_output=True, text=True, cwd=REPO, check=False)

        before = check(self.export)
        self.assertEqual(before.returncode, 1, before.stderr)
        self.assertEqual(before.stdout, "")
        self.assertIn(f"$pulumi-python:dynamic:Resource::{ANCHOR}", before.stderr)
        after = check(upgrade(self.export).deployment)
        self.assertEqual((after.returncode, after.stdout, after.stderr), (0, "", ""))
        self.assertFalse(self.mark.exists())


class WhatTheUpgradeRefusesOrKeeps(unittest.TestCase):
    STACK = f"urn:pulumi:dev::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-dev"
    DYNAMIC = f"urn:pulumi:dev::{PROJECT}::{OLD_ANCHOR}::anchor"
    PROVIDER = f"urn:pulumi:dev::{PROJECT}::{DYNAMIC_PROVIDER_TYPE}::default"

    def export(self, *extra: dict[str, Any], pending: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        resources = [
            {"urn": self.STACK, "custom": False, "type": "pulumi:pulumi:Stack"},
            {"urn": self.PROVIDER, "custom": True, "id": "p1", "type": DYNAMIC_PROVIDER_TYPE},
            {"urn": self.DYNAMIC, "custom": True, "id": "a1", "type": OLD_ANCHOR, "parent": self.STACK, "provider": f"{self.PROVIDER}::p1"},
            *extra,
        ]
        deployment: dict[str, Any] = {"resources": resources}
        if pending is not None:
            deployment["pending_operations"] = pending
        return {"version": 3, "deployment": deployment}

    def test_an_export_it_does_not_know_is_refused(self) -> None:
        for document in ({"version": 2, "deployment": {}}, {"deployment": {"resources": []}}, {"version": 3}):
            with self.subTest(document=document), self.assertRaisesRegex(StateUpgradeError, "version 3"):
                upgrade(document)

    def test_a_child_of_a_dynamic_resource_is_refused(self) -> None:
        child = {"urn": f"urn:pulumi:dev::{PROJECT}::x:y:Z::child", "custom": False, "type": "x:y:Z", "parent": self.DYNAMIC}
        with self.assertRaisesRegex(StateUpgradeError, "child of"):
            upgrade(self.export(child))

    def test_deleted_with_and_replace_with_lose_the_reference_and_a_pending_operation_on_it_goes(self) -> None:
        other = {
            "urn": f"urn:pulumi:dev::{PROJECT}::x:y:Z::other",
            "custom": False,
            "type": "x:y:Z",
            "deletedWith": self.DYNAMIC,
            "replaceWith": [self.DYNAMIC, self.STACK],
        }
        kept_operation = {"type": "creating", "resource": {"urn": other["urn"], "type": "x:y:Z"}}
        interrupted_create = {"type": "creating", "resource": {"urn": f"{self.DYNAMIC}-2", "type": OLD_ANCHOR}}
        pending = [{"type": "deleting", "resource": {"urn": self.DYNAMIC, "type": OLD_ANCHOR}}, kept_operation, interrupted_create]
        result = upgrade(self.export(other, pending=pending))
        (upgraded,) = [r for r in result.deployment["deployment"]["resources"] if r["urn"] == other["urn"]]
        self.assertNotIn("deletedWith", upgraded)
        self.assertEqual(upgraded["replaceWith"], [self.STACK])
        self.assertEqual(result.deployment["deployment"]["pending_operations"], [kept_operation])
        self.assertIn(f"deleting operation on {self.DYNAMIC}", result.removed)
        self.assertIn(f"creating operation on {self.DYNAMIC}-2", result.removed)

    def test_a_pulumi_python_provider_still_in_use_is_kept(self) -> None:
        user = {
            "urn": f"urn:pulumi:dev::{PROJECT}::x:y:Z::user",
            "custom": True,
            "id": "u1",
            "type": "x:y:Z",
            "provider": f"{self.PROVIDER}::p1",
        }
        result = upgrade(self.export(user))
        self.assertEqual(result.removed, (self.DYNAMIC,))
        self.assertIn(self.PROVIDER, {r["urn"] for r in result.deployment["deployment"]["resources"]})

    def test_the_check_sees_a_dynamic_resource_in_a_pending_operation_too(self) -> None:
        document = {
            "version": 3,
            "deployment": {
                "resources": [],
                "pending_operations": [{"type": "creating", "resource": {"urn": self.DYNAMIC, "type": OLD_ANCHOR}}],
            },
        }
        self.assertEqual(code_in_state(document), [self.DYNAMIC])
        self.assertEqual(code_in_state(upgrade(document).deployment), [])

    def test_the_input_document_is_left_as_it_was(self) -> None:
        document = self.export()
        snapshot = copy.deepcopy(document)
        upgrade(document)
        self.assertEqual(document, snapshot)


class NoCodeInTheProgram(unittest.TestCase):
    """The program, its components and settings declare no dynamic resource (the check the sessions' stop hook also makes)."""

    def test_no_source_file_uses_dynamic_providers(self) -> None:
        needle = ".".join(("pulumi", "dynamic"))  # spelt apart so that this file does not match itself
        roots = ["__main__.py", "components", "settings", "exo", "bootstrap", "policy", "certtool", "benchmarks"]
        found = []
        for root in roots:
            path = REPO / root
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "venv" not in p.parts)
            found += [str(p.relative_to(REPO)) for p in files if needle in p.read_text(encoding="utf-8")]
        self.assertEqual(found, [])
