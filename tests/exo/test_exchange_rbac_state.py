"""The OPATH filter parser, the desired-state document and the reconciler's plan (the specification Sync-ExchangeRbac follows)."""

from __future__ import annotations

import json
import unittest
from typing import Any

from exo import facts
from exo.exchange_rbac_state import (
    CustomRole,
    ExchangeRbacSpec,
    PrincipalRbac,
    RecipientScope,
    Step,
    desired_state,
    effective_permissions,
    owner_prefix,
    plan,
    principal_state,
    state_json,
    state_sha256,
)
from settings.opath import Comparison, Logical, Not, OpathError, parse_filter, properties_of
from tests.exchange_reference import load_exchange_reference

PREFIX = owner_prefix("prod", "aa-exo-automation-prod")
SALES = ExchangeRbacSpec(("View-Only Recipients",), RecipientScope(filter="Department -eq 'Sales'"))
READER = ExchangeRbacSpec(
    (), RecipientScope(filter="Department -eq 'Sales'"), CustomRole("View-Only Recipients", ("Get-Mailbox", "Get-Recipient", "Get-User"))
)
APP = "11111111-1111-4111-8111-111111111111"
SP = "22222222-2222-4222-8222-222222222222"


def document(*principals: tuple[str, ExchangeRbacSpec, str]) -> dict[str, Any]:
    entries = [
        principal_state(PREFIX, PrincipalRbac(name, "application", APP if object_id == SP else object_id, object_id, settings), "x")
        for name, settings, object_id in principals
    ]
    return desired_state(PREFIX, entries, "x")


def converged(desired: dict[str, Any]) -> dict[str, Any]:
    """What Exchange holds once the plan for `desired` has been applied."""
    sps, scopes, groups, roles = [], [], [], []
    for p in desired["principals"]:
        group = p["roleGroup"]
        if group["customRole"] is not None:
            roles.append({"name": group["customRole"]["name"], "cmdlets": list(group["customRole"]["cmdlets"])})
        sps.append({"objectId": p["objectId"], "appId": p["appId"], "displayName": p["displayName"]})
        scope = group["scope"]
        scope_text = ""
        if scope is not None and scope["kind"] == "filter":
            scopes.append({"name": scope["name"], "filter": scope["filter"]})
            scope_text = f"scope:{scope['name']}"
        elif scope is not None:
            scope_text = f"au:{scope['administrativeUnitId']}"
        groups.append(
            {
                "name": group["name"],
                "members": [p["objectId"]],
                "assignments": [{"name": a["name"], "role": a["role"], "scope": scope_text} for a in group["assignments"]],
            }
        )
    return {"servicePrincipals": sps, "scopes": scopes, "roles": roles, "roleGroups": groups}


def actions(steps: list[Step]) -> list[tuple[str, str]]:
    return [(step.action, step.reason) for step in steps]


class OpathFilters(unittest.TestCase):
    def test_documented_examples_parse(self) -> None:
        for text in (
            "Department -eq 'Sales'",
            "RecipientType -eq 'UserMailbox'",  # New-ManagementScope.md example 3
            "Title -like 'VP*'",  # example 4
            "((RecipientTypeDetails -eq 'UserMailbox') -and (Company -eq 'Contoso') -and (Office -eq 'North Building'))",
            "CustomAttribute1 -ne $null -and -not (Department -like 'Temp*')",
            "Department -eq 'O''Brien'",
            "department -EQ 'Sales' -or City -eq \"Berlin\"",
        ):
            with self.subTest(text):
                parse_filter(text)

    def test_tree_and_canonical_property_names(self) -> None:
        node = parse_filter("department -eq 'Sales' -or -not (City -eq 'Berlin' -and Office -ne $null)")
        assert isinstance(node, Logical)
        self.assertEqual(node.operator, "-or")
        self.assertEqual(node.operands[0], Comparison("Department", "-eq", "'Sales'"))
        assert isinstance(node.operands[1], Not)
        self.assertEqual(properties_of(node), {"Department", "City", "Office"})

    def test_refusals_say_where(self) -> None:
        for text, phrase, position in (
            ("", "empty", 0),
            ("Department -eq 'Sales", "unterminated", 15),
            ("Departmnt -eq 'Sales'", "not a filterable recipient property", 0),
            ("Department -contains 'Sales'", "comparison operator", 11),
            ("Department -eq Sales", "quote the text value", 15),
            ("Department -eq $dept", "variable", 15),
            ("(Department -eq 'Sales'", "missing ')'", 23),
            ("Department -eq 'Sales' City -eq 'Berlin'", "missing -and/-or", 23),
            ("Department -eq 'Sales' -and", "ends too early", 27),
            ("Department -gt $null", "$null compares only", 11),
            ('Department -eq "$x"', "single quotes", 15),
            ("Department -like 5", "quote the value", 17),
        ):
            with self.subTest(text):
                with self.assertRaises(OpathError) as caught:
                    parse_filter(text)
                self.assertIn(phrase, str(caught.exception))
                self.assertEqual(caught.exception.position, position)

    def test_property_list_is_the_documented_one(self) -> None:
        # recipientfilter-properties.md: 236 Exchange Online sections, two of them ranges (15 + 5 names).
        self.assertEqual(len(facts.RECIPIENT_FILTER_PROPERTIES), 254)
        expected = {"Department", "CustomAttribute15", "ExtensionCustomAttribute5", "RecipientTypeDetails"}
        self.assertTrue(expected <= facts.RECIPIENT_FILTER_PROPERTIES)
        self.assertNotIn("UMEnabled", facts.RECIPIENT_FILTER_PROPERTIES)  # an Exchange Server-only section


