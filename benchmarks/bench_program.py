"""Benchmark: the program evaluated the way the Pulumi language host runs it, under Pulumi's mocks, in fresh processes.

The language host (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec) imports pulumi, sets the config, configures the runtime,
then runs `pulumi.runtime.run_in_stack(lambda: runpy.run_path(PROGRAM, run_name="__main__"))` on a new event loop. A child process
here does the same with the mock tenant (tests/mock_tenant.py) as the engine and the resource monitor, and times itself from before
`import pulumi` (tests/harness.py runs the program the same way, but inside a test process that has imported everything already).

Each figure is the median of --repeat runs, the configurations alternating run by run. Wall and CPU time are measured inside the child
from before `import pulumi` to the end of the evaluation, less the engine's side: building the config and the mock tenant, and the
thread CPU time of the mock's answers to the SDK's RPCs (a real engine answers from its own process; `engine` reports it, and the
`process_*` figures keep it in). The baseline child imports pulumi and the modules of the SDK classes the program registered, nothing
else. Children cache compiled
modules in a temporary directory, as an installed virtualenv has them (--compile-every-time: as this workplace's
PYTHONDONTWRITEBYTECODE would have every process compile every module). Registrations and invokes are whatever the program registers
and calls, so the figures follow any change of the program. Not a test: the numbers go in docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_program.py [--repeat 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DURATIONS = Path(__file__).resolve().parent / "resource_durations.json"
PROJECT = "exo-automation"
# The program's own modules: a registered class from one of these counts as the nearest SDK class it derives from.
OWN_PREFIXES = ("components", "exo", "settings", "__main__", "tests", "bench_program")


# -- configurations ------------------------------------------------------------------------------------------------------------
def dev_stack_config() -> dict[str, Any]:
    """The example stack (Pulumi.dev.yaml): one identity and an Automation account with the two shipped runbooks."""
    import yaml

    return yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]


def with_identities(config: dict[str, Any], count: int) -> dict[str, Any]:
    config = copy.deepcopy(config)
    template = config[f"{PROJECT}:identities"][0]
    config[f"{PROJECT}:identities"] = [{**template, "name": f"exo{index:02d}"} for index in range(count)]
    return config


def with_runbooks(config: dict[str, Any], count: int, own_schedules: bool) -> dict[str, Any]:
    """`count` scheduled runbooks: the two shipped ones in turn, each with its own name. With `own_schedules` each also gets its own
    daily time (no two alike up to 120: the worst case, one Schedule per runbook); without, they keep the dev stack's two schedules
    (runbooks that share a definition share one Schedule)."""
    config = copy.deepcopy(config)
    automation = config[f"{PROJECT}:automation"]
    shipped = automation["runbooks"]
    runbooks = []
    for index in range(count):
        runbook = copy.deepcopy(shipped[index % len(shipped)])
        runbook["name"] = f"{runbook['name']}{index:03d}"
        if own_schedules:
            runbook["schedule"] = {"frequency": "Day", "time": f"{index % 24:02d}:{index % 60:02d}", "timeZone": "Europe/Berlin"}
        runbooks.append(runbook)
    automation["runbooks"] = runbooks
    return config


def configuration(identities: int, runbooks: int, own_schedules: bool = True) -> dict[str, Any]:
    """The dev stack with `identities` app identities and `runbooks` runbooks (0 keeps the example stack's two)."""
    config = dev_stack_config()
    if identities != 1:
        config = with_identities(config, identities)
    if runbooks:
        config = with_runbooks(config, runbooks, own_schedules)
    return config


def config_for_pulumi(values: dict[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to the language host: namespaced keys, strings, structured values as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


# -- children ------------------------------------------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sdk_class(cls: type) -> str:
    """`module:qualname` of the class itself, or of the nearest base class the program does not define."""
    for base in cls.__mro__:
        if base.__module__.split(".")[0] not in OWN_PREFIXES:
            return f"{base.__module__}:{base.__qualname__}"
    raise AssertionError(f"{cls} derives from no SDK class")


# What the engine answers over gRPC: in a real deployment the Go engine and its providers do this in other processes.
ENGINE_METHODS = ("RegisterResource", "RegisterResourceOutputs", "Invoke", "Call", "ReadResource", "SupportsFeature", "RegisterPackage")


def time_engine_calls(monitor: Any) -> list[float]:
    """Wrap the mock monitor's RPC methods on this instance; the list gets the thread CPU seconds of each call.

    The SDK makes these calls from its executor's threads; the mock answers in Python, in this process, where the engine's reply
    would cost the language host only the (de)serialisation of a protobuf message in C. Thread CPU time, so a call that waits for
    the GIL is not charged for the wait.
    """
    spent: list[float] = []
    for name in ENGINE_METHODS:
        method = getattr(monitor, name, None)
        if method is None:
            continue

        def timed(request: Any, _method: Callable[[Any], Any] = method) -> Any:
            started = time.thread_time()
            try:
                return _method(request)
            finally:
                spent.append(time.thread_time() - started)

        setattr(monitor, name, timed)
    return spent


def child_program(identities: int, runbooks: int, preview: bool, own_schedules: bool = True) -> dict[str, Any]:
    """One `pulumi preview` of a new stack as the language host runs it: times, peak RSS, registrations and the registered classes."""
    started, cpu_started = time.perf_counter(), time.process_time()
    import pulumi
    import pulumi.runtime

    sys.path.insert(0, str(REPO))
    from pulumi.runtime.mocks import MockSettings

    # Timed: the mock's own module is small, and what it imports (cryptography) the program imports too.
    from tests.mock_tenant import MockTenant, TenantMonitor

    # Not timed: the engine's side (the config it hands over, the tenant it talks to).
    mock_started, mock_cpu_started = time.perf_counter(), time.process_time()
    tenant = MockTenant()
    tenant.begin(preview=preview)
    monitor = TenantMonitor(tenant)
    engine_cpu = time_engine_calls(monitor)
    config = config_for_pulumi(configuration(identities, runbooks, own_schedules))
    mock_seconds, mock_cpu = time.perf_counter() - mock_started, time.process_time() - mock_cpu_started

    # What pulumi-language-python-exec does before running the program (set_mocks without its own Stack: run_in_stack makes it).
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=pulumi.runtime.mocks.MockEngine(None),
            project=PROJECT,
            stack="dev",
            dry_run=preview,
            organization=None,
            callbacks=None,
        )
    )
    os.chdir(REPO)
    sys.argv = [str(REPO)]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def run_program() -> None:
        runpy.run_path(str(REPO), run_name="__main__")

    evaluation_started = time.perf_counter()
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(run_program))
    finally:
        loop.close()
    finished, cpu_finished = time.perf_counter(), time.process_time()
    rss = peak_rss_mib()

    import gc

    gc.unfreeze()  # resources frozen by a tuned collector are not listed by gc.get_objects
    classes = sorted({sdk_class(type(o)) for o in gc.get_objects() if isinstance(o, pulumi.Resource)})
    engine = sum(engine_cpu)
    return {
        # The language host's own work: the engine's side (the mock's answers to RPCs, on the executor's threads) left out.
        "wall": finished - started - mock_seconds - engine,
        "cpu": cpu_finished - cpu_started - mock_cpu - engine,
        "engine": engine,
        "process_wall": finished - started - mock_seconds,
        "process_cpu": cpu_finished - cpu_started - mock_cpu,
        "evaluation": finished - evaluation_started,
        "rss": rss,
        "registrations": len(tenant.registrations),
        "classes": classes,
    }


