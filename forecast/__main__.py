"""``python -m forecast``: see :mod:`apps.cli.forecast`."""
import sys

from apps.cli.forecast import main

if __name__ == "__main__":
    sys.exit(main())
