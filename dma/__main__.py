"""``python -m dma``: see :mod:`apps.cli.dma`."""
import sys

from apps.cli.dma import main

if __name__ == "__main__":
    sys.exit(main())
