"""Run the ``ipamcore`` command as ``python -m ipamcore``."""

from ipamcore.cli import main

main(prog_name="ipamcore")
