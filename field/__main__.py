"""``python -m field``: the crews' phone page's command line (``apps.cli.field``)."""
import sys

from apps.cli.field import main

if __name__ == "__main__":
    sys.exit(main())
