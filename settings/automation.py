"""Settings of the optional Azure Automation account (`exo-automation:automation`): parsed and validated before any resource exists.

Runbook files are read here too: a runbook that does not parse, does not take `-Organization`, is given a parameter it does not
declare, or declares Entra roles (its `# exo-automation:roles` line) that the account's identity does not hold is refused at preview,
with the config key named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from exo import azure_names, clock, facts
from exo.exchange_rbac_state import OWNER_PATTERN
from exo.powershell_script import ROLES_HEADER_PREFIX, RoleDeclaration, read_role_declaration, read_script
from exo.runbook_assembly import MODULE_PATH, assemble
from exo.schedule_time import WEEK_DAYS, Schedule
from exo.specs import ENVIRONMENT_PARAMETER, PROGRAM_TAGS, AutomationSpec, RunbookSpec
from settings.exchange_rbac import CONFIG_KEY as EXCHANGE_RBAC_KEY
from settings.exchange_rbac import parse_exchange_rbac
from settings.monitoring import CONFIG_KEY as MONITORING_KEY
from settings.monitoring import parse_monitoring
from settings.values import (
    ConfigError,
    bounded_int,
    expect,
    optional,
    parse_azure_name,
    parse_location,
    parse_resource_group_name,
    parse_roles,
    parse_tags,
    reject_duplicates,
    reject_unknown_keys,
    with_program_tags,
)

RUNBOOK_FOLDER = "runbooks"
# Set by the program, never by config: the tenant's domain (and the national cloud, exo/specs.ENVIRONMENT_PARAMETER, when taken).
ORGANIZATION_PARAMETER = "Organization"
FREQUENCIES = ("Hour", "Day", "Week", "Month")
INTERVAL_RANGE = (1, 100)
# One logical run split into N jobs: the runbook takes these two parameters, the program sets them per job schedule.
PARTITION_COUNT_PARAMETER = "PartitionCount"
PARTITION_INDEX_PARAMETER = "PartitionIndex"
# The shipped runbooks declare [ValidateRange(1, 64)] on PartitionCount (tests/runbooks check the two agree).
PARTITIONS_RANGE = (1, 64)

_AUTOMATION_KEYS = (
    "enabled",
    "location",
    "resourceGroupName",
    "createResourceGroup",
    "accountName",
    "publicNetworkAccess",
    "tags",
    "runtime",
    "exchangeModuleVersion",
    "roles",
    "storageAccountName",
    "hybridWorkerGroup",
    "runbooks",
    EXCHANGE_RBAC_KEY,
    "exchangeRbacSync",
    MONITORING_KEY,
)
_RUNBOOK_KEYS = ("name", "file", "description", "schedule", "parameters", "hybridWorker", "hybridIdentity", "partitions")
# Set by the program for a runbook on a hybrid worker, from hybridIdentity: the app registration's certificate (thumbprints, current
# first) and client id. A hybrid worker outside Azure has no managed identity, and one on an Azure VM has the VM's, which this
# program does not grant; so a hybrid runbook signs in as a certificate identity the program manages and checks.
CERTIFICATE_PARAMETER = "CertificateThumbprint"
APP_ID_PARAMETER = "AppId"
# A hybrid worker has no fair-share limit: the program turns the runbook's soft deadline off there unless config sets it.
SOFT_DEADLINE_PARAMETER = "SoftDeadlineMinutes"
_SCHEDULE_KEYS = ("frequency", "interval", "timeZone", "time", "weekDays", "monthDays")

# Where each configured name goes as a path parameter; facts.AZURE_INPUT_RULES holds the rules with their sources.
_ACCOUNT_USES = azure_names.ACCOUNT_USES
_STORAGE_ACCOUNT_USES = (("azure-native:storage:StorageAccount", "accountName"),)
_RUNBOOK_USES = (("azure-native:automation:Runbook", "runbookName"),)
# The spec and the naming rules give hybrid worker group names no rule; this keeps them to what the portal offers.
_WORKER_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def missing_roles(declaration: RoleDeclaration, held: set[str]) -> tuple[str, ...]:
    """() when the held roles satisfy an alternative; else the fewest roles that would (Global Administrator can do everything)."""
    if facts.GLOBAL_ADMINISTRATOR in held:
        return ()
    gaps = [tuple(role for role in group if role not in held) for group in declaration.any_of]
    return min(gaps, key=len)


def default_roles_note(mapping: Any) -> str:
    """For an error about the managed identity's roles: when `roles` is unset, what its default is now and was (issue 20)."""
    if isinstance(mapping, dict) and mapping.get("roles") is not None:
        return ""
    return (
        f" (roles is not set: its default is now [{', '.join(facts.DEFAULT_MANAGED_IDENTITY_ROLES)}], it was "
        f"[{facts.PREVIOUS_DEFAULT_ROLE}]; set roles to what the runbooks need)"
    )


