"""Run the command line: `python -m cli` (the same as the `callout` console script)."""

from cli import main

main()
