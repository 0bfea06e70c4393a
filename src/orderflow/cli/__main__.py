"""``python -m orderflow.cli``: the ``orderflow`` command."""

import sys

from orderflow.cli import main

sys.exit(main())
