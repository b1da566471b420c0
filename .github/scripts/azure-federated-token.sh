#!/usr/bin/env bash
# Gives the Azure SDK credential chain (DefaultAzureCredential -> WorkloadIdentityCredential) this job's GitHub
# OIDC token, and keeps it fresh for the whole job. The `azblob://` state backend and the `azurekeyvault://` secrets
# provider authenticate that way and ignore the providers' ARM_* variables; the providers fetch their own token
# through ARM_USE_OIDC.
#
# GitHub OIDC tokens expire about 5 minutes after issue (Azure/login #441). The SDK re-reads the token file whenever
# it needs a new Entra access token, so a file written once makes any run longer than that fail with AADSTS700024
# ("client assertion is not within its valid time range") half-way. So, after the first fetch, a background loop fetches
# a new token every AZURE_FEDERATED_TOKEN_REFRESH_SECONDS (default 120) and replaces the file atomically (write a temp
# file in the same directory, then rename), so a reader sees the old or the new token, never half of one. The loop stops
# by itself after AZURE_FEDERATED_TOKEN_REFRESH_COUNT refreshes (default 90: three hours, longer than any job's
# timeout-minutes) and the runner ends it with the job anyway. A failed refresh keeps the previous token and tries again
# at the next interval. The SDK keeps what it read for 10 minutes per credential (azure-sdk-for-go
# sdk/azidentity/workload_identity.go, getAssertion), so what counts is the token's age when it is read: at most 120 s.
#
# Needs `permissions: id-token: write` on the job and AZURE_CLIENT_ID / AZURE_TENANT_ID in its env.
# Writes the token to $RUNNER_TEMP (removed with the job) and exports AZURE_FEDERATED_TOKEN_FILE via $GITHUB_ENV.
# Usage: azure-federated-token.sh                 first token, export, start the refresher
#        azure-federated-token.sh --refresh-loop  the refresher itself (started by the line above)
set -euo pipefail

: "${ACTIONS_ID_TOKEN_REQUEST_URL:?no OIDC token endpoint: give this job permissions id-token: write}"
: "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:?no OIDC request token: give this job permissions id-token: write}"
: "${AZURE_CLIENT_ID:?set AZURE_CLIENT_ID to the client id of the federated app registration}"
: "${AZURE_TENANT_ID:?set AZURE_TENANT_ID}"
: "${RUNNER_TEMP:?RUNNER_TEMP is not set - not on a GitHub runner}"

token_file="${RUNNER_TEMP}/azure-federated-token"
refresh_seconds="${AZURE_FEDERATED_TOKEN_REFRESH_SECONDS:-120}"
refresh_count="${AZURE_FEDERATED_TOKEN_REFRESH_COUNT:-90}"

fetch_token() {
  # Entra's federated credentials expect this audience unless the credential says otherwise.
  local audience encoded_audience response token temp
  audience="${AZURE_OIDC_AUDIENCE:-api://AzureADTokenExchange}"
  encoded_audience=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$audience")
  response=$(curl --fail --silent --show-error --max-time 30 \
    --header "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
    "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${encoded_audience}") || return 1
  token=$(printf '%s' "$response" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("value") or "")') || return 1
  if [ -z "$token" ]; then
    echo "::error::the OIDC token endpoint returned no token" >&2
    return 1
  fi
  # mktemp creates the file with mode 600; rename within one directory is atomic.
  temp=$(mktemp "${token_file}.XXXXXX")
  printf '%s' "$token" > "$temp"
  mv -f "$temp" "$token_file"
}

if [ "${1:-}" = "--refresh-loop" ]; then
  for ((round = 1; round <= refresh_count; round++)); do
    sleep "$refresh_seconds"
    if fetch_token; then
      echo "refresh ${round}/${refresh_count}: new federated token written"
    else
      echo "::warning::refresh ${round}/${refresh_count} of the federated token failed; keeping the previous token" >&2
    fi
  done
  exit 0
fi

: "${GITHUB_ENV:?GITHUB_ENV is not set - not on a GitHub runner}"
fetch_token
# The runner hides a masked value in every later line of the job's log. Only a step's own output registers a mask, so the
# detached refresher below cannot: pulumi_run.py, which prints what the CLI says, masks each newer token before it prints.
echo "::add-mask::$(cat "$token_file")"
echo "AZURE_FEDERATED_TOKEN_FILE=${token_file}" >> "$GITHUB_ENV"
# Detached from the step's output so the step ends; the runner removes leftover processes when the job ends.
nohup bash "$0" --refresh-loop > "${RUNNER_TEMP}/azure-federated-token-refresh.log" 2>&1 &
echo "$!" > "${RUNNER_TEMP}/azure-federated-token-refresh.pid"
echo "Federated token for client ${AZURE_CLIENT_ID} written to ${token_file}; refreshed every ${refresh_seconds}s (log: \$RUNNER_TEMP/azure-federated-token-refresh.log)"
