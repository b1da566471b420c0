"""Real `pulumi preview` wall time of the 100-runbook stack with the program's SDK workaround on and off, in one run, alternating
the variants so that a busy machine slows them alike (issue 25's decision; figures in docs/benchmarks.md). Run it again when
tests/exo/test_evaluation_gc.py says the SDKs moved.

    EXO_ENGINE_CLI=$(bash scripts/build-pulumi-cli | tail -n 1) EXO_EMULATED_LATENCY_MS=20 \\
        .venv/bin/python benchmarks/bench_workarounds.py [--repeats 5] [--json figures.json]

Each variant is a project copy, the workaround's line taken out of __main__.py or not; the stack is new, so every preview plans
~330 creates. Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from tests.engine.project import EngineProject, cli_directory  # noqa: E402
from tests.engine.test_stacks import hundred_runbooks_stack  # noqa: E402

# The line each workaround adds to __main__.py, and what stands there without it. Issue 25 measured three (commit 57dcaea's version
# of this script: also `pulumi.run(evaluate)` and the provider-version-alias transformation, both since removed).
WORKAROUNDS = {
    "evaluation_gc": ("tune_collector_for_evaluation()\n", "\n"),
}
VARIANTS = {
    "with evaluation_gc": (),
    "without evaluation_gc": ("evaluation_gc",),
}


def prepared(root: Path, cli: Path, removed: tuple[str, ...]) -> EngineProject:
    project = EngineProject(root, cli)
    main = project.project / "__main__.py"
    text = main.read_text()
    for name in removed:
        line, replacement = WORKAROUNDS[name]
        assert text.count(line) == 1, f"{line!r} not found once in __main__.py"
        text = text.replace(line, replacement)
    main.write_text(text)
    project.pulumi("stack", "select", "dev", "--create")
    path = project.project / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"] = hundred_runbooks_stack()
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    cli = cli_directory()
    if cli is None:
        parser.error("set EXO_ENGINE_CLI to the folder scripts/build-pulumi-cli prints")
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="exo-workarounds-bench-") as root:
        projects = {name: prepared(Path(root) / str(index), cli, removed) for index, (name, removed) in enumerate(VARIANTS.items())}
        try:
            for project in projects.values():
                project.pulumi("preview")  # warm-up, not counted: compiled bytecode, page cache
            for repeat in range(options.repeats):
                order = list(projects) if repeat % 2 == 0 else list(reversed(projects))
                for name in order:
                    seconds = projects[name].pulumi("preview").seconds
                    times[name].append(round(seconds, 2))
                    print(repeat, name, round(seconds, 2), flush=True)
        finally:
            for project in projects.values():
                project.close()
    kept = statistics.median(times["with evaluation_gc"])
    figures: dict[str, Any] = {}
    for name, values in times.items():
        figures[name] = {"runs": values, "median": round(statistics.median(values), 2)}
    # What the tuning saves: the share of the wall time without it. Issue 25 keeps a workaround at 10% or more.
    figures["saved_by_evaluation_gc"] = round(1 - kept / figures["without evaluation_gc"]["median"], 3)
    print(json.dumps(figures, indent=2))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
