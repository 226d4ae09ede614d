import sys

from scripts.cluster.manager import main

if __name__ == "__main__":
    sys.exit(main())
