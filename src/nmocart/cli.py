"""The ``nmocart`` command line: a thin adapter that parses, calls the core, and renders."""

from __future__ import annotations

import typer

from nmocart.kinetics import cli as kinetics_cli
from nmocart.safety import cli as safety_cli

app = typer.Typer(
    name="nmocart",
    help="CD19 CAR-T for NMOSD (NCT05828212): screening, safety grading, cellular kinetics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(safety_cli.app, name="safety")
app.add_typer(kinetics_cli.app, name="kinetics")


def main() -> None:
    """Entry point of the ``nmocart`` script."""
    app()