def child_counts(identities: int, runbooks: int, own_schedules: bool = True) -> dict[str, Any]:
    """Registrations of a `pulumi up` and invokes of the preview after it (a stack that exists: every look-up has its inputs).

    Counts only, so the tests' harness is fine here; the dependency graph of the `up` feeds the modelled critical path.
    """
    sys.path.insert(0, str(REPO))
    from tests.harness import evaluate
    from tests.mock_tenant import MockTenant

    async def up_then_preview() -> dict[str, Any]:
        tenant = MockTenant()
        config = configuration(identities, runbooks, own_schedules)
        up = await evaluate(tenant, preview=False, config=config)
        preview = await evaluate(tenant, preview=True, config=config)
        right_after_up = list(tenant.calls)
        # What every pipeline run does (preview.yml, deploy.yml, drift.yml): `pulumi preview --refresh`, once Azure has finished
        # the module import the `up` started.
        tenant.finish_imports()
        tenant.refresh()
        await evaluate(tenant, preview=True, config=config)
        return {
            "registrations": len(up.registrations),
            "custom": sum(1 for r in up.registrations if r.custom),
            "preview_registrations": len(preview.registrations),
            "invokes": len(tenant.calls),
            "invoke_tokens": sorted({token for token, _ in tenant.calls}),
            "invokes_right_after_up": len(right_after_up),
            "invoke_tokens_right_after_up": sorted({token for token, _ in right_after_up}),
            "graph": [
                {"urn": r.urn, "type": r.type, "custom": r.custom, "dependencies": list(r.dependencies), "parent": r.parent}
                for r in up.registrations
            ],
        }

    return asyncio.run(up_then_preview())


