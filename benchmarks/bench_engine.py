"""Wall time of the real `pulumi preview` and `pulumi up` (the CLI scripts/build-pulumi-cli builds, emulated providers, as
tests/engine runs them) beside the SDK-only evaluation of the same stack (benchmarks/bench_program.py's child), in one run.

    EXO_ENGINE_CLI=$(bash scripts/build-pulumi-cli | tail -n 1) .venv/bin/python benchmarks/bench_engine.py [--json figures.json]

The engine's share is the part of the CLI's wall time that the program's own evaluation does not explain: 1 - SDK-only ÷ engine.
Not a test; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from bench_program import configuration, program  # noqa: E402

from tests.engine.project import EngineProject, cli_directory  # noqa: E402


def engine_run(cli: Path, config: dict[str, Any] | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="exo-engine-bench-") as root:
        project = EngineProject(Path(root), cli)
        try:
            project.pulumi("stack", "select", "dev", "--create")
            if config is not None:
                path = project.project / "Pulumi.dev.yaml"
                document = yaml.safe_load(path.read_text())
                document["config"] = config
                path.write_text(yaml.safe_dump(document, sort_keys=False))
            preview = project.pulumi("preview")
            up = project.pulumi("up", "--yes")
            again = project.pulumi("preview", "--expect-no-changes")
            return {"preview": preview.seconds, "up": up.seconds, "preview_after_up": again.seconds}
        finally:
            project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    cli = cli_directory()
    if cli is None:
        parser.error("set EXO_ENGINE_CLI to the folder scripts/build-pulumi-cli prints")
    figures: dict[str, Any] = {}
    for label, config, sdk in (
        ("dev stack", None, program(1, 0)),
        ("100 runbooks (dev schedules)", configuration(1, 100, own_schedules=False), program(1, 100, "shared")),
    ):
        engine = engine_run(cli, config)
        evaluation = sdk()["process_wall"]
        figures[label] = {
            **{k: round(v, 2) for k, v in engine.items()},
            "sdk_only_evaluation": round(evaluation, 2),
            "engine_share_of_preview": round(1 - evaluation / engine["preview"], 3),
        }
        print(label, json.dumps(figures[label]), flush=True)
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
