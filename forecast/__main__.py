"""``python -m forecast``: see :mod:`forecast.cli`."""

import sys

from forecast.cli import main

sys.exit(main())
