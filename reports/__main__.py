"""``python -m reports``: the command line is :mod:`apps.cli.reports`."""

import sys

from apps.cli.reports import main

if __name__ == "__main__":
    sys.exit(main())
