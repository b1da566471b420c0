"""The reconciler's read-back (read_actual_state, the twin of the runbook's Read-ActualState) on Exchange answers recorded in the shapes
Microsoft documents (tests/exo/data/exchange_rbac/*.json, each naming its source per cmdlet), and the plan it leads to: AU scopes
converge, members are matched by Exchange identity and never by display name, re-created service principals and renamed stacks
converge, and ownership is compared without case (issue 22 items 1-3 and 7)."""

from __future__ import annotations

import json
import unittest
from pathlib import Path
from typing import Any

from exo import facts
from exo.exchange_rbac_state import (
    CustomRole,
    ExchangeRbacSpec,
    PrincipalRbac,
    ReadBackError,
    RecipientScope,
    assignment_scope_text,
    desired_state,
    effective_permissions,
    is_owned,
    member_id,
    owner_prefixes,
    plan,
    principal_state,
    read_actual_state,
)

DATA = Path(__file__).resolve().parent / "data" / "exchange_rbac"
HELPDESK = ExchangeRbacSpec(("Mail Recipients",), RecipientScope(administrative_unit_id="55555555-5555-4555-8555-555555555555"))


def recording(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def desired_for(record: dict[str, Any], object_id: str | None = None) -> dict[str, Any]:
    ids = record["ids"]
    principal = PrincipalRbac("helpdesk", "application", ids["appId"], object_id or ids["objectId"], HELPDESK)
    entry = principal_state(record["owner"], principal, "exo-automation prod")
    return desired_state(record["owner"], [entry], "exo-automation prod", record["formerOwners"])


def read(record: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    return read_actual_state(record["answers"], owner_prefixes(desired, record["recordedOwner"]))


class RecordedAnswers(unittest.TestCase):
    def test_every_recording_names_its_source_for_each_cmdlet_it_answers(self) -> None:
        files = sorted(DATA.glob("*.json"))
        self.assertGreaterEqual(len(files), 4)
        for path in files:
            record = json.loads(path.read_text(encoding="utf-8"))
            for cmdlet in record["answers"]:
                if cmdlet in ("Get-ManagementScope", "Get-ManagementRole", "Get-ManagementRoleEntry"):
                    continue  # empty answers in these recordings
                self.assertIn(cmdlet, record["_source"], f"{path.name}: {cmdlet} answers without a source")

    def test_an_administrative_unit_scope_reads_back_as_declared_and_plans_nothing(self) -> None:
        record = recording("au_scoped_converged")
        desired = desired_for(record)
        actual = read(record, desired)
        (group,) = actual["roleGroups"]
        self.assertEqual({a["scope"] for a in group["assignments"]}, {f"au:{record['ids']['administrativeUnitId']}"})
        self.assertEqual(group["members"], [record["ids"]["objectId"]])
        self.assertEqual(plan(desired, actual), [])

    def test_the_assignment_scope_comes_from_recipient_write_scope(self) -> None:
        au = {"Name": "a", "RecipientWriteScope": "AdministrativeUnit", "CustomRecipientWriteScope": "55555555-5555-4555-8555-555555555555"}
        self.assertEqual(assignment_scope_text(au), "au:55555555-5555-4555-8555-555555555555")
        custom = {"RecipientWriteScope": "CustomRecipientScope", "CustomRecipientWriteScope": "s"}
        self.assertEqual(assignment_scope_text(custom), "scope:s")
        self.assertEqual(assignment_scope_text({"RecipientWriteScope": "Organization", "CustomRecipientWriteScope": None}), "")
        # An exclusive scope is no declared scope: the assignment is re-created, never kept.
        exclusive = {"RecipientWriteScope": "ExclusiveRecipientScope", "CustomRecipientWriteScope": "x"}
        self.assertTrue(assignment_scope_text(exclusive).startswith("other:"))
        with self.assertRaisesRegex(ReadBackError, "RecipientWriteScope"):
            assignment_scope_text({"Name": "a", "CustomRecipientWriteScope": "55555555-5555-4555-8555-555555555555"})

    def test_a_member_that_shares_the_display_name_is_a_stranger(self) -> None:
        record = recording("member_with_the_same_display_name")
        desired = desired_for(record)
        actual = read(record, desired)
        stranger = record["answers"]["Get-RoleGroupMember"][desired["principals"][0]["roleGroup"]["name"]][0]
        self.assertEqual(actual["roleGroups"][0]["members"], [stranger["Guid"].lower()])
        steps = [(s.action, s.reason, s.detail.get("member")) for s in plan(desired, actual)]
        self.assertEqual(
            steps,
            [
                ("Add-RoleGroupMember", "missing", record["ids"]["objectId"]),
                ("Remove-RoleGroupMember", "drift", stranger["Guid"].lower()),
            ],
        )

    def test_a_member_without_an_exchange_identity_fails_the_read(self) -> None:
        with self.assertRaisesRegex(ReadBackError, "Guid or DistinguishedName"):
            member_id({"DisplayName": "exoa-66ada1-helpdesk", "Name": "x"}, [])

    def test_a_recreated_service_principal_replaces_the_old_pointer_before_anything_else(self) -> None:
        record = recording("recreated_service_principal")
        new_object_id = record["ids"]["newObjectId"]
        desired = desired_for(record, new_object_id)
        steps = plan(desired, read(record, desired))
        group = desired["principals"][0]["roleGroup"]["name"]
        self.assertEqual(
            [(s.action, s.target, s.reason) for s in steps],
            [
                ("Remove-RoleGroupMember", group, "superseded"),
                ("Remove-ServicePrincipal", record["ids"]["objectId"], "superseded"),
                ("New-ServicePrincipal", new_object_id, "missing"),
                ("Add-RoleGroupMember", group, "missing"),
            ],
        )

    def test_a_foreign_pointer_holding_our_app_id_is_refused(self) -> None:
        record = recording("recreated_service_principal")
        record["answers"]["Get-ServicePrincipal"][0]["DisplayName"] = "Hand-made pointer"
        desired = desired_for(record, record["ids"]["newObjectId"])
        with self.assertRaisesRegex(ValueError, "cannot succeed while it exists"):
            plan(desired, read(record, desired))

    def test_a_renamed_stack_adopts_its_service_principal_and_removes_its_old_group_after_the_new_one_is_joined(self) -> None:
        record = recording("renamed_stack")
        desired = desired_for(record)
        actual = read(record, desired)
        self.assertEqual([g["name"] for g in actual["roleGroups"]], [record["answers"]["Get-RoleGroup"][0]["Name"]])
        steps = [(s.action, s.reason) for s in plan(desired, actual)]
        self.assertEqual(
            steps,
            [
                ("Set-ServicePrincipal", "superseded"),
                ("New-RoleGroup", "missing"),
                ("New-ManagementRoleAssignment", "missing"),
                ("Add-RoleGroupMember", "missing"),
                ("Remove-RoleGroupMember", "obsolete"),
                ("Remove-RoleGroup", "obsolete"),
            ],
        )
        # The foreign app and the built-in group its pointer is a member of are never touched.
        targets = {s.target for s in plan(desired, actual)}
        self.assertNotIn("Organization Management", targets)
        self.assertNotIn("45454545-4545-4545-8545-454545454545", targets)

    def test_the_owner_recorded_by_the_last_run_counts_as_a_former_owner(self) -> None:
        record = recording("renamed_stack")
        former = record["formerOwners"][0]
        record["formerOwners"] = []
        desired = desired_for(record)
        with self.assertRaisesRegex(ValueError, "not created by this stack"):
            plan(desired, read(record, desired))
        record["recordedOwner"] = former
        self.assertIn(("Remove-RoleGroup", "obsolete"), [(s.action, s.reason) for s in plan(desired, read(record, desired), former)])

    def test_a_former_owner_that_this_program_does_not_write_is_refused(self) -> None:
        record = recording("renamed_stack")
        with self.assertRaisesRegex(ValueError, "former owner prefix"):
            owner_prefixes(desired_for(record), "Organization ")
        with self.assertRaisesRegex(ValueError, "former owner prefix"):
            desired_state(record["owner"], [], "x", ["exoa-xyz-"])


class Ownership(unittest.TestCase):
    def test_ownership_ignores_case_in_both_directions(self) -> None:
        self.assertTrue(is_owned("EXOA-66ADA1-helpdesk", ("exoa-66ada1-",)))
        self.assertTrue(is_owned("exoa-66ada1-helpdesk", ("EXOA-66ADA1-",)))
        self.assertFalse(is_owned("exoa-66ada2-helpdesk", ("exoa-66ada1-",)))
        self.assertFalse(is_owned(None, ("exoa-66ada1-",)))

    def test_an_owned_group_in_other_case_is_still_ours_to_remove(self) -> None:
        desired = desired_state("exoa-66ada1-", [], "x")
        actual = {"roleGroups": [{"name": "EXOA-66ADA1-old-12345678", "members": [], "assignments": []}]}
        self.assertEqual([(s.action, s.target) for s in plan(desired, actual)], [("Remove-RoleGroup", "EXOA-66ADA1-old-12345678")])

    def test_removals_come_in_ordinal_lower_case_order(self) -> None:
        desired = desired_state("exoa-66ada1-", [], "x")
        names = ["exoa-66ada1-b", "EXOA-66ADA1-A", "exoa-66ada1-_", "exoa-66ada1-C"]
        actual = {"roleGroups": [{"name": n, "members": [], "assignments": []} for n in names]}
        self.assertEqual([s.target for s in plan(desired, actual)], sorted(names, key=str.lower))

    def test_a_document_without_former_owners_is_unchanged_text(self) -> None:
        self.assertNotIn("formerOwners", desired_state("exoa-66ada1-", [], "x"))
        self.assertEqual(desired_state("exoa-66ada1-", [], "x", ["EXOA-74DFDB-"])["formerOwners"], ["exoa-74dfdb-"])


class OrganizationConfigurationRoles(unittest.TestCase):
    def test_a_recipient_scope_is_not_said_to_limit_organization_configuration_roles(self) -> None:
        spec = ExchangeRbacSpec(("Mail Recipients", "Transport Rules"), RecipientScope(filter="Department -eq 'Sales'"))
        result = effective_permissions((), spec)
        self.assertEqual(result["unscopedRoles"], ["Transport Rules"])
        self.assertIn("Transport Rules change organization-wide settings, which a recipient scope does not limit", result["summary"])
        self.assertIn("recipient changes limited to recipients where Department -eq 'Sales'", result["summary"])

    def test_a_custom_role_counts_by_its_parent(self) -> None:
        spec = ExchangeRbacSpec((), RecipientScope(filter="Department -eq 'Sales'"), CustomRole("Journaling", ("Get-JournalRule",)))
        self.assertEqual(effective_permissions((), spec)["unscopedRoles"], ["Journaling"])

    def test_recipient_roles_keep_the_scoped_summary(self) -> None:
        spec = ExchangeRbacSpec(("Mail Recipients",), RecipientScope(filter="Department -eq 'Sales'"))
        self.assertNotIn("unscopedRoles", effective_permissions((), spec))

    def test_the_list_names_only_roles_the_program_knows(self) -> None:
        self.assertLessEqual(facts.ORGANIZATION_CONFIGURATION_ROLES, facts.EXCHANGE_MANAGEMENT_ROLES)
        for role in ("Transport Rules", "Journaling", "Organization Configuration", "Remote and Accepted Domains"):
            self.assertIn(role, facts.ORGANIZATION_CONFIGURATION_ROLES)
