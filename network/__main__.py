"""``python -m network``: see :mod:`apps.cli.network`."""
import sys

from apps.cli.network import main

if __name__ == "__main__":
    sys.exit(main())
