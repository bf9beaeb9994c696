"""``python -m chalicelib.cli``: the operators' command line (the commands are in ``ops/cli.py``)."""

import sys

from chalicelib.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
