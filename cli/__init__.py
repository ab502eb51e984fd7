"""The `callout` command line: the group (`cli.group`), with commands registered by the modules beside it."""

from __future__ import annotations

from typing import Any

# Each module registers its commands on the group when imported.
from cli import basics, calendar, printing, privacy, report, roster, roster_members, serve, user  # noqa: F401
from cli.group import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> Any:
    """Run the command line."""
    return cli.main(args=argv, prog_name="callout")
