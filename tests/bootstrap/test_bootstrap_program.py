"""The bootstrap program under mocks: who may sign in as whom, and with exactly which permissions."""

from __future__ import annotations

import json
import re
import runpy
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import exo_policies as ep
import pulumi
import pytest
from bootstrap_permissions import (
    DEPLOYER_GRAPH_APP_ROLES,
    DEPLOYER_WORKLOAD_ACTIONS,
    KEY_VAULT_CRYPTO_USER,
    PLANNER_GRAPH_APP_ROLES,
    PLANNER_WORKLOAD_ACTIONS,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
)
from recording_mocks import RecordingMocks

from tests.gitops import github_answers as answers
from tests.gitops.fake_github import FakeGitHub, serve

MAIN = Path(__file__).resolve().parents[2] / "bootstrap" / "__main__.py"
REPOSITORY = "contoso-msp/exo-automation"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
TENANT = "99999999-8888-7777-6666-555555555555"
ADMIN = "admin-object-id"
GRAPH_OBJECT = "graph-sp-object-id"
GRAPH_ROLE_IDS = {
    value: str(uuid.uuid5(uuid.NAMESPACE_URL, value))
    for value in {
        *DEPLOYER_GRAPH_APP_ROLES,
        *PLANNER_GRAPH_APP_ROLES,
        "Directory.ReadWrite.All",
    }
}
# The input that carries each azure-native resource's own name (its `name` output).
NAME_INPUT = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:keyvault:Key": "keyName",
    "azure-native:authorization:RoleDefinition": "roleName",
}