class CmdletReference(unittest.TestCase):
    def test_cmdlets_the_reconciler_relies_on_exist_in_exchange_online_with_their_parameters(self) -> None:
        reference = load_exchange_reference()
        needed = {
            "New-ServicePrincipal": {"AppId", "ObjectId", "DisplayName"},
            "New-ManagementScope": {"Name", "RecipientRestrictionFilter"},
            "New-RoleGroup": {"Name", "DisplayName", "Description"},
            "New-ManagementRoleAssignment": {
                "Name",
                "Role",
                "SecurityGroup",
                "CustomRecipientWriteScope",
                "RecipientAdministrativeUnitScope",
            },
            "Add-RoleGroupMember": {"Identity", "Member"},
        }
        for cmdlet, parameters in needed.items():
            entry = reference[cmdlet.lower()]
            self.assertTrue(entry["exo"], cmdlet)
            self.assertTrue(all(entry["params"].get(p) for p in parameters), (cmdlet, parameters - set(entry["params"])))

    def test_new_role_group_cannot_scope_to_an_administrative_unit_so_assignments_carry_the_scope(self) -> None:
        # Why the reconciler scopes each assignment instead of the group: New-RoleGroup has no administrative unit parameter.
        reference = load_exchange_reference()
        self.assertNotIn("RecipientAdministrativeUnitScope", reference["new-rolegroup"]["params"])


class DesiredStateDocument(unittest.TestCase):
    def test_deterministic_text_and_hash(self) -> None:
        first = state_json(document(("b", SALES, SP), ("a", SALES, "33333333-3333-4333-8333-333333333333")))
        second = state_json(document(("a", SALES, "33333333-3333-4333-8333-333333333333"), ("b", SALES, SP)))
        self.assertEqual(first, second)
        self.assertEqual(state_sha256(first), state_sha256(second))
        self.assertEqual([p["name"] for p in json.loads(first)["principals"]], ["a", "b"])

    def test_role_order_in_config_does_not_matter_but_content_names_the_group(self) -> None:
        one = ExchangeRbacSpec(("Mail Recipients", "View-Only Recipients"), None)
        other = ExchangeRbacSpec(("Mail Recipients",), None)
        a = principal_state(PREFIX, PrincipalRbac("r", "application", APP, SP, one), "x")["roleGroup"]["name"]
        b = principal_state(PREFIX, PrincipalRbac("r", "application", APP, SP, other), "x")["roleGroup"]["name"]
        self.assertNotEqual(a, b)
        self.assertTrue(a.startswith(f"{PREFIX}r-") and len(a) == len(PREFIX) + 2 + 8)

    def test_owner_prefix_differs_between_stacks_and_accounts(self) -> None:
        self.assertRegex(PREFIX, r"^exoa-[0-9a-f]{6}-$")
        self.assertNotEqual(PREFIX, owner_prefix("dev", "aa-exo-automation-prod"))
        self.assertNotEqual(PREFIX, owner_prefix("prod", "aa-other"))

    def test_longest_names_fit_exchange_limits(self) -> None:
        settings = ExchangeRbacSpec(tuple(sorted(facts.EXCHANGE_MANAGEMENT_ROLES - facts.SELF_WIDENING_EXCHANGE_ROLES)), SALES.scope)
        entry = principal_state(PREFIX, PrincipalRbac("a" * 32, "application", APP, SP, settings), "x")
        desired_state(PREFIX, [entry], "x")  # raises on a name over 64 characters

    def test_effective_permissions_read_like_the_worked_example(self) -> None:
        expected = (
            "only the cmdlets of View-Only Recipients; changes limited to recipients where Department -eq 'Sales'; reads organization-wide"
        )
        self.assertEqual(effective_permissions((), SALES)["summary"], expected)
        self.assertIn("organization-wide", effective_permissions(("Exchange Administrator",), None)["summary"])


