#!/usr/bin/env bash
# Installs the Pulumi CLI and the provider plugins the program uses, each checked against the SHA-256 pinned in
# .github/pulumi-downloads.json (a reviewed file: CODEOWNERS), and stops the CLI from downloading anything else:
# PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true turns a plugin that is not installed into an error instead of a download
# (pulumi/pulumi sdk/go/common/workspace/plugins.go). Plugins are installed with `pulumi plugin install resource NAME
# VERSION --exact --checksum SHA256` (pulumi/pulumi pkg/cmd/pulumi/plugin/plugin_install.go: "The expected SHA256 checksum
# for the plugin archive").
# Fails closed: an entry without a digest, or a download whose digest differs, stops the job before it signs in.
# Usage: install-pulumi.sh [PINS_FILE]   (on a runner: adds the CLI to $GITHUB_PATH and sets the variable in $GITHUB_ENV)
set -euo pipefail

pins="${1:-.github/pulumi-downloads.json}"
: "${RUNNER_TEMP:?RUNNER_TEMP is not set - not on a GitHub runner}"

# field cli.version | field plugins.0.name | field plugins (a list: prints its length)
field() {
  python3 -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(len(value) if isinstance(value, list) else value)' "$pins" "$1"
}

missing=$(python3 - "$pins" <<'PY'
import json, re, sys
pins = json.load(open(sys.argv[1]))
entries = [("CLI " + pins["cli"]["version"], pins["cli"]["sha256"])]
entries += [(f"plugin {p['name']} {p['version']}", p["sha256"]) for p in pins["plugins"]]
print("; ".join(name for name, digest in entries if not re.fullmatch(r"[0-9a-f]{64}", digest)))
PY
)
if [ -n "$missing" ]; then
  echo "::error::no SHA-256 pinned in ${pins} for: ${missing}. Run scripts/pin-pulumi-downloads and commit the file (docs/gitops.md#pinned-downloads)." >&2
  exit 1
fi

version=$(field cli.version)
url=$(field cli.url)
sha256=$(field cli.sha256)
archive="${RUNNER_TEMP}/pulumi-cli.tar.gz"
curl --fail --silent --show-error --location --max-time 300 --output "$archive" "$url"
echo "${sha256}  ${archive}" | sha256sum --check --strict
mkdir -p "${RUNNER_TEMP}/pulumi-cli"
tar -xzf "$archive" -C "${RUNNER_TEMP}/pulumi-cli"
cli_dir="${RUNNER_TEMP}/pulumi-cli/pulumi"
# The CLI tarball bundles the dynamic-provider hosts pulumi-resource-pulumi-python and -nodejs next to the binaries (pulumi/pulumi
# scripts/prep-for-goreleaser.sh, .goreleaser.yml `bin/{{ .Os }}/*`), and the engine finds them there (sdk/go/common/workspace/
# plugins.go IsPluginBundled). A dynamic resource in state is code: whoever can write the state could plant one that a refresh
# would unpickle as the deployer. The program declares none, so remove its hosts, and ignore ambient plugins on PATH so none is
# found elsewhere; a dynamic resource in state then fails to load instead of running.
rm -f "${cli_dir}"/pulumi-resource-pulumi-*
if compgen -G "${cli_dir}/pulumi-resource-pulumi-*" > /dev/null; then
  echo "::error::could not remove the dynamic-provider hosts from ${cli_dir}" >&2
  exit 1
fi
"${cli_dir}/pulumi" version | grep -qx "v${version}"

count=$(field plugins)
for ((i = 0; i < count; i++)); do
  kind=$(field "plugins.$i.kind")
  name=$(field "plugins.$i.name")
  plugin_version=$(field "plugins.$i.version")
  plugin_sha256=$(field "plugins.$i.sha256")
  # A plugin published outside Pulumi's own releases (pulumiverse) names its server, e.g. github://api.github.com/pulumiverse.
  server=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["plugins"][int(sys.argv[2])].get("server", ""))' "$pins" "$i")
  "${cli_dir}/pulumi" plugin install "$kind" "$name" "$plugin_version" --exact --checksum "$plugin_sha256" ${server:+--server "$server"}
done

: "${GITHUB_PATH:?GITHUB_PATH is not set - not on a GitHub runner}"
: "${GITHUB_ENV:?GITHUB_ENV is not set - not on a GitHub runner}"
echo "$cli_dir" >> "$GITHUB_PATH"
echo "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" >> "$GITHUB_ENV"
echo "PULUMI_IGNORE_AMBIENT_PLUGINS=true" >> "$GITHUB_ENV"
echo "Pulumi CLI v${version} and ${count} plugins installed, each matching its pinned SHA-256"