def child_imports(classes: list[str]) -> dict[str, Any]:
    """The baseline: import pulumi and the SDK classes the program registers, as the language host and the program would."""
    started, cpu_started = time.perf_counter(), time.process_time()
    import pulumi
    import pulumi.runtime  # the language host imports it before the program

    for spec in classes:
        module, qualname = spec.split(":")
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"wall": wall, "cpu": cpu, "rss": peak_rss_mib(), "pulumi": pulumi.__name__}


# The environment of the child processes: with bytecode caching on (the default), as in an installed virtualenv.
CHILD_ENVIRONMENT: dict[str, str] = dict(os.environ)


def cache_bytecode_in(directory: Path | None) -> None:
    """Let the children cache compiled modules in `directory`, outside the repository; None leaves the environment as it is.

    This workplace sets PYTHONDONTWRITEBYTECODE, so every fresh process would compile every module from source (~0.6 s of the dev
    stack's ~1.4 s), which a deployment's virtualenv does not: pip compiles on install, and Python caches on first import.
    """
    CHILD_ENVIRONMENT.clear()
    CHILD_ENVIRONMENT.update(os.environ)
    if directory is not None:
        CHILD_ENVIRONMENT.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENVIRONMENT["PYTHONPYCACHEPREFIX"] = str(directory)


def run_child(*args: str) -> dict[str, Any]:
    command = [sys.executable, __file__, *args]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO, env=CHILD_ENVIRONMENT).stdout  # noqa: S603
    return json.loads(output.strip().splitlines()[-1])


def program(identities: int, runbooks: int, schedules: str = "own") -> Callable[[], dict[str, Any]]:
    return lambda: run_child("--child", "program", "--identities", str(identities), "--runbooks", str(runbooks), "--schedules", schedules)


def counts(identities: int, runbooks: int, schedules: str = "own") -> dict[str, Any]:
    return run_child("--child", "counts", "--identities", str(identities), "--runbooks", str(runbooks), "--schedules", schedules)


# -- the modelled `pulumi up` ---------------------------------------------------------------------------------------------------
def critical_path(graph: list[dict[str, Any]], durations: dict[str, Any]) -> tuple[float, list[str]]:
    """The longest chain of creations, each starting when every resource it depends on exists (the engine's order for `up`).

    A resource's duration comes from resource_durations.json by type (components take no time); a component in the dependencies
    stands for its children, as the engine expands it.
    """
    by_urn = {node["urn"]: node for node in graph}
    children: dict[str, list[str]] = {}
    for node in graph:
        if node["parent"] in by_urn:
            children.setdefault(node["parent"], []).append(node["urn"])

    def expand(urn: str) -> list[str]:
        node = by_urn.get(urn)
        if node is None:
            return []
        if node["custom"]:
            return [urn]
        return [leaf for child in children.get(urn, []) for leaf in expand(child)]

    def duration(node: dict[str, Any]) -> float:
        if not node["custom"]:
            return 0.0
        entry = durations["types"].get(node["type"], durations["default"])
        return float(entry["seconds"])

    finish: dict[str, tuple[float, list[str]]] = {}

    def finish_of(urn: str) -> tuple[float, list[str]]:
        if urn not in finish:
            node = by_urn[urn]
            before = [finish_of(dep) for dep in {leaf for dep in node["dependencies"] for leaf in expand(dep)}]
            start, chain = max(before, default=(0.0, []))
            finish[urn] = (start + duration(node), [*chain, urn])
        return finish[urn]

    return max((finish_of(node["urn"]) for node in graph if node["custom"]), default=(0.0, []))


