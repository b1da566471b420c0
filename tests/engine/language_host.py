"""A stand-in for the Python language host (`pulumi-language-python`), which the Go module proxy does not serve.

The CLI connects to it with the hidden `--client=ADDR` flag of preview/up/refresh/destroy. It is the SDK's own LanguageServer
(pulumi.automation._server) except for Run: like the real host, each Run starts a new Python process that executes the release's
`pulumi-language-python-exec` script (copied beside the CLI by scripts/build-pulumi-cli) on the project's `__main__.py`, with the
same arguments and the config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. So the program runs exactly as `pulumi up` runs it.

Run: python -m tests.engine.language_host --exec-script PATH --python PATH --project-dir DIR; prints the port, serves until killed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent import futures
from typing import Any

import grpc
from pulumi.automation._server import LanguageServer  # pyright: ignore[reportPrivateUsage]
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

# The exec script's exit code for "an error the program already reported to the engine" (sdk/python/cmd/pulumi-language-python-exec).
ALREADY_REPORTED = 32


class ExecScriptLanguageHost(LanguageServer):
    def __init__(self, exec_script: str, python: str, project_dir: str) -> None:
        super().__init__(program=lambda: None)
        self.exec_script = exec_script
        self.python = python
        self.project_dir = project_dir

    def Run(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        args = [
            self.python,
            "-u",
            self.exec_script,
            f"--monitor={request.monitor_address}",
            f"--engine={request.args[0] if request.args else ''}",
            f"--project={request.project}",
            f"--stack={request.stack}",
            f"--parallel={request.parallel}",
            f"--dry_run={'true' if request.dryRun else 'false'}",
            f"--root_directory={self.project_dir}",
            f"--organization={request.organization or 'organization'}",
            f"--pwd={self.project_dir}",
            ".",
        ]
        env = {
            **os.environ,
            "PULUMI_CONFIG": json.dumps(dict(request.config)),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys)),
            # The program's own import path (not this host's, which imports the test package).
            "PYTHONPATH": os.environ.get("EXO_PROGRAM_PYTHONPATH", ""),
        }
        done = subprocess.run(args, cwd=self.project_dir, env=env, capture_output=True, text=True, check=False)
        # What the program printed: the real host forwards it to the engine's log; here it goes to this process's stderr.
        sys.stderr.write(done.stdout + done.stderr)
        sys.stderr.flush()
        if done.returncode == 0:
            return language_pb2.RunResponse()
        if done.returncode == ALREADY_REPORTED:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with code {done.returncode}: {done.stderr.strip()[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exec-script", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--project-dir", required=True)
    options = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    host = ExecScriptLanguageHost(options.exec_script, options.python, options.project_dir)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
