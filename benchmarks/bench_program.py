"""Benchmark: the whole program under Pulumi's mocks, as one process, against importing the same SDK modules alone.

Reports wall time and peak RSS of each, their ratio (goal: program/import <= 1.3), the evaluation time with 10 identities
against 1, and an Automation account with 100 scheduled runbooks against one with 2 (goal <= 3x). Every measurement runs in a
fresh child process; figures are medians of --repeat runs. Not a test: numbers go in the README.

    .venv/bin/python benchmarks/bench_program.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The program's own code and its test harness; everything else it loads (SDKs, their dependencies, the stdlib) is the baseline.
OWN_PREFIXES = ("components", "tests", "__main__", "bench_program")


def identities_config(count: int) -> dict[str, Any]:
    return {"identities": [{"name": f"id{index}", "roles": ["Exchange Administrator"]} for index in range(count)]}


def runbooks_config(count: int) -> dict[str, Any]:
    """An Automation account running the shipped forwarding audit as `count` runbooks, each on its own schedule."""
    runbooks = [
        {
            "name": f"Audit{index:03d}",
            "file": "runbooks/Invoke-ForwardingAudit.ps1",
            "parameters": {"OutputFormat": "JsonLines"},
            "schedule": {"frequency": "Day", "time": f"{index % 24:02d}:{index % 60:02d}", "timeZone": "Europe/Berlin"},
        }
        for index in range(count)
    ]
    return {"automation": {"location": "westeurope", "runbooks": runbooks}}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_program(count: int, runbooks: int, warm: bool) -> dict[str, Any]:
    """Evaluate the program once as `pulumi up` would (a plain event loop, as the language host runs it); report times and modules.

    With `warm`, a first evaluation of the same configuration loads every module, so the measured one is evaluation alone.
    """
    started = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from tests.harness import evaluate
    from tests.mock_tenant import MockTenant

    evaluation_started = time.perf_counter()
    config = identities_config(count)
    if runbooks:
        config.update(runbooks_config(runbooks))
    if warm:
        asyncio.run(evaluate(MockTenant(), preview=False, config=config))
        evaluation_started = time.perf_counter()
    asyncio.run(evaluate(MockTenant(), preview=False, config=config))
    finished = time.perf_counter()
    # In import order: replaying it imports the same modules the same way (azure-native loads its submodules lazily).
    modules = [name for name in sys.modules if name.split(".")[0] not in OWN_PREFIXES and name not in sys.builtin_module_names]
    return {"wall": finished - started, "evaluation": finished - evaluation_started, "rss": peak_rss_mib(), "modules": modules}


def child_imports(modules: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    skipped = 0
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # aliases such as os.path's platform module are registered under another name
            skipped += 1
    return {"wall": time.perf_counter() - started, "rss": peak_rss_mib(), "skipped": skipped}


def run_child(*args: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=REPO).stdout  # noqa: S603
    return json.loads(output.strip().splitlines()[-1])


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=["program", "imports"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--modules", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--runbooks", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "program":
        print(json.dumps(child_program(args.count, args.runbooks, args.warm)))
        return
    if args.child == "imports":
        print(json.dumps(child_imports(json.loads(args.modules))))
        return

    one = [run_child("--child", "program", "--count", "1") for _ in range(args.repeat)]
    modules = one[0]["modules"]
    imports = [run_child("--child", "imports", "--modules", json.dumps(modules)) for _ in range(args.repeat)]
    one_eval = [run_child("--child", "program", "--count", "1", "--warm") for _ in range(args.repeat)]
    ten = [run_child("--child", "program", "--count", "10", "--warm") for _ in range(args.repeat)]
    # Automation: an account with 2 runbooks (the example stack's size) against one with 100, whole process and evaluation alone.
    default = [run_child("--child", "program", "--runbooks", "2") for _ in range(args.repeat)]
    hundred = [run_child("--child", "program", "--runbooks", "100") for _ in range(args.repeat)]
    default_eval = [run_child("--child", "program", "--runbooks", "2", "--warm") for _ in range(args.repeat)]
    hundred_eval = [run_child("--child", "program", "--runbooks", "100", "--warm") for _ in range(args.repeat)]

    program_wall, import_wall = median(one, "wall"), median(imports, "wall")
    program_rss, import_rss = median(one, "rss"), median(imports, "rss")
    print(f"python {sys.version.split()[0]}, {args.repeat} runs each, medians; the program loads {len(modules)} modules besides its own")
    print(f"import those modules alone   : {import_wall:6.2f} s  peak RSS {import_rss:6.0f} MiB")
    print(f"whole program, 1 identity    : {program_wall:6.2f} s  peak RSS {program_rss:6.0f} MiB")
    print(f"ratio program / imports      : {program_wall / import_wall:6.2f} wall  {program_rss / import_rss:6.2f} RSS  (goal <= 1.3)")
    single, tenfold = median(one_eval, "evaluation"), median(ten, "evaluation")
    print(f"evaluation, 1 identity       : {single:6.2f} s  (modules preloaded)")
    print(f"evaluation, 10 identities    : {tenfold:6.2f} s  ({tenfold / single:.1f}x)  peak RSS {median(ten, 'rss'):6.0f} MiB")
    base, many = median(default, "wall"), median(hundred, "wall")
    print(f"whole program, 2 runbooks    : {base:6.2f} s  peak RSS {median(default, 'rss'):6.0f} MiB")
    print(f"whole program, 100 runbooks  : {many:6.2f} s  ({many / base:.1f}x, goal <= 3x)  peak RSS {median(hundred, 'rss'):6.0f} MiB")
    base, many = median(default_eval, "evaluation"), median(hundred_eval, "evaluation")
    print(f"evaluation, 2 -> 100 runbooks: {base:6.2f} s -> {many:6.2f} s ({many / base:.1f}x)")


if __name__ == "__main__":
    main()