# -- report --------------------------------------------------------------------------------------------------------------------
def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def alternating(repeat: int, subjects: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Run every subject once per round, in turn, so that machine load drifts over all of them alike."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in subjects}
    for _ in range(repeat):
        for name, subject in subjects.items():
            results[name].append(subject())
    return results


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def measure(repeat: int, many: int, identity_counts: list[int], runbook_counts: list[int]) -> dict[str, Any]:
    """Every figure of the report, each from fresh child processes."""
    counted: dict[tuple[int, int], dict[str, Any]] = {}

    def counts_of(identities: int, runbooks: int) -> dict[str, Any]:
        if (identities, runbooks) not in counted:
            counted[identities, runbooks] = counts(identities, runbooks)
        return counted[identities, runbooks]

    classes = program(1, 0)()["classes"]  # also fills the bytecode cache, if there is one
    runs = alternating(
        repeat,
        {
            "imports": lambda: run_child("--child", "imports", "--classes", json.dumps(classes)),
            "dev": program(1, 0),
            "many": program(1, many),
            "shared": program(1, many, "shared"),
        },
    )
    durations = json.loads(DURATIONS.read_text(encoding="utf-8"))
    seconds, chain = critical_path(counts_of(1, 0)["graph"], durations)
    by_urn = {node["urn"]: node for node in counts_of(1, 0)["graph"]}
    figures: dict[str, Any] = {"python": sys.version.split()[0], "repeat": repeat, "many": many, "sdk_classes": classes}
    for name, samples in runs.items():
        for key in ("wall", "cpu", "rss", "engine", "process_wall", "process_cpu"):
            if key in samples[0]:
                figures[f"{name}_{key}"] = median(samples, key)
    # The same ratios over the whole process, the mock engine's answers included (an upper bound of the language host's share).
    figures["dev_ratio_process"] = figures["dev_process_wall"] / figures["imports_wall"]
    figures["many_ratio_process"] = figures["many_process_wall"] / figures["dev_process_wall"]
    figures["shared_ratio_process"] = figures["shared_process_wall"] / figures["dev_process_wall"]
    figures["dev_ratio_wall"] = figures["dev_wall"] / figures["imports_wall"]
    figures["dev_ratio_cpu"] = figures["dev_cpu"] / figures["imports_cpu"]
    figures["many_ratio_wall"] = figures["many_wall"] / figures["dev_wall"]
    figures["many_ratio_cpu"] = figures["many_cpu"] / figures["dev_cpu"]
    figures["shared_ratio_wall"] = figures["shared_wall"] / figures["dev_wall"]
    figures["shared_ratio_cpu"] = figures["shared_cpu"] / figures["dev_cpu"]
    shared = counts(1, many, "shared")
    figures["shared_registrations"] = shared["registrations"]
    figures["shared_invokes"] = shared["invokes"]
    figures["many_registrations"] = counts_of(1, many)["registrations"]
    figures["invokes_1"] = counts_of(1, 0)["invokes"]
    figures["invokes_10"] = counts_of(10, 0)["invokes"]
    figures["many_invokes"] = counts_of(1, many)["invokes"]
    figures["many_invoke_tokens"] = counts_of(1, many)["invoke_tokens"]
    figures["many_invokes_right_after_up"] = counts_of(1, many)["invokes_right_after_up"]
    figures["many_invoke_tokens_right_after_up"] = counts_of(1, many)["invoke_tokens_right_after_up"]
    figures["critical_path_seconds"] = seconds
    figures["critical_path"] = [
        {
            "resource": f"{by_urn[urn]['type'].split(':')[-1]} {short(urn)}",
            "seconds": durations["types"].get(by_urn[urn]["type"], durations["default"])["seconds"],
        }
        for urn in chain
    ]
    table = []
    # Two runbooks is the dev stack itself.
    shapes = [(n, 0) for n in identity_counts] + [(1, 0 if n == 2 else n) for n in runbook_counts]
    for identities, runbooks in shapes:
        timed = program(identities, runbooks)()
        row = {key: timed[key] for key in ("wall", "cpu", "rss", "engine")}
        row |= {"identities": identities, "runbooks": runbooks or 2}
        table.append(row | {key: counts_of(identities, runbooks)[key] for key in ("registrations", "custom", "invokes")})
    figures["table"] = table
    return figures


def report(figures: dict[str, Any]) -> str:
    many = figures["many"]
    lines = [
        f"Python {figures['python']}; medians of {figures['repeat']} alternating runs; `pulumi preview` of a new stack, language-host path;"
        f" bytecode {'cached' if figures.get('bytecode_cached') else 'compiled in every process'}",
        "Times are the language host's: the mock engine's answers to its RPCs (thread CPU time) left out, shown as 'engine'.",
        "                                              wall      CPU   peak RSS   engine",
    ]
    for label, name in [
        (f"pulumi + the {len(figures['sdk_classes'])} SDK classes registered", "imports"),
        ("dev stack", "dev"),
        (f"dev stack, {many} runbooks on its 2 schedules", "shared"),
        (f"dev stack, {many} runbooks on {many} schedules", "many"),
    ]:
        engine = f"{figures[f'{name}_engine']:6.2f} s" if f"{name}_engine" in figures else ""
        lines.append(
            f"{label:44s}{figures[f'{name}_wall']:6.2f} s {figures[f'{name}_cpu']:6.2f} s {figures[f'{name}_rss']:6.0f} MiB   {engine}"
        )
    lines += [
        f"dev stack / imports                         {figures['dev_ratio_wall']:6.2f}   {figures['dev_ratio_cpu']:6.2f}   (goal <= 1.25)"
        f"   whole process {figures['dev_ratio_process']:.2f}",
        f"{many} runbooks, 2 schedules / dev stack".ljust(44)
        + f"{figures['shared_ratio_wall']:6.2f}   {figures['shared_ratio_cpu']:6.2f}   (goal <= 2.5)"
        f"    whole process {figures['shared_ratio_process']:.2f}",
        f"{many} runbooks, {many} schedules / dev stack".ljust(44)
        + f"{figures['many_ratio_wall']:6.2f}   {figures['many_ratio_cpu']:6.2f}   (goal <= 2.5)"
        f"    whole process {figures['many_ratio_process']:.2f}",
        f"data-source invokes per `preview --refresh` (every pipeline run), {many} runbooks: {figures['many_invokes']} (goal <= 5);"
        f" right after an `up`, before Azure finished the module import: {figures['many_invokes_right_after_up']}",
        f"invokes with 10 identities / 1: {figures['invokes_10']} / {figures['invokes_1']}"
        f" = {figures['invokes_10'] / figures['invokes_1']:.2f}",
        f"modelled `pulumi up` critical path of the dev stack: {figures['critical_path_seconds']:.0f} s (goal <= 52)",
        *(f"    {step['seconds']:4.0f} s  {step['resource']}" for step in figures["critical_path"]),
        "identities runbooks registrations custom invokes/preview   wall    CPU  peak RSS  engine",
    ]
    for row in figures["table"]:
        lines.append(
            f"{row['identities']:10d} {row['runbooks']:8d} {row['registrations']:13d} {row['custom']:6d} {row['invokes']:15d}"
            f" {row['wall']:6.2f} {row['cpu']:6.2f} {row['rss']:6.0f} MiB {row['engine']:6.2f}"
        )
    return "\n".join(lines)


def numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--many", type=int, default=100, help="runbooks of the large configuration (the goal is stated for 100)")
    parser.add_argument("--identities", default="1,10,50", help="identity counts for the registrations table")
    parser.add_argument("--runbooks", default="2,25,100,400", help="runbook counts for the registrations table")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--compile-every-time", action="store_true", help="leave PYTHONDONTWRITEBYTECODE as it is: every child compiles every module"
    )
    parser.add_argument("--child", choices=["program", "counts", "imports"], help=argparse.SUPPRESS)
    parser.add_argument("--classes", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--schedules", choices=["own", "shared"], default="own", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "program":
        print(json.dumps(child_program(int(args.identities), int(args.runbooks), preview=True, own_schedules=args.schedules == "own")))
    elif args.child == "counts":
        print(json.dumps(child_counts(int(args.identities), int(args.runbooks), own_schedules=args.schedules == "own")))
    elif args.child == "imports":
        print(json.dumps(child_imports(json.loads(args.classes))))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
            cache_bytecode_in(None if args.compile_every_time else Path(pycache))
            figures = measure(args.repeat, args.many, numbers(args.identities), numbers(args.runbooks))
            figures["bytecode_cached"] = not args.compile_every_time
        print(report(figures))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