class ReconcilerPlan(unittest.TestCase):
    def test_empty_exchange_gets_everything_in_safe_order(self) -> None:
        desired = document(("r", SALES, SP))
        steps = plan(desired, {})
        self.assertEqual(
            [s.action for s in steps],
            ["New-ServicePrincipal", "New-ManagementScope", "New-RoleGroup", "New-ManagementRoleAssignment", "Add-RoleGroupMember"],
        )
        assignment = steps[3]
        self.assertEqual(assignment.detail["scope"], f"scope:{desired['principals'][0]['roleGroup']['name']}")

    def test_converged_state_plans_nothing(self) -> None:
        desired = document(("r", SALES, SP))
        self.assertEqual(plan(desired, converged(desired)), [])

    def test_changed_scope_joins_the_new_group_before_leaving_the_old_one(self) -> None:
        old = document(("r", SALES, SP))
        new = document(("r", ExchangeRbacSpec(SALES.roles, RecipientScope(filter="Department -eq 'Finance'")), SP))
        steps = plan(new, converged(old))
        order = [s.action for s in steps]
        self.assertLess(order.index("New-ManagementRoleAssignment"), order.index("Add-RoleGroupMember"))
        self.assertLess(order.index("Add-RoleGroupMember"), order.index("Remove-RoleGroupMember"))
        self.assertLess(order.index("Remove-RoleGroupMember"), order.index("Remove-RoleGroup"))
        self.assertLess(order.index("Remove-RoleGroup"), order.index("Remove-ManagementScope"))
        self.assertNotIn("Remove-ServicePrincipal", order)
        # Never a member of a group that lacks its scoped assignments: every assignment of the new group precedes the member step.
        added = order.index("Add-RoleGroupMember")
        self.assertTrue(all(i < added for i, s in enumerate(steps) if s.action == "New-ManagementRoleAssignment"))

    def test_drift_on_owned_objects_only_narrows_back(self) -> None:
        desired = document(("r", SALES, SP))
        actual = converged(desired)
        group = actual["roleGroups"][0]
        group["assignments"].append({"name": f"{PREFIX}hand-made", "role": "Mail Recipients", "scope": ""})
        group["assignments"][0]["scope"] = ""  # someone removed the scope from our assignment
        group["members"].append("someone@contoso.com")
        actual["scopes"][0]["filter"] = "Department -like '*'"
        actual["servicePrincipals"][0]["displayName"] = f"{PREFIX}renamed"
        steps = plan(desired, actual)
        self.assertEqual(
            actions(steps),
            [
                ("Set-ServicePrincipal", "drift"),
                ("Set-ManagementScope", "drift"),
                ("Remove-ManagementRoleAssignment", "drift"),
                ("New-ManagementRoleAssignment", "missing"),
                ("Remove-ManagementRoleAssignment", "drift"),
                ("Remove-RoleGroupMember", "drift"),
            ],
        )

    def test_filter_text_that_differs_only_in_spacing_or_outer_parentheses_is_no_drift(self) -> None:
        desired = document(("r", SALES, SP))
        actual = converged(desired)
        actual["scopes"][0]["filter"] = "(Department  -eq 'Sales')"
        self.assertEqual(plan(desired, actual), [])

    def test_objects_of_others_are_never_touched(self) -> None:
        desired = document(("r", SALES, SP))
        actual = converged(desired)
        actual["roleGroups"].append({"name": "Organization Management", "members": [SP], "assignments": []})
        actual["roleGroups"].append({"name": "exoa-000000-other-stack", "members": ["x"], "assignments": []})
        actual["scopes"].append({"name": "Helpdesk scope", "filter": "Department -eq 'IT'"})
        actual["servicePrincipals"].append({"objectId": "44444444-4444-4444-8444-444444444444", "appId": "a", "displayName": "Other app"})
        self.assertEqual(plan(desired, actual), [])

    def test_removed_declaration_removes_only_owned_objects_last(self) -> None:
        old = document(("r", SALES, SP))
        steps = plan(document(), converged(old))
        self.assertEqual(
            [s.action for s in steps], ["Remove-RoleGroupMember", "Remove-RoleGroup", "Remove-ManagementScope", "Remove-ServicePrincipal"]
        )
        self.assertTrue(all(s.reason == "obsolete" for s in steps))

    def test_a_foreign_service_principal_for_our_app_is_refused(self) -> None:
        desired = document(("r", SALES, SP))
        actual = {"servicePrincipals": [{"objectId": SP, "appId": APP, "displayName": "Hand-made pointer"}]}
        with self.assertRaisesRegex(ValueError, "not created by this stack"):
            plan(desired, actual)

    def test_administrative_unit_scope_creates_no_scope_object(self) -> None:
        unit = "55555555-5555-4555-8555-555555555555"
        desired = document(("r", ExchangeRbacSpec(("Mail Recipients",), RecipientScope(administrative_unit_id=unit)), SP))
        steps = plan(desired, {})
        self.assertNotIn("New-ManagementScope", [s.action for s in steps])
        (assignment,) = [s for s in steps if s.action == "New-ManagementRoleAssignment"]
        self.assertEqual(assignment.detail["scope"], f"au:{unit}")

    def test_a_tampered_owner_prefix_is_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, "owner prefix"):
            plan({"owner": "", "principals": []}, {})


