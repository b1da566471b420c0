"""Exactly what the pipeline identities may do, each grant with the reason the main stack needs it.

Two identities per tenant:
- the *planner* (pull-request previews and drift checks) reads the tenant and the state;
- the *deployer* (merge to main, behind a GitHub environment) changes the tenant.

Sources: the "API Permissions" section of each azuread resource and data source the main stack uses
(hashicorp/terraform-provider-azuread docs/resources/*.md, the provider pulumi-azuread bridges), the Pulumi
DIY-backend docs (Storage Blob Data Contributor for azblob://), and the Azure built-in roles reference.
"""

from __future__ import annotations

from collections.abc import Mapping

# Microsoft Graph application permissions (app roles on the Graph service principal), by value.
DEPLOYER_GRAPH_APP_ROLES: Mapping[str, str] = {
    "Application.ReadWrite.OwnedBy": (
        "create the Exchange app registrations, their service principals and certificate credentials, and change "
        "only apps it owns (the main stack lists the deployer in `owners` of each Application and ServicePrincipal)"
    ),
    "Application.Read.All": (
        "look up Microsoft's Exchange Online service principal and the Automation managed identity's service "
        "principal (azuread.get_service_principal), and read the app role assignments it manages"
    ),
    "AppRoleAssignment.ReadWrite.All": (
        "grant Exchange.ManageAsApp on the Exchange Online service principal to the app and the managed identity"
    ),
    "RoleManagement.ReadWrite.Directory": (
        "assign the Exchange directory role (e.g. Exchange Administrator) to the app and the managed identity"
    ),
    "Domain.Read.All": "find the tenant's initial domain for -Organization (azuread.get_domains, only_initial=True)",
}

PLANNER_GRAPH_APP_ROLES: Mapping[str, str] = {
    "Application.Read.All": "refresh/preview the apps, service principals, credentials and app role assignments",
    "RoleManagement.Read.Directory": "refresh/preview the directory role assignments",
    "Domain.Read.All": "preview the -Organization value (azuread.get_domains runs during previews too)",
}

# Azure RBAC for the workload resource group (where the main stack puts Automation and runbook storage).
# A custom role instead of Contributor: nothing outside these resource providers.
DEPLOYER_WORKLOAD_ACTIONS: Mapping[str, str] = {
    "Microsoft.Resources/subscriptions/resourceGroups/read": "resolve the resource group the stack deploys into",
    "Microsoft.Automation/automationAccounts/*": (
        "the Automation account with its runbooks, modules, runtime environments, schedules and job schedules"
    ),
    "Microsoft.Storage/storageAccounts/*": (
        "the runbook-content storage account, its container and blobs; azure-native's storage.Blob calls "
        "listKeys and uploads with the account key (provider/pkg/resources/customresources/"
        "custom_storage_azidentity.go)"
    ),
    "Microsoft.OperationalInsights/workspaces/*": "automation.monitoring: the Log Analytics workspace and its saved searches",
    "Microsoft.Insights/actionGroups/*": "automation.monitoring: the action group the alerts notify",
    "Microsoft.Insights/scheduledQueryRules/*": "automation.monitoring: the log search alert rules",
    "Microsoft.Insights/diagnosticSettings/*": "automation.monitoring: the Automation account's diagnostic setting",
    "Microsoft.Insights/workbooks/*": "automation.monitoring: the findings workbook",
    "Microsoft.Network/privateEndpoints/*": "landingZone.privateEndpoints: the Automation account's private endpoints",
}

# Granted at the landing zone subnet only (bootstrap config privateEndpointSubnetId), never on its network or group: a private
# endpoint's network interface takes an address there.
DEPLOYER_SUBNET_ACTIONS: Mapping[str, str] = {
    "Microsoft.Network/virtualNetworks/subnets/read": "resolve the subnet the private endpoints are placed in",
    "Microsoft.Network/virtualNetworks/subnets/join/action": "place the private endpoints' network interfaces in the subnet",
}

