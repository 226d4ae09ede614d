"""``python -m gis.local_pg``: see :mod:`apps.cli.local_pg`."""
import sys

from apps.cli.local_pg import main

if __name__ == "__main__":
    sys.exit(main())
