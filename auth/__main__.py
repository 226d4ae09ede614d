"""``python -m auth``: the command line lives in ``apps.cli.auth`` (entry points sit above the application layer)."""
import sys

from apps.cli.auth import main

if __name__ == "__main__":
    sys.exit(main())
