"""`python -m podinit` is the same program as the `podinit` command."""

import sys

from podinit.cli import main

sys.exit(main())
