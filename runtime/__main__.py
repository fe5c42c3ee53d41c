"""`python -m edgepack.runtime ...` is `edgepack-score ...`."""

from .cli import run

run()
