#!/usr/bin/env bash
# Gives the Azure SDK credential chain (DefaultAzureCredential -> WorkloadIdentityCredential) this job's GitHub
# OIDC token. The `azblob://` state backend and the `azurekeyvault://` secrets provider authenticate that way and
# ignore the providers' ARM_* variables; the providers fetch their own token through ARM_USE_OIDC.
#
# Needs `permissions: id-token: write` on the job and AZURE_CLIENT_ID / AZURE_TENANT_ID in its env.
# Writes the token to $RUNNER_TEMP (removed with the job) and exports AZURE_FEDERATED_TOKEN_FILE via $GITHUB_ENV.
set -euo pipefail

: "${ACTIONS_ID_TOKEN_REQUEST_URL:?no OIDC token endpoint: give this job permissions id-token: write}"
: "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:?no OIDC request token: give this job permissions id-token: write}"
: "${AZURE_CLIENT_ID:?set AZURE_CLIENT_ID to the client id of the federated app registration}"
: "${AZURE_TENANT_ID:?set AZURE_TENANT_ID}"
: "${RUNNER_TEMP:?RUNNER_TEMP is not set - not on a GitHub runner}"
: "${GITHUB_ENV:?GITHUB_ENV is not set - not on a GitHub runner}"

# Entra's federated credentials expect this audience unless the credential says otherwise.
audience="${AZURE_OIDC_AUDIENCE:-api://AzureADTokenExchange}"
encoded_audience=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$audience")

response=$(curl --fail --silent --show-error \
  --header "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
  "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${encoded_audience}")
token=$(printf '%s' "$response" | python3 -c 'import json, sys; print(json.load(sys.stdin)["value"])')
if [ -z "$token" ]; then
  echo "::error::the OIDC token endpoint returned no token" >&2
  exit 1
fi

token_file="${RUNNER_TEMP}/azure-federated-token"
(umask 077 && printf '%s' "$token" > "$token_file")
echo "AZURE_FEDERATED_TOKEN_FILE=${token_file}" >> "$GITHUB_ENV"
echo "Federated token for client ${AZURE_CLIENT_ID} written to ${token_file}"