def _name(key: str, value: Any, pattern: re.Pattern[str], rule: str) -> str:
    text = expect(key, value, str, "a string")
    if not pattern.fullmatch(text):
        raise ConfigError(key, f"{text!r} is not a valid name: {rule}")
    return text


def _parse_version(key: str, value: Any, runtime: facts.AutomationRuntime, runtime_key: str) -> str:
    text = expect(key, value, str, 'a version such as "3.9.2"')
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise ConfigError(key, f"{text!r} is not a version such as 3.9.2")
    version = (int(match[1]), int(match[2]), int(match[3]))
    if version < facts.MANAGED_IDENTITY_MINIMUM_MODULE:
        raise ConfigError(key, f"{text} has no Connect-ExchangeOnline -ManagedIdentity (it came in 3.0.0); use 3.0.0 or later")
    if not facts.module_runs_on(version, runtime):
        needed = ".".join(map(str, facts.powershell7_needed(version)))
        raise ConfigError(
            key,
            f"ExchangeOnlineManagement {text} needs PowerShell {needed} or later, but {runtime_key} is {runtime.name}; "
            f"versions that run there: {facts.module_versions_for(runtime)} (default {runtime.default_module_version})",
        )
    return text.strip()


def replacement_runtime(runtime: facts.AutomationRuntime, today: dt.date) -> facts.AutomationRuntime | None:
    """The runtime to move to from one that ends support soon or has: the default, else any runtime supported past the warning
    window; None when there is none."""
    horizon = today + dt.timedelta(days=facts.RUNTIME_WARNING_DAYS)
    candidates = [facts.AUTOMATION_RUNTIMES[facts.DEFAULT_AUTOMATION_RUNTIME], *facts.AUTOMATION_RUNTIMES.values()]
    return next((r for r in candidates if r is not runtime and facts.supported_on(r, horizon)), None)


def runtime_warnings(runtime_key: str, runtime: facts.AutomationRuntime, configured: bool, today: dt.date) -> tuple[str, ...]:
    """What every preview says about the chosen runtime on `today` (the program's one clock reading): one line from
    RUNTIME_WARNING_DAYS before its last day of support and after it, naming the key and the value to change it to; and, for a
    stack that never set the key, one line for a default that moved (naming the key that keeps the old one)."""
    warnings: list[str] = []
    end = runtime.support_ends
    if end is not None and today >= end - dt.timedelta(days=facts.RUNTIME_WARNING_DAYS):
        successor = replacement_runtime(runtime, today)
        change = f"change {runtime_key} to {successor.name}" if successor is not None else "no runtime the program knows outlasts it"
        if today > end:
            warnings.append(
                f"{runtime_key}: {runtime.name} has been out of support since {end + dt.timedelta(days=1)} (its last day was {end}); "
                f"Azure Automation runs it without security updates and may limit it to one instance: {change} (docs/runtimes.md)"
            )
        else:
            days = (end - today).days
            warnings.append(
                f"{runtime_key}: {runtime.name} is supported until {end} ({days} day{'s' if days != 1 else ''} left): {change} "
                f"before then (docs/runtimes.md)"
            )
    if not configured:
        for moved in facts.DEFAULT_RUNTIME_CHANGES:
            if moved.current == runtime.name and moved.changed_on <= today < moved.changed_on + dt.timedelta(
                days=facts.DEFAULT_CHANGE_NOTICE_DAYS
            ):
                warnings.append(
                    f"{runtime_key} is not set: the default runtime is {moved.current} since {moved.changed_on} (it was "
                    f"{moved.previous}), so a stack deployed before then replaces its {moved.previous} runtime environment in this "
                    f"update; to keep it instead, set {runtime_key} to {moved.previous} (docs/runtimes.md, Upgrading)"
                )
    return tuple(warnings)


