"""Run the ``ipamcore`` command as ``python -m ipamcore``."""

from ipamcore.cli import run

run()
