"""`python -m conformance` runs the command-line interface."""

from conformance.cli import main

raise SystemExit(main())