def _parse_schedule(key: str, value: Any) -> Schedule:
    mapping = expect(key, value, dict, "an object with frequency, time and timeZone")
    reject_unknown_keys(key, mapping, _SCHEDULE_KEYS)
    for required in ("frequency", "time", "timeZone"):
        if required not in mapping:
            raise ConfigError(f"{key}.{required}", "is required")
    frequency_text = expect(f"{key}.frequency", mapping["frequency"], str, "a string")
    frequency = next((f for f in FREQUENCIES if f.lower() == frequency_text.lower()), None)
    if frequency is None:
        raise ConfigError(f"{key}.frequency", f"{frequency_text!r} is not one of {', '.join(FREQUENCIES)}")
    interval = optional(mapping, "interval", 1, lambda v: bounded_int(f"{key}.interval", v, *INTERVAL_RANGE))
    time_text = expect(f"{key}.time", mapping["time"], str, 'a time of day such as "06:30"')
    time_match = _TIME_OF_DAY.fullmatch(time_text)
    if not time_match:
        raise ConfigError(f"{key}.time", f"{time_text!r} is not a 24-hour time such as 06:30")
    zone = expect(f"{key}.timeZone", mapping["timeZone"], str, "an IANA time zone name")
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}.timeZone", f"{zone!r} is not an IANA time zone such as Europe/Berlin or UTC") from None
    week_days: tuple[str, ...] = ()
    month_days: tuple[int, ...] = ()
    if "weekDays" in mapping:
        if frequency != "Week":
            raise ConfigError(f"{key}.weekDays", "applies to frequency Week only")
        names = expect(f"{key}.weekDays", mapping["weekDays"], list, "a list of day names")
        for index, day in enumerate(names):
            canonical = next((d for d in WEEK_DAYS if isinstance(day, str) and d.lower() == day.lower()), None)
            if canonical is None:
                raise ConfigError(f"{key}.weekDays[{index}]", f"{day!r} is not one of {', '.join(WEEK_DAYS)}")
            week_days += (canonical,)
    if "monthDays" in mapping:
        if frequency != "Month":
            raise ConfigError(f"{key}.monthDays", "applies to frequency Month only")
        days = expect(f"{key}.monthDays", mapping["monthDays"], list, "a list of days of the month")
        month_days = tuple(bounded_int(f"{key}.monthDays[{i}]", d, 1, 31) for i, d in enumerate(days))
    if frequency == "Week" and not week_days:
        raise ConfigError(f"{key}.weekDays", "is required for frequency Week (for example [Monday])")
    if frequency == "Month" and not month_days:
        raise ConfigError(f"{key}.monthDays", "is required for frequency Month (for example [1])")
    if len(set(week_days)) != len(week_days) or len(set(month_days)) != len(month_days):
        raise ConfigError(key, "lists a day twice")
    return Schedule(frequency, interval, zone, (int(time_match[1]), int(time_match[2])), week_days, month_days)


