"""The ``lattice`` command line.

>>> from click.testing import CliRunner
>>> from lattice.cli import main
>>> CliRunner().invoke(main, ["version"]).output.startswith("lattice ")
True
"""

from __future__ import annotations

import click
from rich.console import Console

from lattice import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lattice: Byzantine-tolerant peer-to-peer replication."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"lattice {__version__}")


@main.command()
@click.option(
    "--rounds",
    default=None,
    type=click.IntRange(min=1),
    help="Entries per peer (default 10,000).",
)
def demo(rounds: int | None) -> None:
    """Sign, entangle, batch-verify and validate tens of thousands of entries."""
    from lattice.demo import DEFAULT_ROUNDS, run_demo

    summary = run_demo(Console(soft_wrap=True), rounds=rounds or DEFAULT_ROUNDS)
    if not (summary.all_signatures_valid and summary.chains_valid):
        raise click.ClickException("the demo's own entries did not verify")


if __name__ == "__main__":
    main()