def computed(typ: str, name: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    outputs: dict[str, Any] = {}
    if typ == ep.AZUREAD_APPLICATION:
        outputs["clientId"] = f"{name}-client-id"
    if typ == ep.AZUREAD_SERVICE_PRINCIPAL:
        outputs["objectId"] = f"{name}-object-id"
    if typ in NAME_INPUT:
        outputs["name"] = inputs[NAME_INPUT[typ]]
    return outputs


CALLS = {
    "azuread:index/getClientConfig:getClientConfig": {
        "objectId": ADMIN,
        "tenantId": TENANT,
        "clientId": "cli",
    },
    "azure-native:authorization:getClientConfig": {
        "subscriptionId": SUBSCRIPTION,
        "tenantId": TENANT,
        "objectId": ADMIN,
        "clientId": "cli",
    },
    "azuread:index/getServicePrincipal:getServicePrincipal": {
        "objectId": GRAPH_OBJECT,
        "clientId": "00000003-0000-0000-c000-000000000000",
        "appRoleIds": GRAPH_ROLE_IDS,
    },
}


class Run:
    def __init__(self, records: list[ep.ResourceRecord], manifest_row: dict[str, Any]) -> None:
        self.records = records
        self.manifest_row = manifest_row

    def of_type(self, typ: str) -> list[ep.ResourceRecord]:
        return [r for r in self.records if r.type == typ]


CONFIG = {
    "exo-bootstrap:githubRepository": REPOSITORY,
    "exo-bootstrap:deployEnvironments": json.dumps(["exo-contoso"]),
    "exo-bootstrap:location": "westeurope",
    "exo-bootstrap:stateStorageAccount": "contosoexostate",
    "exo-bootstrap:keyVault": "contoso-exo-pulumi",
    # A keyless main stack (host certificates only): it gets PR previews.
    "exo-bootstrap:mainStackFile": "tests/bootstrap/keyless-stack.yaml",
}
IMMUTABLE = f"repo:{answers.OWNER}@{answers.OWNER_ID}/{answers.NAME}@{answers.REPOSITORY_ID}"


def run_bootstrap(plan: str, **config: str) -> Run:
    """The bootstrap program under mocks, against GitHub's recorded answers for a repository on `plan`."""
    github = FakeGitHub()
    answers.configure(github, plan)
    with serve(github) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("GITHUB_API_URL", url)
        env.setenv("GH_TOKEN", "test-token")
        return run_program(config)


@pytest.fixture(scope="module")
def run() -> Run:
    return run_bootstrap("public")


def run_program(extra: Mapping[str, str] | None = None) -> Run:
    mocks = RecordingMocks(computed_outputs=computed, call_results=CALLS)
    pulumi.runtime.set_mocks(mocks, project="exo-bootstrap", stack="contoso", preview=False)
    for key, value in {**CONFIG, **{f"exo-bootstrap:{k}": v for k, v in (extra or {}).items()}}.items():
        pulumi.runtime.set_config(key, value)
    captured: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        namespace = runpy.run_path(str(MAIN))
        row: pulumi.Output[str] = namespace["stacks_manifest_row"]
        return row.apply(lambda text: captured.setdefault("row", json.loads(text)))

    program()
    return Run(mocks.records, captured.get("row", {}))


def credentials_by_app(run: Run) -> dict[str, set[str]]:
    subjects: dict[str, set[str]] = {}
    for record in run.of_type("azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"):
        assert record.inputs["issuer"] == "https://token.actions.githubusercontent.com"
        assert record.inputs["audiences"] == ["api://AzureADTokenExchange"]
        role = "deployer" if "deployer" in record.name else "planner"
        subjects.setdefault(role, set()).add(record.inputs["subject"])
    return subjects


def test_only_protected_environment_jobs_can_become_the_deployer(run: Run) -> None:
    # The immutable subject form only: the name form names whoever holds the name (github_preflight.py).
    assert credentials_by_app(run) == {
        "deployer": {f"{IMMUTABLE}:environment:exo-contoso"},
        "planner": {f"{IMMUTABLE}:ref:refs/heads/main", f"{IMMUTABLE}:environment:exo-contoso-preview"},
    }


def test_the_immutable_credential_keeps_the_name_earlier_versions_gave_it(run: Run) -> None:
    names = {
        r.inputs["subject"]: r.inputs["displayName"]
        for r in run.of_type("azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential")
    }
    assert names[f"{IMMUTABLE}:environment:exo-contoso"] == "github-environment-exo-contoso-ids"


@pytest.mark.parametrize("plan", ["enterprise"])
def test_an_enterprise_private_repository_bootstraps_as_a_public_one(plan: str, run: Run) -> None:
    private = run_bootstrap(plan)
    assert credentials_by_app(private) == credentials_by_app(run)


def test_a_private_team_repository_is_refused_before_any_resource() -> None:
    with pytest.raises(Exception, match="only for public repositories") as error:
        run_bootstrap("team")
    assert "refusing to create federated credentials" in str(error.value)


def reachable_without_review(subject: str) -> bool:
    """Whether code nobody reviewed can present this GitHub OIDC subject.

    `pull_request` (every same-repo branch), any branch but main, pull-request refs and tags can be pushed by anyone with
    write access. `ref:refs/heads/main` holds merged code; `environment:<name>` starts only after the environment's rules
    (required reviewers; for deploy environments main only; checked before use by .github/scripts/environment_gate.py).
    """
    kind = subject.split(":", 2)[2]
    return not (kind == "ref:refs/heads/main" or (kind.startswith("environment:") and "*" not in kind))


def test_no_identity_is_reachable_by_unreviewed_pull_request_code(run: Run) -> None:
    """Threat model: a pull request's code gets no Azure identity at all, so no key, state secret or write right."""
    for role, subjects in credentials_by_app(run).items():
        for subject in subjects:
            assert subject.startswith(f"{IMMUTABLE}:"), subject
            assert not reachable_without_review(subject), f"{role} trusts {subject}"
    assert reachable_without_review(f"repo:{REPOSITORY}:pull_request")
    assert reachable_without_review(f"repo:{REPOSITORY}:ref:refs/heads/feature")


def test_preview_and_deploy_environments_are_different_gates(run: Run) -> None:
    subjects = credentials_by_app(run)
    deploy = {s.rsplit(":", 1)[1] for s in subjects["deployer"] if ":environment:" in s}
    preview = {s.rsplit(":", 1)[1] for s in subjects["planner"] if ":environment:" in s}
    assert deploy == {"exo-contoso"} and preview == {"exo-contoso-preview"}
    assert deploy.isdisjoint(preview), "approving a preview must never let the deployer sign in"


def test_graph_permissions_are_exactly_the_documented_ones(run: Run) -> None:
    granted: dict[str, set[str]] = {"deployer": set(), "planner": set()}
    ids_to_value = {v: k for k, v in GRAPH_ROLE_IDS.items()}
    for record in run.of_type("azuread:index/appRoleAssignment:AppRoleAssignment"):
        assert record.inputs["resourceObjectId"] == GRAPH_OBJECT
        role = "deployer" if "deployer" in record.name else "planner"
        assert record.inputs["principalObjectId"] == f"exo-automation-{role}-sp-object-id"
        granted[role].add(ids_to_value[record.inputs["appRoleId"]])
    assert granted == {
        "deployer": set(DEPLOYER_GRAPH_APP_ROLES),
        "planner": set(PLANNER_GRAPH_APP_ROLES),
    }


def test_apps_declare_the_same_permissions_and_have_no_secret(run: Run) -> None:
    apps = {r.name: r for r in run.of_type(ep.AZUREAD_APPLICATION)}
    assert set(apps) == {"exo-automation-deployer-app", "exo-automation-planner-app"}
    for name, record in apps.items():
        wanted = DEPLOYER_GRAPH_APP_ROLES if "deployer" in name else PLANNER_GRAPH_APP_ROLES
        (access,) = record.inputs["requiredResourceAccesses"]
        assert access["resourceAppId"] == "00000003-0000-0000-c000-000000000000"
        assert {a["id"] for a in access["resourceAccesses"]} == {GRAPH_ROLE_IDS[v] for v in wanted}
        assert {a["type"] for a in access["resourceAccesses"]} == {"Role"}
        assert record.inputs["owners"] == [ADMIN]
        assert "password" not in record.inputs
    assert run.of_type(ep.AZUREAD_APPLICATION_PASSWORD) == []


def test_bootstrap_passes_the_policy_pack(run: Run) -> None:
    assert ep.evaluate(run.records) == []


def role(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def test_azure_role_assignments_are_scoped_to_what_each_identity_touches(
    run: Run,
) -> None:
    # Mock resource ids are "<logical name>-id".
    workload, container, key = "workload-id", "state-container-id", "state-key-id"
    deployer_role, planner_role = "deployer-role-id", "planner-role-id"
    deployer = "exo-automation-deployer-sp-object-id"
    planner = "exo-automation-planner-sp-object-id"
    assignments = {
        (
            r.inputs["principalId"],
            r.inputs["roleDefinitionId"],
            r.inputs["scope"],
            r.inputs.get("principalType"),
        )
        for r in run.of_type("azure-native:authorization:RoleAssignment")
    }
    assert assignments == {
        (deployer, deployer_role, workload, "ServicePrincipal"),
        (deployer, role(STORAGE_BLOB_DATA_CONTRIBUTOR), container, "ServicePrincipal"),
        (deployer, role(KEY_VAULT_CRYPTO_USER), key, "ServicePrincipal"),
        (planner, planner_role, workload, "ServicePrincipal"),
        (planner, role(STORAGE_BLOB_DATA_READER), container, "ServicePrincipal"),
        (planner, role(KEY_VAULT_CRYPTO_USER), key, "ServicePrincipal"),
        (ADMIN, role(STORAGE_BLOB_DATA_CONTRIBUTOR), container, "User"),
        (ADMIN, role(KEY_VAULT_CRYPTO_USER), key, "User"),
    }
    names = [r.inputs["roleAssignmentName"] for r in run.of_type("azure-native:authorization:RoleAssignment")]
    assert len(set(names)) == len(names)
    assert all(uuid.UUID(name).version == 5 for name in names)


def test_custom_roles_hold_only_the_documented_actions(run: Run) -> None:
    definitions = {r.name: r for r in run.of_type("azure-native:authorization:RoleDefinition")}
    expected = {
        "deployer-role": DEPLOYER_WORKLOAD_ACTIONS,
        "planner-role": PLANNER_WORKLOAD_ACTIONS,
    }
    assert set(definitions) == set(expected)
    for name, actions in expected.items():
        inputs = definitions[name].inputs
        assert inputs["permissions"] == [{"actions": list(actions)}]
        assert inputs["assignableScopes"] == ["workload-id"]
        assert inputs["roleType"] == "CustomRole"
        assert uuid.UUID(inputs["roleDefinitionId"]).version == 5
    # The planner writes nothing: every action is a read but the two storage list actions a preview needs (Blob refresh with the
    # account key; the runbook content link's SAS, an invoke that runs in previews).
    assert [a for a in PLANNER_WORKLOAD_ACTIONS if not a.endswith("/read")] == [
        "Microsoft.Storage/storageAccounts/listKeys/action",
        "Microsoft.Storage/storageAccounts/listServiceSas/action",
    ]


def test_state_backend_is_entra_only_versioned_and_protected(run: Run) -> None:
    (account,) = run.of_type(ep.STORAGE_ACCOUNT)
    assert account.inputs["allowSharedKeyAccess"] is False
    (service,) = run.of_type("azure-native:storage:BlobServiceProperties")
    assert service.inputs["isVersioningEnabled"] is True
    (vault,) = run.of_type("azure-native:keyvault:Vault")
    assert vault.inputs["properties"]["enableRbacAuthorization"] is True
    assert vault.inputs["properties"]["enablePurgeProtection"] is True
    (key,) = run.of_type("azure-native:keyvault:Key")
    assert key.inputs["properties"]["kty"] == "RSA"
    assert key.inputs["properties"]["keyOps"] == ["encrypt", "decrypt"]


def test_manifest_row_is_a_valid_stacks_manifest_row(run: Run) -> None:
    schema = json.loads((MAIN.parents[1] / ".github" / "pulumi-stacks.schema.json").read_text())["properties"]["stacks"]["items"]
    # previewEnvironment is optional: a keyless stack (as here) has it, a stack with keys in state has none.
    assert set(run.manifest_row) == set(schema["required"]) | {"previewEnvironment"} == set(schema["properties"])


def test_manifest_row_fills_every_field_the_workflows_read(run: Run) -> None:
    assert run.manifest_row == {
        "stack": "contoso",
        "environment": "exo-contoso",
        "previewEnvironment": "exo-contoso-preview",
        "tenantId": TENANT,
        "subscriptionId": SUBSCRIPTION,
        "plannerClientId": "exo-automation-planner-app-client-id",
        "deployerClientId": "exo-automation-deployer-app-client-id",
        "stateStorageAccount": "contosoexostate",
        "stateContainer": "pulumi-state",
    }


def test_credential_names_are_unique_per_subject_and_existing_names_stay() -> None:
    from bootstrap_resources import credential_name

    prefix = IMMUTABLE
    # `.` and `-` would both become `-`: the subject's hash tells them apart.
    dotted, dashed = credential_name(f"{prefix}:environment:prod.eu"), credential_name(f"{prefix}:environment:prod-eu")
    assert dotted != dashed and dashed == "github-environment-prod-eu-ids"
    assert dotted.startswith("github-environment-prod-eu-") and dotted.endswith("-ids")
    # `/` in a branch likewise; names earlier versions made stay as they were (no replacement of existing credentials).
    assert credential_name(f"{prefix}:ref:refs/heads/release/a") != credential_name(f"{prefix}:ref:refs/heads/release-a")
    assert credential_name(f"{prefix}:ref:refs/heads/main") == "github-ref-refs-heads-main-ids"
    long_names = [credential_name(f"{prefix}:environment:{'e' * 130}{n}") for n in range(2)]
    assert len(set(long_names)) == 2 and all(len(name) <= 120 for name in long_names)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) for name in [dotted, dashed, *long_names])


