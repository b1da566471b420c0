"""Entry point for `python -m certtool`."""

from certtool.cli import main

raise SystemExit(main())
