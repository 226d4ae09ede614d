"""``python -m incidents``: its command line is ``apps.cli.incidents`` (entry points sit above ops)."""
import sys

from apps.cli.incidents import main

if __name__ == "__main__":
    sys.exit(main())
