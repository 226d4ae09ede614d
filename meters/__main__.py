"""``python -m meters``: see :mod:`apps.cli.meters`."""
import sys

from apps.cli.meters import main

if __name__ == "__main__":
    sys.exit(main())
