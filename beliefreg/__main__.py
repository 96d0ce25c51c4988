"""``python -m beliefreg``: the same command line as ``beliefreg``."""

import sys

from .cli import main

sys.exit(main())