class CustomRolePlan(unittest.TestCase):
    def test_custom_role_is_created_with_only_its_cmdlets_before_any_assignment(self) -> None:
        desired = document(("r", READER, SP))
        group = desired["principals"][0]["roleGroup"]
        self.assertEqual(group["customRole"]["name"], group["name"])
        self.assertEqual([a["role"] for a in group["assignments"]], [group["name"]])
        steps = plan(desired, {})
        order = [s.action for s in steps]
        self.assertEqual(order.index("New-ManagementRole") + 2, order.index("New-ManagementRoleAssignment"))
        (create,) = [s for s in steps if s.action == "New-ManagementRole"]
        self.assertEqual(create.detail, {"parent": "View-Only Recipients", "cmdlets": "Get-Mailbox,Get-Recipient,Get-User"})
        self.assertEqual(plan(desired, converged(desired)), [])

    def test_entries_added_by_hand_are_removed_and_missing_ones_restored(self) -> None:
        desired = document(("r", READER, SP))
        actual = converged(desired)
        actual["roles"][0]["cmdlets"] = ["Get-Mailbox", "Get-User", "Set-Mailbox"]
        self.assertEqual(
            [(s.action, s.detail["cmdlet"]) for s in plan(desired, actual)],
            [("Add-ManagementRoleEntry", "Get-Recipient"), ("Remove-ManagementRoleEntry", "Set-Mailbox")],
        )

    def test_changed_cmdlet_list_is_a_new_role_and_the_old_one_goes_after_its_group(self) -> None:
        old = document(("r", READER, SP))
        narrower = ExchangeRbacSpec((), READER.scope, CustomRole("View-Only Recipients", ("Get-Mailbox",)))
        steps = [s.action for s in plan(document(("r", narrower, SP)), converged(old))]
        self.assertLess(steps.index("New-ManagementRole"), steps.index("Add-RoleGroupMember"))
        self.assertLess(steps.index("Remove-RoleGroup"), steps.index("Remove-ManagementRole"))

    def test_effective_permissions_name_the_kept_cmdlets(self) -> None:
        summary = effective_permissions((), READER)["summary"]
        self.assertEqual(
            summary,
            "only the cmdlets of View-Only Recipients limited to Get-Mailbox, Get-Recipient, Get-User; changes limited to recipients "
            "where Department -eq 'Sales'; reads organization-wide",
        )