# What creating or updating each Azure resource type the main program registers requires (the ARM write action, or for blobs the
# key the provider uploads with), so a test can hold the deployer's role to the program: a new type without an entry, or an
# action the role does not cover, fails. Action names: MicrosoftDocs/azure-docs articles/role-based-access-control/permissions/
# monitor.md @488eb1b (Microsoft.Insights, Microsoft.OperationalInsights), networking.md @941b361 (Microsoft.Network),
# integration.md / management-and-governance.md (Microsoft.Automation), storage.md (Microsoft.Storage).
PROGRAM_RESOURCE_ACTIONS: Mapping[str, str] = {
    "azure-native:automation:AutomationAccount": "Microsoft.Automation/automationAccounts/write",
    "azure-native:automation:HybridRunbookWorkerGroup": "Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups/write",
    "azure-native:automation:JobSchedule": "Microsoft.Automation/automationAccounts/jobSchedules/write",
    "azure-native:automation:Module": "Microsoft.Automation/automationAccounts/modules/write",
    "azure-native:automation:Package": "Microsoft.Automation/automationAccounts/runtimeEnvironments/packages/write",
    "azure-native:automation:Runbook": "Microsoft.Automation/automationAccounts/runbooks/write",
    "azure-native:automation:RuntimeEnvironment": "Microsoft.Automation/automationAccounts/runtimeEnvironments/write",
    "azure-native:automation:Schedule": "Microsoft.Automation/automationAccounts/schedules/write",
    "azure-native:automation:Variable": "Microsoft.Automation/automationAccounts/variables/write",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts/write",
    "azure-native:storage:BlobContainer": "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    "azure-native:storage:Blob": "Microsoft.Storage/storageAccounts/listKeys/action",
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces/write",
    "azure-native:operationalinsights:SavedSearch": "Microsoft.OperationalInsights/workspaces/savedSearches/write",
    "azure-native:monitor:ActionGroup": "Microsoft.Insights/actionGroups/write",
    "azure-native:monitor:ScheduledQueryRule": "Microsoft.Insights/scheduledQueryRules/write",
    "azure-native:monitor:DiagnosticSetting": "Microsoft.Insights/diagnosticSettings/write",
    "azure-native:applicationinsights:Workbook": "Microsoft.Insights/workbooks/write",
    "azure-native:network:PrivateEndpoint": "Microsoft.Network/privateEndpoints/write",
}

# Types the program can register that the pipeline's deployer is deliberately not allowed to create, each with what a pipeline
# stack does instead (docs/gitops.md "Permissions, and why each").
NOT_GRANTED_TO_THE_DEPLOYER: Mapping[str, str] = {
    "azure-native:resources:ResourceGroup": (
        "the bootstrap creates the workload group: pipeline stacks set automation.createResourceGroup false"
    ),
    "azure-native:keyvault:Vault": "the keyVault option is not covered (it would need Microsoft.KeyVault/vaults/* and role assignments)",
    "azure-native:keyvault:Secret": "the keyVault option is not covered",
    "azure-native:authorization:RoleAssignment": (
        "the keyVault option's Key Vault Secrets User grants: not covered (role-assignment rights would need an ABAC condition)"
    ),
}

# The planner's role on the workload resource group: Reader's `*/read`, plus listKeys because refreshing an
# azure-native storage.Blob reads it with the account key. That key could overwrite runbook content; the Automation
# account imports a runbook only when its content matches the SHA256 the program pins, which limits the damage.
PLANNER_WORKLOAD_ACTIONS: Mapping[str, str] = {
    "*/read": "refresh every workload resource (the same actions as the built-in Reader role)",
    "Microsoft.Storage/storageAccounts/listKeys/action": "refresh azure-native storage.Blob (read with the account key)",
    "Microsoft.Storage/storageAccounts/listServiceSas/action": (
        "previews evaluate the runbook container's content link (storage.list_storage_account_service_sas, one call per preview)"
    ),
}

# Built-in Azure roles by id (ids are the same in every tenant; Azure built-in roles reference).
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"

BUILTIN_ROLE_REASONS: Mapping[str, str] = {
    STORAGE_BLOB_DATA_CONTRIBUTOR: "deployer (and the admin who runs `pulumi stack init`): read, lock and write "
    "stack state in the azblob:// container",
    STORAGE_BLOB_DATA_READER: "planner: read stack state (previews take no lock in DIY backends)",
    KEY_VAULT_CRYPTO_USER: "every identity that opens the stack: encrypt/decrypt with the azurekeyvault:// key",
}

GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
ENTRA_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