def _job_parameter(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(key, f"must be a string, number or true/false (Automation passes job parameters as strings), got {value!r}")


def _parse_runbook(
    key: str, value: Any, project_dir: Path, hybrid_worker_group: str | None, identity_names: tuple[str, ...] = ()
) -> RunbookSpec:
    mapping = expect(key, value, dict, "an object with name and file")
    reject_unknown_keys(key, mapping, _RUNBOOK_KEYS)
    for required in ("name", "file"):
        if required not in mapping:
            raise ConfigError(f"{key}.{required}", "is required")
    name = parse_azure_name(
        f"{key}.name", mapping["name"], _RUNBOOK_USES, "runbook name", "a letter, then up to 62 letters, digits, '-' or '_'"
    )

    file_key = f"{key}.file"
    relative = PurePosixPath(expect(file_key, mapping["file"], str, f"a path such as {RUNBOOK_FOLDER}/Get-Report.ps1"))
    if relative.is_absolute() or ".." in relative.parts or relative.parts[:1] != (RUNBOOK_FOLDER,) or relative.suffix != ".ps1":
        raise ConfigError(file_key, f"{str(relative)!r} must be a .ps1 file inside the repo's {RUNBOOK_FOLDER}/ folder")
    path = project_dir.joinpath(*relative.parts)
    if not path.is_file():
        raise ConfigError(file_key, f"{relative} does not exist in {project_dir}")
    content = path.read_bytes()
    script = read_script(content)
    if script.problems:
        raise ConfigError(file_key, f"{relative} does not parse as PowerShell: {script.problems[0]}")
    # What Automation gets: the runbook with the shared module after its param() block (exo/runbook_assembly.py).
    module_path = project_dir / MODULE_PATH
    if not module_path.is_file():
        raise ConfigError(file_key, f"{relative} is published together with {MODULE_PATH}, which does not exist in {project_dir}")
    try:
        assembled = assemble(content, module_path.read_bytes())
    except ValueError as error:
        raise ConfigError(file_key, f"{relative} {error}") from None
    published = read_script(assembled.text.encode("utf-8"))
    if published.problems:
        raise ConfigError(
            file_key,
            f"{relative} together with {MODULE_PATH} (lines {assembled.module_lines[0]}-{assembled.module_lines[1]} of the published "
            f"text) does not parse as PowerShell: {published.problems[0]}",
        )
    declared = {parameter.name.lower(): parameter for parameter in script.parameters}
    organization = declared.get(ORGANIZATION_PARAMETER.lower())
    if organization is None or not organization.mandatory:
        raise ConfigError(
            file_key, f"{relative} must declare a mandatory -{ORGANIZATION_PARAMETER} parameter: the program passes the tenant's domain"
        )

    parameters_key = f"{key}.parameters"
    raw_parameters = expect(parameters_key, mapping.get("parameters") or {}, dict, "an object of parameter name -> value")
    parameters: list[tuple[str, str]] = []
    for parameter_name, parameter_value in raw_parameters.items():
        item_key = f"{parameters_key}.{parameter_name}"
        found = declared.get(str(parameter_name).lower())
        if found is None:
            raise ConfigError(
                item_key,
                f"{relative} declares no parameter {parameter_name!r}; it takes {', '.join(p.name for p in script.parameters)}",
            )
        if found.name.lower() == ORGANIZATION_PARAMETER.lower():
            raise ConfigError(item_key, "is set by the program from the tenant's initial domain (exo-automation:organization)")
        if found.name.lower() == ENVIRONMENT_PARAMETER.lower():
            raise ConfigError(item_key, "is set by the program from the azuread provider's cloud (azuread:environment)")
        if found.name.lower() in (PARTITION_COUNT_PARAMETER.lower(), PARTITION_INDEX_PARAMETER.lower()):
            raise ConfigError(item_key, f"is set by the program for each job from {key}.partitions")
        if found.name.lower() in (CERTIFICATE_PARAMETER.lower(), APP_ID_PARAMETER.lower()):
            raise ConfigError(item_key, f"is set by the program from {key}.hybridIdentity (the identity's certificate and client id)")
        parameters.append((found.name, _job_parameter(item_key, parameter_value)))
    given = {p.lower() for p, _ in parameters} | {ORGANIZATION_PARAMETER.lower()}
    missing = [p.name for p in script.parameters if p.mandatory and p.name.lower() not in given]
    if missing:
        raise ConfigError(parameters_key, f"{relative} needs {', '.join(missing)}: set them here or every job fails")
    try:
        roles = read_role_declaration(script.text)
    except ValueError as error:
        raise ConfigError(file_key, f"{relative} {error}") from None
    if roles is None:
        raise ConfigError(
            file_key,
            f"{relative} declares no Entra roles: add a line "
            f'\'{ROLES_HEADER_PREFIX} {{"anyOf": [["Global Reader"]], "reason": "..."}}\' '
            "naming the least-privileged roles that can run it (docs/runbooks.md)",
        )
    for group in roles.any_of:
        for role in group:
            if role not in facts.ROLES:
                raise ConfigError(
                    file_key,
                    f"{relative} declares role {role!r}, which is not a role Exchange supports for app-only access: "
                    f"{', '.join(facts.ROLES)}",
                )

    description = optional(mapping, "description", f"{name} (exo-automation)", lambda v: expect(f"{key}.description", v, str, "a string"))
    schedule = optional(mapping, "schedule", None, lambda v: _parse_schedule(f"{key}.schedule", v))
    hybrid_worker = optional(mapping, "hybridWorker", False, lambda v: expect(f"{key}.hybridWorker", v, bool, "true or false"))
    if hybrid_worker and hybrid_worker_group is None:
        raise ConfigError(f"{key}.hybridWorker", "needs exo-automation:automation.hybridWorkerGroup to name the worker group")
    if hybrid_worker and schedule is None:
        raise ConfigError(f"{key}.hybridWorker", "applies to scheduled jobs: add a schedule")
    hybrid_identity = optional(mapping, "hybridIdentity", None, lambda v: expect(f"{key}.hybridIdentity", v, str, "an identity name"))
    if hybrid_identity is not None and not hybrid_worker:
        raise ConfigError(
            f"{key}.hybridIdentity", "applies to a runbook with hybridWorker: true (in Azure it runs as the managed identity)"
        )
    if hybrid_worker:
        if hybrid_identity is None:
            raise ConfigError(
                f"{key}.hybridIdentity",
                "is required with hybridWorker: true: a hybrid worker outside Azure has no managed identity (and one on an Azure VM "
                "has the VM's, which this program does not grant); name the identity (exo-automation:identities) whose certificate "
                "the worker holds (docs/runbooks.md, Hybrid workers)",
            )
        if hybrid_identity not in identity_names:
            raise ConfigError(
                f"{key}.hybridIdentity",
                f"{hybrid_identity!r} is not an identity of exo-automation:identities ({', '.join(identity_names)})",
            )
        absent = [p for p in (CERTIFICATE_PARAMETER, APP_ID_PARAMETER) if p.lower() not in declared]
        if absent:
            raise ConfigError(
                f"{key}.hybridWorker",
                f"{relative} declares no {' or '.join('-' + p for p in absent)} parameter, so it cannot sign in with a certificate on "
                "a hybrid worker",
            )
        if SOFT_DEADLINE_PARAMETER.lower() in declared and not any(n.lower() == SOFT_DEADLINE_PARAMETER.lower() for n, _ in parameters):
            parameters.append((declared[SOFT_DEADLINE_PARAMETER.lower()].name, "0"))
    partitions_key = f"{key}.partitions"
    partitions = optional(mapping, "partitions", 1, lambda v: bounded_int(partitions_key, v, *PARTITIONS_RANGE))
    if partitions > 1:
        if schedule is None:
            raise ConfigError(partitions_key, "applies to scheduled jobs: add a schedule")
        if any(name.lower() == "identity" for name, _ in parameters):
            raise ConfigError(
                partitions_key, f"cannot be combined with {parameters_key}.Identity: a run limited to named mailboxes is not partitioned"
            )
        absent = [p for p in (PARTITION_COUNT_PARAMETER, PARTITION_INDEX_PARAMETER) if p.lower() not in declared]
        if absent:
            raise ConfigError(
                partitions_key,
                f"{relative} declares no {' or '.join('-' + p for p in absent)} parameter, so it cannot be split into {partitions} jobs",
            )
    return RunbookSpec(
        name=name,
        path=path,
        source=relative.as_posix(),
        content=assembled.text,
        sha256=hashlib.sha256(assembled.text.encode("utf-8")).hexdigest().upper(),
        description=description,
        schedule=schedule,
        parameters=tuple(sorted(parameters)),
        hybrid_worker=hybrid_worker,
        hybrid_identity=hybrid_identity,
        takes_environment_name=ENVIRONMENT_PARAMETER.lower() in declared,
        roles=roles,
        partitions=partitions,
    )


def parse_automation(
    key: str,
    value: Any,
    *,
    stack: str,
    project_dir: Path,
    allow_global_administrator: bool,
    identity_roles: Mapping[str, tuple[str, ...]] | None = None,
    now: dt.datetime | None = None,
) -> AutomationSpec | None:
    """`exo-automation:automation` (already JSON-decoded) into settings; None when absent or `enabled: false`. `now` is the
    program's one clock reading (exo/clock.py): the day runtime support is judged on.

    `identity_roles`: the Entra roles of each app identity by name, for runbooks on hybrid workers (hybridIdentity)."""
    identity_roles = dict(identity_roles or {})
    if value is None:
        return None
    mapping = expect(key, value, dict, "an object (see Pulumi.yaml)")
    reject_unknown_keys(key, mapping, _AUTOMATION_KEYS)
    enabled = optional(mapping, "enabled", True, lambda v: expect(f"{key}.enabled", v, bool, "true or false"))
    if not enabled:
        return None
    if "location" not in mapping:
        raise ConfigError(f"{key}.location", "is required: the Azure region of the Automation account, for example westeurope")
    location = parse_location(f"{key}.location", mapping["location"])

    runtime_key = f"{key}.runtime"
    runtime_name = optional(mapping, "runtime", facts.DEFAULT_AUTOMATION_RUNTIME, lambda v: expect(runtime_key, v, str, "a string"))
    runtime = next((r for n, r in facts.AUTOMATION_RUNTIMES.items() if n.lower() == runtime_name.lower()), None)
    if runtime is None:
        raise ConfigError(runtime_key, f"{runtime_name!r} is not one of {', '.join(facts.AUTOMATION_RUNTIMES)}")
    today = (now or clock.now()).astimezone(dt.UTC).date()
    warnings = runtime_warnings(runtime_key, runtime, mapping.get("runtime") is not None, today)
    module_version = optional(
        mapping,
        "exchangeModuleVersion",
        runtime.default_module_version,
        lambda v: _parse_version(f"{key}.exchangeModuleVersion", v, runtime, runtime_key),
    )

    worker_group = optional(
        mapping,
        "hybridWorkerGroup",
        None,
        lambda v: _name(f"{key}.hybridWorkerGroup", v, _WORKER_GROUP_NAME, "1-128 letters, digits, '.', '-' or '_'"),
    )
    if worker_group is not None and not runtime.hybrid_workers:
        raise ConfigError(
            f"{key}.hybridWorkerGroup",
            f"runbooks on the {runtime.name} runtime environment cannot run on hybrid workers (Azure Automation limitation); "
            f"use runtime {', '.join(n for n, r in facts.AUTOMATION_RUNTIMES.items() if r.hybrid_workers)} for hybrid jobs",
        )

    runbooks_key = f"{key}.runbooks"
    entries = expect(runbooks_key, mapping.get("runbooks") or [], list, "a list of runbook objects")
    runbooks = tuple(
        _parse_runbook(f"{runbooks_key}[{i}]", entry, project_dir, worker_group, tuple(identity_roles)) for i, entry in enumerate(entries)
    )
    reject_duplicates(runbooks_key, "name", [runbook.name for runbook in runbooks])

    roles_key = f"{key}.roles"
    roles = optional(
        mapping,
        "roles",
        tuple(facts.ROLES[name] for name in facts.DEFAULT_MANAGED_IDENTITY_ROLES),
        lambda v: parse_roles(roles_key, v, allow_global_administrator),
    )
    # A runbook runs as the account's managed identity, or on a hybrid worker as its hybridIdentity's certificate: refuse one that
    # identity cannot run, before anything is created.
    managed_identity_roles = {role.display_name for role in roles}
    for index, runbook in enumerate(runbooks):
        if runbook.hybrid_identity is not None:
            held = set(identity_roles[runbook.hybrid_identity])
            gap = missing_roles(runbook.roles, held)
            if gap:
                alternatives = "; or ".join(" + ".join(group) for group in runbook.roles.any_of)
                raise ConfigError(
                    f"{runbooks_key}[{index}].hybridIdentity",
                    f"runbook {runbook.name!r} ({runbook.source}) runs on the hybrid worker as identity {runbook.hybrid_identity!r}, which "
                    f"holds {', '.join(sorted(held)) or 'no Entra role'}; it needs {alternatives}: missing {' + '.join(gap)}. "
                    f"Why: {runbook.roles.reason}",
                )
            continue
        held = managed_identity_roles
        gap = missing_roles(runbook.roles, held)
        if gap:
            alternatives = "; or ".join(" + ".join(group) for group in runbook.roles.any_of)
            raise ConfigError(
                roles_key,
                f"runbook {runbook.name!r} ({runbooks_key}[{index}], {runbook.source}) needs {alternatives}; the account's identity holds "
                f"{', '.join(sorted(held))}: missing {' + '.join(gap)}. Why: {runbook.roles.reason}{default_roles_note(mapping)}",
            )

    return AutomationSpec(
        location=location,
        resource_group_name=optional(
            mapping,
            "resourceGroupName",
            azure_names.default_resource_group_name(stack),
            lambda v: parse_resource_group_name(f"{key}.resourceGroupName", v, azure_names.RESOURCE_GROUP_USES),
        ),
        create_resource_group=optional(
            mapping, "createResourceGroup", True, lambda v: expect(f"{key}.createResourceGroup", v, bool, "true or false")
        ),
        account_name=optional(
            mapping,
            "accountName",
            azure_names.default_account_name(stack),
            lambda v: parse_azure_name(
                f"{key}.accountName",
                v,
                _ACCOUNT_USES,
                "Automation account name",
                "6-50 letters, digits or hyphens, a letter first, a letter or digit last",
            ),
        ),
        public_network_access=optional(
            mapping, "publicNetworkAccess", True, lambda v: expect(f"{key}.publicNetworkAccess", v, bool, "true or false")
        ),
        # ARM resources take up to 50 tags; the program adds managed-by.
        tags=tuple(
            with_program_tags(
                dict(optional(mapping, "tags", (), lambda v: tuple(sorted(parse_tags(f"{key}.tags", v, tuple(PROGRAM_TAGS), 50).items())))),
                PROGRAM_TAGS,
            ).items()
        ),
        runtime=runtime,
        exchange_module_version=module_version,
        runtime_warnings=warnings,
        roles=roles,
        storage_account_name=optional(
            mapping,
            "storageAccountName",
            None,
            lambda v: parse_azure_name(
                f"{key}.storageAccountName",
                v,
                _STORAGE_ACCOUNT_USES,
                "storage account name",
                "3-24 lowercase letters and digits, globally unique",
            ),
        ),
        hybrid_worker_group=worker_group,
        runbooks=runbooks,
        exchange_rbac=optional(mapping, EXCHANGE_RBAC_KEY, None, lambda v: parse_exchange_rbac(f"{key}.{EXCHANGE_RBAC_KEY}", v)),
        monitoring=optional(mapping, MONITORING_KEY, None, lambda v: parse_monitoring(f"{key}.{MONITORING_KEY}", v, stack=stack)),
    )


# -- The Exchange RBAC reconciler (issue 14) ----------------------------------------------------------------------------------------
RECONCILER_RUNBOOK_NAME = "Sync-ExchangeRbac"
RECONCILER_RUNBOOK_FILE = f"{RUNBOOK_FOLDER}/Sync-ExchangeRbac.ps1"
_RBAC_SYNC_KEYS = ("schedule", "dryRun", "formerOwners")
# Hourly: a run whose document is the one it last applied (within FullRunAfterHours, default 24) ends before it connects to Exchange,
# so a changed document is applied within the hour after `up` and drift is still checked daily (components/exchange_rbac.py).
DEFAULT_RECONCILER_SCHEDULE = {"frequency": "Hour", "interval": 1, "time": "00:15", "timeZone": "UTC"}


def reconciler_former_owners(key: str, raw_sync: Any) -> tuple[str, ...]:
    """`exchangeRbacSync.formerOwners`: owner prefixes (`exoa-<6 hex>-`) the stack's Exchange objects carried under an earlier stack or
    Automation account name; the reconciler hands their service principals over and removes their groups, scopes and roles."""
    if not isinstance(raw_sync, dict) or raw_sync.get("formerOwners") is None:
        return ()
    values = expect(f"{key}.formerOwners", raw_sync["formerOwners"], list, "a list of owner prefixes such as exoa-1a2b3c-")
    prefixes = []
    for index, value in enumerate(values):
        text = value.lower() if isinstance(value, str) else value
        if not isinstance(text, str) or not OWNER_PATTERN.fullmatch(text):
            raise ConfigError(
                f"{key}.formerOwners[{index}]",
                f"{value!r} is not an owner prefix this program writes (exoa- and 6 hex digits and -, as in the old state's owner)",
            )
        prefixes.append(text)
    return tuple(sorted(set(prefixes)))


def reconciler_runbook(key: str, raw_sync: Any, automation: AutomationSpec, project_dir: Path) -> RunbookSpec:
    """The reconciler runbook with its schedule and dry-run switch from `exchangeRbacSync` (key: that object's config key)."""
    raw = {} if raw_sync is None else raw_sync
    mapping = expect(key, raw, dict, "an object with schedule and dryRun")
    reject_unknown_keys(key, mapping, _RBAC_SYNC_KEYS)
    dry_run = optional(mapping, "dryRun", False, lambda v: expect(f"{key}.dryRun", v, bool, "true or false"))
    if any(runbook.name.lower() == RECONCILER_RUNBOOK_NAME.lower() for runbook in automation.runbooks):
        raise ConfigError(
            key, f"{RECONCILER_RUNBOOK_NAME} is published and scheduled by the program when exchangeRbac is used; remove it from runbooks"
        )
    entry = {
        "name": RECONCILER_RUNBOOK_NAME,
        "file": RECONCILER_RUNBOOK_FILE,
        "description": "Makes Exchange Online RBAC match the desired state exo-automation publishes (exo-automation)",
        "schedule": mapping.get("schedule") or DEFAULT_RECONCILER_SCHEDULE,
        "parameters": {"DryRun": dry_run},
    }
    # Errors in the schedule name the keys the user wrote (`exchangeRbacSync.schedule.*`).
    return _parse_runbook(key, entry, project_dir, None)
