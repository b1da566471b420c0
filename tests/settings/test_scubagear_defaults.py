"""Issue 20: the default roles pass CISA ScubaGear's MS.AAD.7.4v1/7.5v1 and still run every shipped runbook; preview says what changed
and what a privileged role will fail; the config fragment has ScubaGear's shape."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import unittest
import uuid
from pathlib import Path
from typing import Any

import yaml

from exo import facts, scubagear
from exo.powershell_script import RoleDeclaration, read_role_declaration
from settings.automation import RECONCILER_RUNBOOK_FILE, missing_roles
from settings.stack import StackSettings, parse_settings
from tests.fixtures import automation_stack

REPO = Path(__file__).resolve().parent.parent.parent
RECONCILER = REPO / RECONCILER_RUNBOOK_FILE


def shipped_runbooks() -> dict[str, RoleDeclaration]:
    """Every runbook in the repo with its role header (the reconciler apart: the program schedules it, not the config)."""
    declarations: dict[str, RoleDeclaration] = {}
    for path in sorted((REPO / "runbooks").glob("*.ps1")):
        declaration = read_role_declaration(path.read_text(encoding="utf-8-sig"))
        assert declaration is not None, f"{path.name} has no role header"
        declarations[path.name] = declaration
    return declarations


def scheduled_runbooks() -> dict[str, RoleDeclaration]:
    return {name: d for name, d in shipped_runbooks().items() if name != RECONCILER.name}


def covers_all(held: set[str], declarations: dict[str, RoleDeclaration]) -> bool:
    return all(not missing_roles(declaration, held) for declaration in declarations.values())


# The notice about the changed default runs for DEFAULT_CHANGE_NOTICE_DAYS after the change: these tests read config on a day
# inside that window, given to the parser (no other clock is read here).
IN_THE_NOTICE_WINDOW = dt.datetime.combine(facts.DEFAULT_ROLES_CHANGED_ON, dt.time(12), dt.UTC)


def settings_of(config: dict[str, Any], now: dt.datetime = IN_THE_NOTICE_WINDOW) -> StackSettings:
    """Config as Pulumi hands it to the program (structured values as JSON strings), parsed."""
    raw = {key.split(":", 1)[-1]: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    return parse_settings(raw, "dev", None, REPO, now=now)


class DefaultRoles(unittest.TestCase):
    def test_no_default_role_is_on_scubagears_privileged_list(self) -> None:
        for role in (facts.DEFAULT_ROLE, *facts.DEFAULT_MANAGED_IDENTITY_ROLES):
            with self.subTest(role):
                self.assertIn(role, facts.ROLES, "a default must be a role Exchange accepts for app-only access")
                self.assertNotIn(role, facts.SCUBAGEAR_PRIVILEGED_ROLES)
        self.assertIn(facts.PREVIOUS_DEFAULT_ROLE, facts.SCUBAGEAR_PRIVILEGED_ROLES, "why the default changed")

    def test_the_lists_agree_on_template_ids(self) -> None:
        shared = set(facts.ROLES) & set(facts.SCUBAGEAR_PRIVILEGED_ROLES)
        self.assertEqual(shared, {"Exchange Administrator", facts.GLOBAL_ADMINISTRATOR})
        for name in shared:
            self.assertEqual(facts.ROLES[name].template_id, facts.SCUBAGEAR_PRIVILEGED_ROLES[name])
        for template_id in facts.SCUBAGEAR_PRIVILEGED_ROLES.values():
            self.assertEqual(str(uuid.UUID(template_id)), template_id)

    def test_the_managed_identity_default_runs_every_scheduled_runbook(self) -> None:
        runbooks = scheduled_runbooks()
        self.assertGreaterEqual(len(runbooks), 2)
        for name, declaration in runbooks.items():
            with self.subTest(name):
                self.assertEqual(missing_roles(declaration, set(facts.DEFAULT_MANAGED_IDENTITY_ROLES)), ())

    def test_the_managed_identity_default_is_the_least_unprivileged_set(self) -> None:
        runbooks = scheduled_runbooks()
        default = set(facts.DEFAULT_MANAGED_IDENTITY_ROLES)
        for role in default:
            with self.subTest(without=role):
                self.assertFalse(covers_all(default - {role}, runbooks), f"{role} is not needed by any runbook")
        # No unprivileged set with fewer roles covers them either (Global Administrator covers anything and is privileged).
        candidates = [r for r in facts.ROLES if r not in facts.SCUBAGEAR_PRIVILEGED_ROLES]
        for size in range(1, len(default)):
            for subset in itertools.combinations(candidates, size):
                self.assertFalse(covers_all(set(subset), runbooks), subset)

    def test_the_app_identity_default_reads_with_the_least_role_the_read_only_runbook_names(self) -> None:
        report = scheduled_runbooks()["Get-MailboxPermissionReport.ps1"]
        self.assertEqual(missing_roles(report, {facts.DEFAULT_ROLE}), ())
        self.assertFalse(facts.ROLES[facts.DEFAULT_ROLE].display_name.startswith("Exchange"))

    def test_the_reconciler_is_the_documented_exception_and_its_roles_are_privileged(self) -> None:
        declaration = shipped_runbooks()[RECONCILER.name]
        self.assertEqual({group for group in declaration.any_of}, {(role,) for role in facts.RBAC_RECONCILER_ROLES})
        for role in facts.RBAC_RECONCILER_ROLES:
            self.assertIn(role, facts.SCUBAGEAR_PRIVILEGED_ROLES, "so its warning and RoleExclusions entry apply")
        self.assertIn("reconciler", (REPO / "docs" / "scubagear.md").read_text())


class DefaultChangeNotice(unittest.TestCase):
    def test_a_stack_that_never_set_roles_gets_one_line_naming_the_key_and_the_old_role(self) -> None:
        config = automation_stack()
        del config["exo-automation:identities"][0]["roles"]
        del config["exo-automation:automation"]["roles"]
        (line,) = settings_of(config).warnings
        self.assertTrue(line.startswith("Default Entra roles changed: "), line)
        for phrase in (
            "exo-automation:identities[0].roles (identity exo) is not set and now means [Global Reader]",
            "exo-automation:automation.roles (automation managed identity) is not set and now means "
            "[Exchange Recipient Administrator, Global Reader]",
            "exo-automation:identities[0].roles to [Exchange Administrator]",
            "exo-automation:automation.roles to [Exchange Administrator]",
            "MS.AAD.7.4v1",
            "docs/scubagear.md",
        ):
            self.assertIn(phrase, line)

    def test_the_empty_config_names_the_default_identitys_key(self) -> None:
        (line,) = parse_settings({}, "dev", None, now=IN_THE_NOTICE_WINDOW).warnings
        self.assertIn("exo-automation:identities[0].roles (identity exo)", line)
        self.assertNotIn("automation.roles", line)
        self.assertIn("it stops by itself on 2027-12-06", line)

    def test_the_notice_ends_by_itself_after_its_period(self) -> None:
        last_day = facts.DEFAULT_ROLES_CHANGED_ON + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS - 1)
        on_the_last_day = dt.datetime.combine(last_day, dt.time(23, 59), dt.UTC)
        self.assertEqual(len(parse_settings({}, "dev", None, now=on_the_last_day).warnings), 1)
        self.assertEqual(parse_settings({}, "dev", None, now=on_the_last_day + dt.timedelta(minutes=1)).warnings, ())

    def test_setting_the_key_to_either_value_ends_it(self) -> None:
        for roles in (["Global Reader"], ["Exchange Recipient Administrator"]):
            with self.subTest(roles):
                self.assertEqual(settings_of({"identities": [{"name": "exo", "roles": roles}]}).warnings, ())
        kept = settings_of({"identities": [{"name": "exo", "roles": ["Exchange Administrator"]}]}).warnings
        self.assertEqual(len(kept), 1)
        self.assertFalse(kept[0].startswith("Default Entra roles changed"), "keeping the old role is a privileged warning, not the notice")

    def test_exchange_rbac_identities_meant_no_role_before_and_still_do(self) -> None:
        config = automation_stack()
        config["exo-automation:identities"] = [{"name": "sales", "exchangeRbac": {"roles": ["View-Only Recipients"]}}]
        config["exo-automation:automation"]["roles"] = ["Exchange Administrator"]
        warnings = settings_of(config).warnings
        self.assertFalse([w for w in warnings if w.startswith("Default Entra roles changed")], warnings)


class PrivilegedRoleWarnings(unittest.TestCase):
    def test_one_warning_per_identity_naming_the_controls_and_the_alternatives(self) -> None:
        config = {
            "allowGlobalAdministrator": True,
            "identities": [
                {"name": "admin", "roles": ["Exchange Administrator", "Global Reader"]},
                {"name": "reader", "roles": ["Global Reader"]},
                {"name": "root", "roles": ["Global Administrator", "Exchange Administrator"]},
            ],
        }
        warnings = settings_of(config).warnings
        self.assertEqual(len(warnings), 2)
        admin, root = warnings
        self.assertTrue(admin.startswith("identity admin (exo-automation:identities[0].roles) is assigned Exchange Administrator "))
        self.assertTrue(root.startswith("identity root (exo-automation:identities[2].roles) is assigned Global Administrator, Exchange"))
        for warning in warnings:
            for phrase in ("MS.AAD.7.4v1", "MS.AAD.7.5v1", "RoleExclusions", "scubaGearConfig", "exchangeRbac", "Global Reader"):
                self.assertIn(phrase, warning)

    def test_the_managed_identitys_alternatives_follow_its_runbooks_and_the_reconciler(self) -> None:
        config = automation_stack()
        config["exo-automation:automation"]["roles"] = ["Exchange Administrator"]
        (plain,) = settings_of(config).warnings
        self.assertTrue(
            plain.startswith("automation managed identity (exo-automation:automation.roles) is assigned Exchange Administrator")
        )
        self.assertIn("roles [Exchange Recipient Administrator, Global Reader] covers every configured runbook", plain)
        self.assertNotIn("reconciler", plain)

        config["exo-automation:automation"]["exchangeRbacSync"] = {}
        (with_reconciler,) = settings_of(config).warnings
        self.assertIn("the Exchange RBAC reconciler (exchangeRbac) needs Role Management", with_reconciler)

        config["exo-automation:automation"]["runbooks"].append({"name": "ByHand", "file": "runbooks/Sync-ExchangeRbac.ps1"})
        del config["exo-automation:automation"]["exchangeRbacSync"]
        (beyond,) = settings_of(config).warnings
        self.assertIn("a configured runbook's role header needs more than", beyond)


class ConfigFragment(unittest.TestCase):
    SP = "6F1C0B3A-2D4E-4F5A-8B6C-7D8E9F0A1B2C"
    MI = "9a2d3c4b-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

    def principals(self) -> list[scubagear.PrivilegedPrincipal]:
        return [
            scubagear.PrivilegedPrincipal("identity exo", self.SP, ("Exchange Administrator",)),
            scubagear.PrivilegedPrincipal("automation managed identity", self.MI, ("Exchange Administrator",)),
        ]

    def assert_scubagear_shape(self, fragment: dict[str, Any]) -> None:
        """The shapes ScubaConfigSchema.json gives (held in facts): RoleExclusions of unique GUIDs, AnnotatePolicy with a Comment."""
        self.assertEqual(set(fragment), {facts.SCUBAGEAR_CONFIG_PRODUCT_KEY, facts.SCUBAGEAR_ANNOTATE_KEY})
        for product in (fragment[facts.SCUBAGEAR_CONFIG_PRODUCT_KEY], fragment[facts.SCUBAGEAR_ANNOTATE_KEY]):
            for policy in product:
                self.assertRegex(policy, facts.SCUBAGEAR_POLICY_ID_PATTERN)
        excluded = fragment[facts.SCUBAGEAR_CONFIG_PRODUCT_KEY]
        self.assertEqual(set(excluded), set(facts.SCUBAGEAR_ROLE_EXCLUSION_POLICIES), "RoleExclusions is read for MS.AAD.7.4v1 only")
        exclusions = excluded[facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL]
        self.assertEqual(set(exclusions), {facts.SCUBAGEAR_ROLE_EXCLUSIONS_KEY})
        lists = exclusions[facts.SCUBAGEAR_ROLE_EXCLUSIONS_KEY]
        self.assertLessEqual(set(lists), set(facts.SCUBAGEAR_ROLE_EXCLUSION_LISTS))
        for ids in lists.values():
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(ids, [str(uuid.UUID(i)) for i in ids])
        annotations = fragment[facts.SCUBAGEAR_ANNOTATE_KEY]
        self.assertEqual(set(annotations), {facts.SCUBAGEAR_PAM_CONTROL})
        note = annotations[facts.SCUBAGEAR_PAM_CONTROL]
        self.assertLessEqual(set(note), set(facts.SCUBAGEAR_ANNOTATION_FIELDS))
        self.assertTrue(note["Comment"].strip())

    def test_the_fragment_excludes_both_object_ids_under_users_and_annotates_7_5(self) -> None:
        fragment = scubagear.config_fragment(self.principals())
        self.assert_scubagear_shape(fragment)
        self.assertEqual(fragment["Aad"]["MS.AAD.7.4v1"]["RoleExclusions"], {"Users": [self.SP.lower(), self.MI]})
        comment = fragment["AnnotatePolicy"]["MS.AAD.7.5v1"]["Comment"]
        self.assertIn("identity exo", comment)
        self.assertIn("automation managed identity", comment)

    def test_the_yaml_is_the_same_fragment_with_a_comment_per_id(self) -> None:
        text = scubagear.config_fragment_yaml(self.principals())
        self.assertEqual(yaml.safe_load(text), scubagear.config_fragment(self.principals()))
        self.assertIn(f"- {self.SP.lower()} # identity exo\n", text)
        self.assertIn(f"- {self.MI} # automation managed identity\n", text)

    def test_one_object_id_is_listed_once(self) -> None:
        twice = [*self.principals(), scubagear.PrivilegedPrincipal("identity again", self.SP.lower(), ("Global Administrator",))]
        users = scubagear.config_fragment(twice)["Aad"]["MS.AAD.7.4v1"]["RoleExclusions"]["Users"]
        self.assertEqual(users, [self.SP.lower(), self.MI])

    def test_nothing_privileged_gives_an_empty_fragment_and_says_so(self) -> None:
        output = scubagear.scubagear_output([])
        self.assertEqual((output["fragment"], output["yaml"], output["privilegedAssignments"], output["controls"]), ({}, "", [], []))
        self.assertIn("nothing to exclude", str(output["note"]))


class DocumentedAtTheKeys(unittest.TestCase):
    def test_the_default_certificate_lifetime_passes_the_ms_aad_5_7_limit(self) -> None:
        (identity,) = parse_settings({}, "dev", None).identities
        certificate = identity.generated_certificate
        assert certificate is not None and isinstance(certificate.validity_period_hours, int)
        self.assertLessEqual(certificate.validity_period_hours / 24, facts.SCUBAGEAR_CERTIFICATE_MAX_DAYS)
        host_script = (REPO / "scripts" / "windows" / "New-ExoHostCertificate.ps1").read_text(encoding="utf-8-sig")
        self.assertIn(f"[int] $ValidityDays = {facts.SCUBAGEAR_CERTIFICATE_MAX_DAYS}", host_script)

    def test_pulumi_yaml_says_at_the_keys_what_the_tenant_refuses_and_what_the_defaults_are(self) -> None:
        declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
        identities = " ".join(declared["identities"]["description"].split())
        self.assertIn("default [Global Reader]", identities)
        self.assertIn("refuses a longer one at `up`, not at preview", identities)
        self.assertIn("MS.AAD.5.7v1", identities)
        automation = " ".join(declared["automation"]["description"].split())
        self.assertIn(f"[{', '.join(facts.DEFAULT_MANAGED_IDENTITY_ROLES)}]", automation)

    def test_the_docs_map_the_controls_the_program_touches(self) -> None:
        text = (REPO / "docs" / "scubagear.md").read_text()
        rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| MS.")}
        for control in (*facts.SCUBAGEAR_PRIVILEGED_ROLE_CONTROLS, "MS.AAD.5.5v1", "MS.AAD.5.7v1", "MS.EXO.1.1v2"):
            self.assertIn(control, rows)
        self.assertIn("never changes them", text)
        words = " ".join(text.split())
        for role in facts.SCUBAGEAR_PRIVILEGED_ROLES:
            self.assertIn(role, words)
        self.assertIn(facts.SCUBAGEAR_COMMIT, text)
