"""``python -m data``: see :mod:`apps.cli.data`."""
import sys

from apps.cli.data import main

if __name__ == "__main__":
    sys.exit(main())
