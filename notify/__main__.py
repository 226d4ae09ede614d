"""``python -m notify``: its command line is ``apps.cli.notify`` (entry points sit above ops)."""
import sys

from apps.cli.notify import main

if __name__ == "__main__":
    sys.exit(main())
