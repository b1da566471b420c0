"""Provider plugins for the engine tests: `azure-native`, `azuread`, `tls` and `time`, emulated on the SDK's provider interface
(the ResourceProviderServicer of pulumi.runtime.proto), answering from the emulated cloud (tests/engine/emulated_cloud.py), which is
the SDK tests' MockTenant: one model of Azure for both kinds of test.

The plugin speaks the raw property structs so that what the engine sends (secrets, asset hashes, unknowns) is seen as sent.
Where a real provider decides something the engine then acts on (which changes replace, a certificate ready for renewal, outputs
that are secret) the rule is data here with its source.

Started by the CLI as `pulumi-resource-<package> <engine address>` (a script the tests write into a temporary plugin folder):
python -m tests.engine.emulated_provider PACKAGE VERSION ENGINE_ADDRESS
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pulumi
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.engine import emulated_cloud
from tests.mock_tenant import (
    AZURE_NAME_INPUTS,
    SELF_SIGNED_CERT,
    MockTenant,
    StoredResource,
    TenantError,
    certificate_ready_for_renewal,
    comparable,
    is_unknown,
)

CLOUD_VARIABLE = "EXO_EMULATED_CLOUD"
# Milliseconds each Check, Diff, Create, Update, Read and Invoke waits before answering (a provider's own latency; the benchmark
# sets it, tests leave it unset). Outside the cloud's lock, so concurrent requests overlap as network calls do.
LATENCY_VARIABLE = "EXO_EMULATED_LATENCY_MS"
SECRET_SIG = rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SECRET = rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]
ASSET = rpc._special_asset_sig  # pyright: ignore[reportPrivateUsage]
UNKNOWN = rpc.UNKNOWN

# Properties whose change replaces the resource, as each provider's schema says ("*": every input).
# tls: RequiresReplace on every input attribute but early_renewal_hours, and ready_for_renewal set by a plan modifier (verified in
# hashicorp/terraform-provider-tls internal/provider/resource_locally_signed_cert.go, the same attribute set and modifiers as the
# self-signed certificate; resource_self_signed_cert.go and resource_private_key.go not read here: an assumption).
# azuread: ForceNew attributes of application_certificate, app_role_assignment, directory_role_assignment and service_principal's
# client_id (hashicorp/terraform-provider-azuread; an assumption, not re-read for this table).
# azure-native: a changed path parameter (resource group, names) addresses another resource, and ARM does not move a resource to
# another location: replaced (an assumption about pulumi/pulumi-azure-native's diff, not read here).
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "tls:index/privateKey:PrivateKey": ("*",),
    "tls:index/selfSignedCert:SelfSignedCert": (
        "privateKeyPem",
        "subject",
        "validityPeriodHours",
        "allowedUses",
        "dnsNames",
        "ipAddresses",
        "uris",
        "isCaCertificate",
        "setSubjectKeyId",
        "setAuthorityKeyId",
    ),
    "azuread:index/applicationCertificate:ApplicationCertificate": ("*",),
    "azuread:index/appRoleAssignment:AppRoleAssignment": ("*",),
    "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment": ("*",),
    "azuread:index/servicePrincipal:ServicePrincipal": ("clientId",),
    "time:index/static:Static": ("*",),
}
AZURE_PATH_PARAMETERS = ("resourceGroupName", "automationAccountName", "accountName", "containerName", "vaultName", "scope", "location")
# Outputs the providers' schemas mark secret (pulumi/pulumi-tls provider/cmd/pulumi-resource-tls/schema.json: "secret": true).
SECRET_OUTPUTS: dict[str, tuple[str, ...]] = {
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"),
}
TIME_STATIC = "time:index/static:Static"


def _type_and_name(urn: str) -> tuple[str, str]:
    qualified, name = urn.split("::")[-2:]
    return qualified.split("$")[-1], name


def raw(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


def to_model(value: Any) -> Any:
    """A raw property as the MockTenant sees values under the SDK's mocks: plain, assets as assets, unknowns as Unknown."""
    if value == UNKNOWN:
        return Unknown()
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET:
            return to_model(value.get("value"))
        if value.get(SECRET_SIG) == ASSET:
            if "path" in value:
                # The engine runs a plugin in the project directory: a relative path is the program's.
                return pulumi.FileAsset(os.path.abspath(value["path"]))
            return pulumi.StringAsset(value.get("text", ""))
        return {k: to_model(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_model(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def from_model(value: Any) -> Any:
    if isinstance(value, Unknown) or is_unknown(value):
        return UNKNOWN
    if isinstance(value, pulumi.FileAsset):
        return {SECRET_SIG: ASSET, "path": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        # A runbook's published text (the runbook assembled with the shared module) is uploaded as a StringAsset.
        return {SECRET_SIG: ASSET, "text": str(value.text)}
    if isinstance(value, dict):
        return {k: from_model(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_model(v) for v in value]
    return value


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET


def _secret(value: Any) -> Any:
    return value if _is_secret(value) else {SECRET_SIG: SECRET, "value": value}


def outputs_for(type_token: str, model_outputs: dict[str, Any], raw_inputs: dict[str, Any]) -> dict[str, Any]:
    """The provider's answer: an output that is an input keeps the input's form (secret, asset with its hash); schema secrets."""
    result: dict[str, Any] = {}
    for key, value in model_outputs.items():
        given = raw_inputs.get(key)
        if given is not None and comparable(to_model(given)) == comparable(value):
            result[key] = given
        else:
            result[key] = from_model(value)
            if _is_secret(given):
                result[key] = _secret(result[key])
    for key in SECRET_OUTPUTS.get(type_token, ()):
        if key in result:
            result[key] = _secret(result[key])
    return result


def _normalised(value: Any) -> Any:
    """A raw property as a provider compares it: secrets unwrapped, an asset by its content hash, numbers as numbers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET:
            return _normalised(value.get("value"))
        if value.get(SECRET_SIG) == ASSET:
            if value.get("hash"):
                return {"asset": value["hash"]}
            if "path" in value:
                return {"asset": hashlib.sha256(Path(value["path"]).read_bytes()).hexdigest()}
            return {"asset": hashlib.sha256(str(value.get("text", "")).encode()).hexdigest()}
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _replace_keys(type_token: str, present: set[str]) -> set[str]:
    if type_token.startswith("azure-native:"):
        return {k for k in (*AZURE_PATH_PARAMETERS, AZURE_NAME_INPUTS.get(type_token, "")) if k} & present
    rule = REPLACE_ON_CHANGE.get(type_token, ())
    return present if "*" in rule else set(rule) & present


def _merged(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict) and old.get(SECRET_SIG) is None and new.get(SECRET_SIG) is None:
        return {**old, **{k: _merged(old.get(k), v) for k, v in new.items()}}
    return new


def _answer_latency() -> None:
    latency_ms = float(os.environ.get(LATENCY_VARIABLE) or 0)
    if latency_ms > 0:
        time.sleep(latency_ms / 1000)


def _fail(context: Any, error: TenantError) -> NoReturn:
    """What the cloud refused, as the provider's error for this request (the engine shows it under the resource)."""
    context.abort(grpc.StatusCode.UNKNOWN, str(error))
    raise error


class EmulatedProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, package: str, version: str, cloud: Path) -> None:
        self.package = package
        self.version = version
        self.cloud = cloud

    # -- plugin --------------------------------------------------------------------------------------------------------------
    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method names
        return plugin_pb2.PluginInfo(version=self.version)

    def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=True, acceptOutputs=False)

    def CheckConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Cancel(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()

    def GetSchema(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.GetSchemaResponse(schema=json.dumps({"name": self.package, "version": self.version}))

    # -- resources -----------------------------------------------------------------------------------------------------------
    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        type_token, name = _type_and_name(request.urn)
        news = raw(request.news)
        with emulated_cloud.locked(self.cloud) as tenant:
            tenant.preview = True
            try:
                tenant._check_azure_names(type_token, name, to_model(news))  # pyright: ignore[reportPrivateUsage]
            except TenantError as error:
                return provider_pb2.CheckResponse(inputs=request.news, failures=[provider_pb2.CheckFailure(property="", reason=str(error))])
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        type_token, _name = _type_and_name(request.urn)
        olds = raw(request.olds)
        old_inputs = raw(request.old_inputs) if request.HasField("old_inputs") else olds
        news = raw(request.news)
        ignored = {path.split(".")[0].split("[")[0] for path in request.ignoreChanges}
        changed = sorted(
            key
            for key in set(old_inputs) | set(news)
            if key not in ignored and (_contains_unknown(news.get(key)) or _normalised(old_inputs.get(key)) != _normalised(news.get(key)))
        )
        replaces = set(changed) & _replace_keys(type_token, set(changed))
        clock = emulated_cloud._process_clock()  # pyright: ignore[reportPrivateUsage]
        if certificate_ready_for_renewal(type_token, to_model(olds), clock, to_model(news)):
            replaces.add("readyForRenewal")
            changed.append("readyForRenewal")
        kind = provider_pb2.PropertyDiff
        detailed = {}
        for key in changed:
            if key not in old_inputs and key != "readyForRenewal":
                detailed[key] = kind(kind=kind.ADD_REPLACE if key in replaces else kind.ADD, inputDiff=True)
            elif key not in news and key != "readyForRenewal":
                detailed[key] = kind(kind=kind.DELETE_REPLACE if key in replaces else kind.DELETE, inputDiff=True)
            else:
                detailed[key] = kind(kind=kind.UPDATE_REPLACE if key in replaces else kind.UPDATE, inputDiff=key != "readyForRenewal")
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=sorted(replaces),
            diffs=changed,
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    def _apply(self, tenant: MockTenant, type_token: str, name: str, raw_inputs: dict[str, Any], preview: bool) -> tuple[str, dict]:
        tenant.preview = preview
        tenant.registrations, tenant.calls = [], []
        inputs = to_model(raw_inputs)
        if type_token == TIME_STATIC:
            return self._time_static(tenant, name, inputs, preview)
        resource_id, outputs = tenant.new_resource(MockResourceArgs(typ=type_token, name=name, inputs=inputs, provider="", custom=True))
        return resource_id, outputs

    @staticmethod
    def _time_static(tenant: MockTenant, name: str, inputs: dict[str, Any], preview: bool) -> tuple[str, dict[str, Any]]:
        """pulumiverse/time's Static: `rfc3339` is the moment of creation (unknown in a preview), kept until `triggers` change."""
        if preview:
            return "", {**inputs, "rfc3339": Unknown(), "unix": Unknown(), "year": Unknown()}
        now = tenant.clock().astimezone(dt.UTC).replace(microsecond=0)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        outputs = {**inputs, "rfc3339": stamp, "unix": int(now.timestamp()), "year": now.year, "month": now.month, "day": now.day}
        tenant.state[(TIME_STATIC, f"{name}#{stamp}")] = StoredResource(stamp, inputs, outputs)
        return stamp, outputs

    def Create(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        type_token, name = _type_and_name(request.urn)
        news = raw(request.properties)
        with emulated_cloud.locked(self.cloud) as tenant:
            prior = tenant.state.pop((type_token, name), None)
            if prior is not None:
                # A replacement created before the old one is deleted: the old one stays in the cloud until the engine deletes it.
                tenant.state[(type_token, f"{name}#{prior.id}")] = prior
            try:
                resource_id, outputs = self._apply(tenant, type_token, name, news, request.preview)
            except TenantError as error:
                _fail(context, error)
        return provider_pb2.CreateResponse(id=resource_id, properties=to_struct(outputs_for(type_token, outputs, news)))

    def Update(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        type_token, name = _type_and_name(request.urn)
        news = raw(request.news)
        if request.preview and type_token.startswith("azure-native:"):
            # azure-native previews an update as the inputs, outputs that are no input unknown, `name` and `location` kept: the
            # shared model's plan (MockTenant._planned).
            prior = StoredResource(request.id, {}, to_model(raw(request.olds)))
            planned = MockTenant._planned(type_token, to_model(news), prior)  # pyright: ignore[reportPrivateUsage]
            return provider_pb2.UpdateResponse(properties=to_struct(outputs_for(type_token, planned, news)))
        if request.preview:
            # A bridged (terraform) provider's plan keeps computed attributes it does not change: the new inputs over the old state.
            return provider_pb2.UpdateResponse(properties=to_struct(_merged(raw(request.olds), news)))
        with emulated_cloud.locked(self.cloud) as tenant:
            try:
                _id, outputs = self._apply(tenant, type_token, name, news, False)
            except TenantError as error:
                _fail(context, error)
        return provider_pb2.UpdateResponse(properties=to_struct(outputs_for(type_token, outputs, news)))

    def Delete(self, request: Any, context: Any) -> Any:  # noqa: N802
        type_token, _name = _type_and_name(request.urn)
        with emulated_cloud.locked(self.cloud) as tenant:
            key = next((k for k, v in tenant.state.items() if k[0] == type_token and v.id == request.id), None)
            if key is not None:
                tenant._delete_in_azure(type_token, tenant.state.pop(key))  # pyright: ignore[reportPrivateUsage]
                # What the engine deleted, for tests that check a destroy never touched something.
                vars(tenant).setdefault("engine_deletions", []).append((type_token, request.id))
        return empty_pb2.Empty()

    def Read(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        type_token, _name = _type_and_name(request.urn)
        olds, old_inputs = raw(request.properties), raw(request.inputs)
        with emulated_cloud.locked(self.cloud) as tenant:
            tenant.refresh()
            stored = next((v for k, v in tenant.state.items() if k[0] == type_token and v.id == request.id), None)
            if stored is None:
                # Gone from the cloud (deleted in the portal, or with its parent): the engine drops it from the state.
                return provider_pb2.ReadResponse(id="")
            outputs = outputs_for(type_token, stored.outputs, olds)
            inputs = outputs_for(type_token, {k: stored.inputs[k] for k in stored.inputs if k in old_inputs}, old_inputs)
            if type_token == SELF_SIGNED_CERT:
                outputs["readyForRenewal"] = certificate_ready_for_renewal(type_token, stored.outputs, tenant.clock())
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(outputs), inputs=to_struct(inputs))

    def Invoke(self, request: Any, context: Any) -> Any:  # noqa: N802
        _answer_latency()
        args = to_model(raw(request.args))
        with emulated_cloud.locked(self.cloud) as tenant:
            try:
                result, _ = tenant.call(pulumi.runtime.MockCallArgs(token=request.tok, args=args, provider=""))
            except TenantError as error:
                _fail(context, error)
        response = provider_pb2.InvokeResponse()
        getattr(response, "return").CopyFrom(to_struct(from_model(result)))  # `return` is a Python keyword
        return response


def main() -> None:
    package, version = sys.argv[1], sys.argv[2]
    cloud = Path(os.environ[CLOUD_VARIABLE])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(EmulatedProvider(package, version, cloud), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The engine reads the port from the plugin's first line of output.
    print(port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