SUBNET = (
    "/subscriptions/6f1e7a52-3c1d-4b9e-9a0f-2d8c5e7b4a10/resourceGroups/rg-corp-network/providers/Microsoft.Network/"
    "virtualNetworks/vnet-corp/subnets/snet-private-endpoints"
)


def test_the_deployer_joins_the_landing_zone_subnet_it_is_told_and_no_other() -> None:
    from bootstrap_permissions import DEPLOYER_SUBNET_ACTIONS

    joined = run_bootstrap("public", privateEndpointSubnetId=SUBNET)
    definitions = {r.name: r for r in joined.of_type("azure-native:authorization:RoleDefinition")}
    network_group = SUBNET.split("/providers/", 1)[0]
    subnet_role = definitions["deployer-subnet-role"].inputs
    assert subnet_role["permissions"] == [{"actions": list(DEPLOYER_SUBNET_ACTIONS)}]
    assert subnet_role["assignableScopes"] == [network_group] and subnet_role["scope"] == network_group
    (assignment,) = [r for r in joined.of_type("azure-native:authorization:RoleAssignment") if r.name == "deployer-subnet"]
    assert assignment.inputs["scope"] == SUBNET, "assigned at the subnet, not its network or group"
    assert assignment.inputs["principalId"] == "exo-automation-deployer-sp-object-id"


