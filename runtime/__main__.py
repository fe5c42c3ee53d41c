"""`python -m edgepack.runtime ...` is `edgepack-score ...`."""

import sys

from .cli import main

sys.exit(main())
