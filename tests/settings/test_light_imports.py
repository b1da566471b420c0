"""Parsing config needs no provider SDK: settings/ takes its spec types from exo/specs.py, never from components/."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO


def test_settings_load_no_provider_sdk_and_no_component() -> None:
    probe = "import sys, settings.stack; print(' '.join(sorted(m for m in sys.modules if m.startswith(('pulumi_', 'components')))))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
