"""`python -m harness`: the command-line tools around gate runs (see `harness.runs.cli`)."""

import sys

from harness.runs.cli import main

sys.exit(main())
