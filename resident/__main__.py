"""``python -m resident``: the residents' page's command line (``apps.cli.resident``)."""
import sys

from apps.cli.resident import main

if __name__ == "__main__":
    sys.exit(main())
