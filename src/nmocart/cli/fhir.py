"""``nmocart fhir``: FHIR R4 intake commands (records, synth)."""

from __future__ import annotations

import typer

from nmocart.cli import population as population_cli

app = typer.Typer(
    help="FHIR R4 intake: build screening records, synthesise a population.", no_args_is_help=True
)
app.command("synth")(population_cli.synth)
