"""The workbook: its JSON against the published workbook schema (carried in as data, tests/monitoring/workbook.schema.json), and
each of its queries run against recorded rows through the saved functions, with the answers an admin should see."""

from __future__ import annotations

import datetime as dt
import json
import re
import unittest
from pathlib import Path
from typing import Any

from exo import monitoring
from tests import kql
from tests.monitoring import recorded_rows as rec

SCHEMA = json.loads((Path(__file__).parent / "workbook.schema.json").read_text())
WORKSPACE = f"/subscriptions/{rec.SUBSCRIPTION}/resourceGroups/{rec.GROUP}/providers/Microsoft.OperationalInsights/workspaces/log-x"
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def schema_problems(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    """The draft-07 keywords the workbook schema uses: type, required, const, enum, pattern, properties, items, anyOf, $ref."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return schema_problems(value, root["definitions"][name], root, path)
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool)):
            return [f"{path}: {value!r} is not of type {kind}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        problems += [f"{path}: {name} is required" for name in schema.get("required", []) if name not in value]
        for name, child in schema.get("properties", {}).items():
            if name in value:
                problems += schema_problems(value[name], child, root, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        items = schema["items"]
        # Draft 07: a list of schemas checks the items at those positions only; one schema checks every item.
        pairs = zip(value, items, strict=False) if isinstance(items, list) else ((item, items) for item in value)
        for index, (item, child) in enumerate(pairs):
            problems += schema_problems(item, child, root, f"{path}[{index}]")
    if "anyOf" in schema:
        results = [schema_problems(value, option, root, path) for option in schema["anyOf"]]
        if all(results):
            problems.append(f"{path}: matches none of anyOf ({min(results, key=len)[0]})")
    return problems


def content() -> dict[str, Any]:
    return monitoring.workbook_content(WORKSPACE, rec.ACCOUNT, rec.GROUP)


class Schema(unittest.TestCase):
    def test_the_workbook_validates_against_the_published_schema_every_step_included(self) -> None:
        workbook = json.loads(json.dumps(content()))
        self.assertEqual(schema_problems(workbook, SCHEMA, SCHEMA), [])
        # The schema checks only the first step (a draft-07 tuple); every step is held to the same step schema here.
        step_schema = SCHEMA["properties"]["items"]["items"][0]
        for index, step in enumerate(workbook["items"]):
            self.assertEqual(schema_problems(step, step_schema, SCHEMA, f"$.items[{index}]"), [])

    def test_the_validator_refuses_what_the_schema_refuses(self) -> None:
        broken = content()
        del broken["version"]
        self.assertIn("$: version is required", schema_problems(broken, SCHEMA, SCHEMA))
        step_schema = SCHEMA["properties"]["items"]["items"][0]
        self.assertTrue(schema_problems({"type": 4, "content": {}}, step_schema, SCHEMA))
        self.assertTrue(schema_problems({"type": 3}, step_schema, SCHEMA))
        self.assertTrue(schema_problems({"type": 1, "content": {"json": 5}}, step_schema, SCHEMA))

    def test_every_query_step_reads_the_workspace_as_a_log_query(self) -> None:
        steps = [step for step in content()["items"] if step["type"] == 3]
        self.assertEqual(len(steps), 5)
        for step in steps:
            self.assertEqual(step["content"]["queryType"], 0)
            self.assertEqual(step["content"]["resourceType"], "microsoft.operationalinsights/workspaces")
            self.assertEqual(step["content"]["crossComponentResources"], [WORKSPACE])


class Answers(unittest.TestCase):
    """The workbook's queries over two weekly permission reports and three days of forwarding audits."""

    def setUp(self) -> None:
        self.now = dt.datetime.now(dt.UTC)
        last, previous = self.now - dt.timedelta(days=1), self.now - dt.timedelta(days=8)
        report_last, report_previous = rec.job_id("r-last"), rec.job_id("r-prev")
        rows = [
            rec.record(previous, "MailboxPermissionReport", report_previous, rec.permission("shared@contoso.com", "ann@contoso.com")),
            rec.record(previous, "MailboxPermissionReport", report_previous, rec.permission("shared@contoso.com", "bob@contoso.com")),
            rec.record(last, "MailboxPermissionReport", report_last, rec.permission("shared@contoso.com", "ann@contoso.com")),
            rec.record(last, "MailboxPermissionReport", report_last, rec.permission("ceo@contoso.com", "eve@contoso.com", "SendAs")),
            rec.record(last, "MailboxPermissionReport", report_last, rec.summary("MailboxPermissionReport", "0/2", "Succeeded", last)),
            rec.record(last, "MailboxPermissionReport", rec.job_id("p1"), rec.summary("MailboxPermissionReport", "1/2", "Failed", last)),
            rec.record(
                previous, "MailboxPermissionReport", report_previous, rec.summary("MailboxPermissionReport", "1/2", "Succeeded", previous)
            ),
            rec.job_log(last, "MailboxPermissionReport", report_last, "Completed"),
            rec.job_log(last, "MailboxPermissionReport", rec.job_id("p1"), "Failed"),
        ]
        for days, count in ((3, 1), (2, 2), (1, 2)):
            day = self.now - dt.timedelta(days=days)
            job = rec.job_id(f"audit-{days}")
            rows += [
                rec.record(day, "ForwardingAudit", job, rec.finding(f"user{n}@contoso.com", "ForwardingSmtpAddress", f"u{n}@gmail.com"))
                for n in range(count)
            ]
        self.tables = {"AzureDiagnostics": rows}
        self.functions = {f.alias: f.query for f in monitoring.saved_functions(rec.ACCOUNT, rec.GROUP)}
        self.steps = {step["name"]: step["content"] for step in content()["items"] if step["type"] == 3}

    def answer(self, step: str) -> list[dict[str, Any]]:
        return kql.run(self.steps[step]["query"], self.tables, self.now, self.functions)

    def test_permission_changes_since_the_last_run(self) -> None:
        changes = {(r["Change"], r["Mailbox"], r["Trustee"]) for r in self.answer("permission-changes")}
        self.assertEqual(changes, {("Added", "ceo@contoso.com", "eve@contoso.com"), ("Removed", "shared@contoso.com", "bob@contoso.com")})

    def test_forwarding_findings_of_the_latest_run_and_their_trend(self) -> None:
        self.assertEqual(sorted(r["Mailbox"] for r in self.answer("forwarding-latest")), ["user0@contoso.com", "user1@contoso.com"])
        self.assertEqual([r["Findings"] for r in self.answer("forwarding-trend")], [1, 2, 2])

    def test_job_health_per_runbook_and_partition(self) -> None:
        health = {(r["RunbookName"], r["Partition"]): r for r in self.answer("job-health")}
        self.assertEqual(set(health), {("MailboxPermissionReport", "0/2"), ("MailboxPermissionReport", "1/2")})
        self.assertEqual((health[("MailboxPermissionReport", "1/2")]["LastStatus"], health[("MailboxPermissionReport", "1/2")]["Runs"]),
                         ("Failed", 2))  # fmt: skip
        self.assertEqual(health[("MailboxPermissionReport", "1/2")]["FailedRuns"], 1)
        states = {(r["RunbookName"], r["Status"]): r["Jobs"] for r in self.answer("job-states")}
        self.assertEqual(states, {("MailboxPermissionReport", "Completed"): 1, ("MailboxPermissionReport", "Failed"): 1})

    def test_an_empty_workspace_shows_empty_steps_not_errors(self) -> None:
        for name, step in self.steps.items():
            with self.subTest(name):
                self.assertEqual(kql.run(step["query"], {"AzureDiagnostics": []}, self.now, self.functions), [])
