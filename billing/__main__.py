"""``python -m billing``: the command line is :mod:`apps.cli.billing`."""

import sys

from apps.cli.billing import main

if __name__ == "__main__":
    sys.exit(main())
