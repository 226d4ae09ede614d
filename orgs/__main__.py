"""``python -m orgs``: its command line is ``apps.cli.orgs`` (entry points sit above ops)."""
import sys

from apps.cli.orgs import main

if __name__ == "__main__":
    sys.exit(main())