@pytest.mark.parametrize("main_stack", ["tests/bootstrap/keyed-stack.yaml", "tests/bootstrap/no-such-stack.yaml"])
def test_a_stack_with_generated_keys_gets_no_preview_credential(main_stack: str) -> None:
    """Generated keys (an identity without hostCertificates), or a stack file the bootstrap cannot read: no PR preview at all, since an
    approval of one's own preview (prevent self-review binds the initiator) would let PR code decrypt the keys."""
    keyed = run_bootstrap("public", mainStackFile=main_stack)
    assert credentials_by_app(keyed)["planner"] == {f"{IMMUTABLE}:ref:refs/heads/main"}
    assert credentials_by_app(keyed)["deployer"] == {f"{IMMUTABLE}:environment:exo-contoso"}
    assert "previewEnvironment" not in keyed.manifest_row


def test_which_stacks_keep_private_keys() -> None:
    from bootstrap_settings import keeps_private_keys

    host = {"name": "a", "certificate": {"hostCertificates": ["a.cer"]}}
    assert keeps_private_keys(None), "unknown counts as keys"
    assert keeps_private_keys({"config": {}}), "the default identity is generated"
    assert keeps_private_keys({"config": {"exo-automation:identities": [host, {"name": "b"}]}})
    assert keeps_private_keys({"config": {"exo-automation:identities": [{"name": "b", "certificate": {"hostCertificates": []}}]}})
    assert not keeps_private_keys({"config": {"exo-automation:identities": [host]}})
    assert not keeps_private_keys({"config": {"exo-automation:identities": []}})
