"""``python -m meters``: see :mod:`meters.cli`."""

import sys

from meters.cli import main

sys.exit(main())
