"""`python -m zoomguard` is the `zoomguard` command."""

from zoomguard.cli import main

main(prog_name="zoomguard")
