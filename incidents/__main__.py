"""``python -m incidents``: the command line lives in ``apps.cli.incidents`` (entry points sit above the application layer)."""
import sys

from apps.cli.incidents import main

if __name__ == "__main__":
    sys.exit(main())
