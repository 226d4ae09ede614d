"""``python -m notify``: the command line lives in ``apps.cli.notify`` (entry points sit above the application layer)."""
import sys

from apps.cli.notify import main

if __name__ == "__main__":
    sys.exit(main())
