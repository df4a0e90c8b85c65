"""``python -m asgibridge``: the command line (see `asgibridge._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
