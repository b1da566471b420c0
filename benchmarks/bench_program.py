"""Benchmark: the whole program under Pulumi's mocks, as one process, against importing the same SDK modules alone.

Reports wall time and peak RSS of each, their ratio (goal: program/import <= 1.3), and the evaluation time with 10 identities
against 1. Every measurement runs in a fresh child process; figures are medians of --repeat runs. Not a test: numbers go in the README.

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
SDK_PREFIXES = ("pulumi", "pulumi_azuread", "pulumi_tls", "pulumi_azure_native", "cryptography", "yaml")


def identities_config(count: int) -> dict[str, Any]:
    return {"identities": [{"name": f"id{index}", "roles": ["Exchange Administrator"]} for index in range(count)]}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_program(count: int, extra: dict[str, Any], preload: list[str]) -> dict[str, Any]:
    """Evaluate the program once as `pulumi up` would (a plain event loop, as the language host runs it); report times and modules.

    With `preload`, those modules are imported first so that the evaluation time excludes imports.
    """
    started = time.perf_counter()
    for name in preload:
        importlib.import_module(name)
    sys.path.insert(0, str(REPO))
    from tests.harness import evaluate
    from tests.mock_tenant import MockTenant

    evaluation_started = time.perf_counter()
    asyncio.run(evaluate(MockTenant(), preview=False, config={**identities_config(count), **extra}))
    finished = time.perf_counter()
    modules = sorted({name for name in sys.modules if name.split(".")[0] in SDK_PREFIXES})
    return {"wall": finished - started, "evaluation": finished - evaluation_started, "rss": peak_rss_mib(), "modules": modules}


def child_imports(modules: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return {"wall": time.perf_counter() - started, "rss": peak_rss_mib()}


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
    parser.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--modules", default="[]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "program":
        print(json.dumps(child_program(args.count, json.loads(args.extra), json.loads(args.modules))))
        return
    if args.child == "imports":
        print(json.dumps(child_imports(json.loads(args.modules))))
        return

    one = [run_child("--child", "program", "--count", "1") for _ in range(args.repeat)]
    modules = one[0]["modules"]
    imports = [run_child("--child", "imports", "--modules", json.dumps(modules)) for _ in range(args.repeat)]
    # Evaluation alone: SDK modules loaded before the clock starts.
    loaded = ["--modules", json.dumps(modules)]
    one_eval = [run_child("--child", "program", "--count", "1", *loaded) for _ in range(args.repeat)]
    ten = [run_child("--child", "program", "--count", "10", *loaded) for _ in range(args.repeat)]

    program_wall, import_wall = median(one, "wall"), median(imports, "wall")
    program_rss, import_rss = median(one, "rss"), median(imports, "rss")
    print(f"python {sys.version.split()[0]}, {args.repeat} runs each, medians; {len(modules)} SDK modules loaded by the program")
    print(f"import the SDK modules alone : {import_wall:6.2f} s  peak RSS {import_rss:6.0f} MiB")
    print(f"whole program, 1 identity    : {program_wall:6.2f} s  peak RSS {program_rss:6.0f} MiB")
    print(f"ratio program / imports      : {program_wall / import_wall:6.2f} wall  {program_rss / import_rss:6.2f} RSS  (goal <= 1.3)")
    single, tenfold = median(one_eval, "evaluation"), median(ten, "evaluation")
    print(f"evaluation, 1 identity       : {single:6.2f} s  (modules preloaded)")
    print(f"evaluation, 10 identities    : {tenfold:6.2f} s  ({tenfold / single:.1f}x)  peak RSS {median(ten, 'rss'):6.0f} MiB")


if __name__ == "__main__":
    main()
