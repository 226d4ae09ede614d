"""``python -m auth``: its command line is ``apps.cli.auth`` (entry points sit above ops)."""
import sys

from apps.cli.auth import main

if __name__ == "__main__":
    sys.exit(main())
