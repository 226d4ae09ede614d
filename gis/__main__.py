"""``python -m gis``: the tile server and the overviews' command line (``apps.cli.gis``)."""
import sys

from apps.cli.gis import main

if __name__ == "__main__":
    sys.exit(main())
